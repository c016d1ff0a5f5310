/**
 * The `ar` archive a .deb is (deb(5)): the global header, then for each member a 60-byte header
 * and the data padded to an even length. Names are written the way dpkg-deb writes them
 * (no trailing slash, space-padded), with the given mtime, uid/gid 0 and mode 100644.
 */
import { UserError } from '../lib/errors.ts';

export interface ArMember {
  name: string;
  data: Buffer;
}

function field(value: string | number, width: number, what: string): string {
  const s = String(value);
  if (s.length > width)
    throw new UserError(
      `ar member ${what} \`${s}\` is longer than ${width} characters`,
      'Member names in a .deb are short (debian-binary, control.tar.gz, data.tar.gz).',
    );
  return s.padEnd(width, ' ');
}

export function ar(members: readonly ArMember[], mtime: number): Buffer {
  const out: Buffer[] = [Buffer.from('!<arch>\n', 'latin1')];
  for (const m of members) {
    const head =
      field(m.name, 16, 'name') +
      field(Math.trunc(mtime), 12, 'mtime') +
      field(0, 6, 'uid') +
      field(0, 6, 'gid') +
      field('100644', 8, 'mode') +
      field(m.data.length, 10, 'size') +
      '`\n';
    out.push(Buffer.from(head, 'latin1'), m.data);
    if (m.data.length % 2) out.push(Buffer.from('\n'));
  }
  return Buffer.concat(out);
}

/** Read an ar archive back (for tests and checks): member names and data, in order. */
export function readAr(buf: Buffer): ArMember[] {
  if (buf.subarray(0, 8).toString('latin1') !== '!<arch>\n') throw new Error('not an ar archive');
  const out: ArMember[] = [];
  let off = 8;
  while (off + 60 <= buf.length) {
    const head = buf.subarray(off, off + 60).toString('latin1');
    const name = head.slice(0, 16).trim().replace(/\/$/, '');
    const size = Number(head.slice(48, 58).trim());
    off += 60;
    out.push({ name, data: buf.subarray(off, off + size) });
    off += size + (size % 2);
  }
  return out;
}
