/**
 * DEFLATE pieces that are compressed once and spliced into many archives.
 *
 * Every format we ship (tar.gz, .deb, .ipk, npm .tgz, zip) holds the same 100+ MB binary, and
 * compressing it is nearly all of packaging's time. A DEFLATE stream is a sequence of blocks, and
 * a block that ends on a byte boundary (a zlib "sync flush") can be followed by blocks compressed
 * separately: so the binary is compressed once, in parallel chunks like pigz, and each archive is
 * `gzip header + deflate(its own headers) + the shared binary blocks + deflate(the rest) + final
 * block + CRC32/size`. The result is one ordinary gzip member that every reader accepts.
 * Chunk boundaries are fixed, so the output does not depend on the number of threads.
 */
import * as zlib from 'node:zlib';

/** Raw DEFLATE blocks ending byte-aligned without a final block, plus what the gzip trailer needs. */
export interface Deflated {
  data: Buffer;
  crc: number;
  /** Uncompressed length. */
  size: number;
}

const LEVEL = 9;
/** Chunk size for parallel compression; each chunk is primed with the 32 KiB before it. */
const CHUNK = 4 * 1024 * 1024;
const WINDOW = 32 * 1024;
/** An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

export const EMPTY: Deflated = { data: Buffer.alloc(0), crc: 0, size: 0 };

let table: Uint32Array | undefined;

/** CRC-32 (zlib's, hardware-assisted; a table fallback for Node 20 before 20.15). */
export function crc32(data: Buffer, initial = 0): number {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(data, initial) >>> 0;
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n += 1) {
      let c = n;
      for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = ~initial >>> 0;
  for (const b of data) c = table[(c ^ b) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function deflateChunk(input: Buffer, dictionary?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Sync flush: byte-aligned, not final, so the next piece can follow directly.
    zlib.deflateRaw(input, { level: LEVEL, memLevel: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH, ...(dictionary ? { dictionary } : {}) }, (e, out) =>
      e ? reject(e) : resolve(out),
    );
  });
}

/**
 * Compress a large buffer in parallel chunks (libuv's thread pool), once, for sharing.
 * `onProgress` hears the uncompressed bytes done after each chunk (chunks finish in any order).
 */
export async function deflateShared(input: Buffer, onProgress?: (done: number, total: number) => void): Promise<Deflated> {
  if (input.length === 0) return EMPTY;
  const jobs: Promise<Buffer>[] = [];
  let done = 0;
  for (let off = 0; off < input.length; off += CHUNK) {
    const dict = off === 0 ? undefined : input.subarray(Math.max(0, off - WINDOW), off);
    const chunk = input.subarray(off, Math.min(input.length, off + CHUNK));
    jobs.push(
      deflateChunk(chunk, dict).then((out) => {
        done += chunk.length;
        onProgress?.(done, input.length);
        return out;
      }),
    );
  }
  const parts = await Promise.all(jobs);
  return { data: Buffer.concat(parts), crc: crc32(input), size: input.length };
}

/** Compress a small buffer (headers, docs, control files) synchronously. */
export function deflateSmall(input: Buffer): Deflated {
  if (input.length === 0) return EMPTY;
  const data = zlib.deflateRawSync(input, { level: LEVEL, memLevel: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return { data, crc: crc32(input), size: input.length };
}

/**
 * Stored (uncompressed) blocks, for data that is already compressed (the data.tar.gz inside an
 * .ipk): gzip -9 would spend seconds finding nothing to compress and emit stored blocks anyway.
 */
export function stored(input: Buffer): Deflated {
  if (input.length === 0) return EMPTY;
  const parts: Buffer[] = [];
  for (let off = 0; off < input.length; off += 0xffff) {
    const len = Math.min(0xffff, input.length - off);
    const head = Buffer.alloc(5);
    head[0] = 0x00; // BFINAL=0, BTYPE=00; the rest of the byte is padding to the boundary
    head.writeUInt16LE(len, 1);
    head.writeUInt16LE(~len & 0xffff, 3);
    parts.push(head, input.subarray(off, off + len));
  }
  return { data: Buffer.concat(parts), crc: crc32(input), size: input.length };
}

/** zlib's crc32_combine: the CRC of A+B from crc(A), crc(B) and len(B), without reading A or B. */
export function crc32Combine(crcA: number, crcB: number, lenB: number): number {
  if (lenB <= 0) return crcA >>> 0;
  const times = (mat: Uint32Array, vec: number): number => {
    let sum = 0;
    for (let i = 0; vec !== 0; i += 1, vec >>>= 1) if (vec & 1) sum ^= mat[i]!;
    return sum >>> 0;
  };
  const square = (sq: Uint32Array, mat: Uint32Array): void => {
    for (let n = 0; n < 32; n += 1) sq[n] = times(mat, mat[n]!);
  };
  const even = new Uint32Array(32);
  const odd = new Uint32Array(32);
  odd[0] = 0xedb88320; // the CRC-32 polynomial: operator for one zero bit
  for (let n = 1, row = 1; n < 32; n += 1, row <<= 1) odd[n] = row >>> 0;
  square(even, odd); // two zero bits
  square(odd, even); // four zero bits
  let crc = crcA >>> 0;
  let len = lenB;
  do {
    square(even, odd);
    if (len & 1) crc = times(even, crc);
    len = Math.floor(len / 2);
    if (len === 0) break;
    square(odd, even);
    if (len & 1) crc = times(odd, crc);
    len = Math.floor(len / 2);
  } while (len !== 0);
  return (crc ^ crcB) >>> 0;
}

/** Pieces in order, joined into one finished raw DEFLATE stream (what a zip entry holds). */
export function finishRaw(pieces: readonly Deflated[]): { data: Buffer; crc: number; size: number } {
  let crc = 0;
  let size = 0;
  for (const p of pieces) {
    crc = crc32Combine(crc, p.crc, p.size);
    size += p.size;
  }
  return { data: Buffer.concat([...pieces.map((p) => p.data), FINAL_BLOCK]), crc, size };
}

/**
 * One gzip member from pieces: the header says what `gzip -n` says (no name, no time, XFL=2 for
 * maximum compression, OS=3 Unix whatever this machine is), so the bytes depend only on the input.
 */
export function gzipMember(pieces: readonly Deflated[]): Buffer {
  const raw = finishRaw(pieces);
  const header = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x02, 0x03]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(raw.crc, 0);
  trailer.writeUInt32LE(raw.size % 2 ** 32, 4);
  return Buffer.concat([header, raw.data, trailer]);
}

/** gzip of a small buffer in one call (changelog.Debian.gz and friends). */
export function gzipSmall(input: Buffer): Buffer {
  return gzipMember([deflateSmall(input)]);
}
