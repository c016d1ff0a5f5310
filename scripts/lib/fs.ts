/** Small file helpers: every write goes to a temporary name first and is renamed into place. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function fileSha256(file: string): string | undefined {
  try {
    return sha256(fs.readFileSync(file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

let tmpCounter = 0;
export function tmpName(target: string): string {
  tmpCounter += 1;
  return `${target}.tmp-${process.pid}-${tmpCounter}`;
}

/** Write atomically: readers see the old file or the new one, never half of one. */
export function writeFileAtomic(target: string, data: string | Buffer, mode?: number): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tmpName(target);
  try {
    fs.writeFileSync(tmp, data, mode === undefined ? undefined : { mode });
    if (mode !== undefined) fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Copy a file atomically, keeping its permission bits. */
export function copyFileAtomic(src: string, target: string): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tmpName(target);
  try {
    fs.copyFileSync(src, tmp);
    fs.chmodSync(tmp, fs.statSync(src).mode & 0o7777);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** All files below dir (relative, '/'-separated, sorted), skipping the given directory names. */
export function listFiles(dir: string, skipDirs: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = rel ? path.join(dir, rel) : dir;
    for (const ent of fs.readdirSync(abs, { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isDirectory()) {
        if (!skipDirs.has(ent.name)) walk(r);
      } else if (ent.isFile() || ent.isSymbolicLink()) {
        out.push(r);
      }
    }
  };
  if (fs.existsSync(dir)) walk('');
  return out.sort();
}

export function isExecutable(file: string): boolean {
  try {
    return (fs.statSync(file).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Replace a directory as a whole: `fill` builds the new one at a temporary name beside it (and
 * must create it), then renames swap it in, so a reader sees the old directory or the new one.
 * On failure the temporary is removed and the old directory is left as it was.
 */
export function replaceDir(dir: string, fill: (tmp: string) => void): void {
  const tmp = tmpName(dir);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  try {
    fill(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = fs.existsSync(dir) ? tmpName(`${dir}.old`) : undefined;
  if (old) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  if (old) fs.rmSync(old, { recursive: true, force: true });
}
