/** SHA256SUMS in the format `sha256sum -c` reads: `<hex>  <name>`, sorted by name. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export { SUMS_FILE } from '../lib/plan.ts';

export function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Sums for the named files in dir; `known` supplies hashes already computed from memory. */
export function sha256sums(dir: string, names: readonly string[], known: ReadonlyMap<string, string> = new Map()): string {
  return [...names]
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((n) => `${known.get(n) ?? sha256File(path.join(dir, n))}  ${n}\n`)
    .join('');
}

export function parseSha256sums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
}
