/**
 * Reproducible tar archives. Headers are node-tar's (`Header`, ustar with its prefix field for
 * long names), filled in the way node-tar's `portable` mode intends but stricter: every entry
 * gets an explicit mode, uid/gid 0 with no user or group names, the one SOURCE_DATE_EPOCH mtime,
 * and entries are written in the order given (callers sort). We write the stream ourselves rather
 * than through `tar.c()` because `tar.c()` reads and compresses each file itself, and the binary
 * must be compressed once and spliced into every archive (see deflate.ts).
 */
import { Header } from 'tar';
import { UserError } from '../lib/errors.ts';
import { deflateSmall, gzipMember, stored, type Deflated } from './deflate.ts';

/** File content: bytes, or bytes with their already-compressed form (the shared binary). */
export type Content = Buffer | { raw: Buffer; deflated: Deflated };

export interface TarEntry {
  /** Path inside the archive, e.g. `./usr/bin/codex-litellm` or `package/README.md`; directories end in `/`. */
  path: string;
  mode: number;
  content?: Content;
  /** Store rather than compress (the content is already compressed). */
  incompressible?: boolean;
}

export function rawOf(c: Content | undefined): Buffer {
  if (!c) return Buffer.alloc(0);
  return Buffer.isBuffer(c) ? c : c.raw;
}

function header(e: TarEntry, size: number, mtime: Date): Buffer {
  const isDir = e.path.endsWith('/');
  const h = new Header({
    path: e.path,
    mode: e.mode,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    size: isDir ? 0 : size,
    mtime,
    type: isDir ? 'Directory' : 'File',
  });
  const block = Buffer.alloc(512);
  if (h.encode(block, 0)) {
    throw new UserError(`tar entry ${e.path} does not fit a ustar header`, 'Keep package paths under 255 characters (prefix 155 + name 100).');
  }
  return block;
}

const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);

/**
 * The archive as an ordered list of pieces: plain bytes to compress here, and pieces that are
 * already compressed (or must be stored). Consecutive plain bytes are merged so each small run is
 * compressed as one block sequence.
 */
interface Segments {
  pieces: (Buffer | Deflated)[];
  /** Uncompressed length of the whole tar. */
  size: number;
}

function segments(entries: readonly TarEntry[], mtime: Date): Segments {
  const pieces: (Buffer | Deflated)[] = [];
  let pending: Buffer[] = [];
  let size = 0;
  const flush = (): void => {
    if (pending.length) pieces.push(Buffer.concat(pending));
    pending = [];
  };
  const plain = (b: Buffer): void => {
    pending.push(b);
    size += b.length;
  };
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.path)) throw new Error(`duplicate tar entry ${e.path}`);
    seen.add(e.path);
    const raw = rawOf(e.content);
    plain(header(e, raw.length, mtime));
    if (e.path.endsWith('/') || raw.length === 0) continue;
    if (e.content && !Buffer.isBuffer(e.content)) {
      flush();
      pieces.push(e.content.deflated);
      size += raw.length;
    } else if (e.incompressible) {
      flush();
      pieces.push(stored(raw));
      size += raw.length;
    } else {
      plain(raw);
    }
    plain(pad(raw.length));
  }
  // Two zero blocks end the archive; GNU tar pads to 10 KiB records, which readers do not need.
  plain(Buffer.alloc(1024));
  flush();
  return { pieces, size };
}

export interface TarGz {
  data: Buffer;
  /** Length of the uncompressed tar (opkg's Installed-Size is this, as ipkg-build computes it). */
  tarSize: number;
}

export function tarGz(entries: readonly TarEntry[], mtime: Date): TarGz {
  const s = segments(entries, mtime);
  return { data: gzipMember(s.pieces.map((p) => (Buffer.isBuffer(p) ? deflateSmall(p) : p))), tarSize: s.size };
}

/** An uncompressed tar (tests, and callers that compress differently). */
export function tar(entries: readonly TarEntry[], mtime: Date): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const raw = rawOf(e.content);
    out.push(header(e, raw.length, mtime));
    if (!e.path.endsWith('/') && raw.length) out.push(raw, pad(raw.length));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

/** Directory entries for every parent of the given paths (`./a/b/c` -> `./`, `./a/`, `./a/b/`). */
export function parentDirs(paths: readonly string[], root = './'): string[] {
  const dirs = new Set<string>();
  if (root) dirs.add(root);
  for (const p of paths) {
    const parts = p.replace(/\/$/, '').split('/');
    for (let i = 1; i < parts.length; i += 1) {
      const d = `${parts.slice(0, i).join('/')}/`;
      if (d !== './' || root) dirs.add(d);
    }
  }
  return [...dirs];
}

/** Sort entries the way `tar --sort=name` does: bytewise by path. */
export function sortEntries<T extends { path: string }>(entries: readonly T[]): T[] {
  return [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}
