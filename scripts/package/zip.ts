/**
 * A small zip writer for the Windows archives: deflated entries (the shared binary blocks reused,
 * see deflate.ts), no data descriptors, no zip64 (entries stay far below 4 GiB), "made by Unix"
 * so the modes survive for unzip(1), and the one fixed timestamp as an MS-DOS date in UTC.
 */
import { UserError } from '../lib/errors.ts';
import { deflateSmall, finishRaw } from './deflate.ts';
import { rawOf, type Content } from './tarball.ts';

export interface ZipEntry {
  /** Path inside the archive, `/`-separated; directories end in `/`. */
  path: string;
  mode: number;
  content?: Content;
}

/** MS-DOS date and time (2-second resolution, 1980..2107); zip has no time zone, so UTC. */
export function dosDateTime(epochSeconds: number): { date: number; time: number } {
  const d = new Date(Math.max(epochSeconds, 315532800) * 1000); // not before 1980-01-01
  return {
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
  };
}

const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};

export function zip(entries: readonly ZipEntry[], epochSeconds: number): Buffer {
  const { date, time } = dosDateTime(epochSeconds);
  const local: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const isDir = e.path.endsWith('/');
    const name = Buffer.from(e.path, 'utf8');
    const raw = rawOf(e.content);
    let method = 0;
    let data: Buffer = Buffer.alloc(0);
    let crc = 0;
    if (!isDir && raw.length > 0) {
      const pieces = e.content && !Buffer.isBuffer(e.content) ? [e.content.deflated] : [deflateSmall(raw)];
      const done = finishRaw(pieces);
      method = 8;
      data = done.data;
      crc = done.crc;
    }
    if (raw.length >= 0xffffffff || data.length >= 0xffffffff || offset >= 0xffffffff) {
      throw new UserError(`${e.path} is too large for a zip without zip64`, 'Archives of more than 4 GiB are not supported.');
    }
    // Bit 11: names are UTF-8 (set only when they are not plain ASCII, as zip tools do).
    const flags = /^[\x20-\x7e]*$/.test(e.path) ? 0 : 0x0800;
    const common = Buffer.concat([
      u16(20),
      u16(flags),
      u16(method),
      u16(time),
      u16(date),
      u32(crc),
      u32(data.length),
      u32(raw.length),
      u16(name.length),
      u16(0),
    ]);
    local.push(u32(0x04034b50), common, name, data);
    const unixMode = (isDir ? 0o040000 : 0o100000) | (e.mode & 0o7777);
    const external = ((unixMode << 16) >>> 0) | (isDir ? 0x10 : 0);
    central.push(u32(0x02014b50), u16((3 << 8) | 20), common, u16(0), u16(0), u16(0), u32(external), u32(offset), name);
    offset += 4 + common.length + name.length + data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.concat([u32(0x06054b50), u16(0), u16(0), u16(entries.length), u16(entries.length), u32(cd.length), u32(offset), u16(0)]);
  return Buffer.concat([...local, cd, end]);
}
