/**
 * What a build leaves in dist/<triple>/ (paths from the plan): the binary, copied from Cargo's
 * target dir, and BUILDINFO.json beside it, which `package` reads. Both are written only when they
 * change, each to a temporary name and renamed.
 */
import * as fs from 'node:fs';
import { copyFileAtomic, fileSha256, writeFileAtomic } from '../lib/fs.ts';
import type { BuildInfo } from '../lib/plan.ts';

/** Copy Cargo's output to dist/; returns whether the copy changed. */
export function copyBinary(output: string, dist: string): boolean {
  // The copy carries Cargo's mtime, so "same size and mtime" proves it is current without
  // hashing a binary of 100+ MB on every no-op run.
  const out = fs.statSync(output);
  const cur = fs.existsSync(dist) ? fs.statSync(dist) : undefined;
  // utimes keeps about a millisecond of precision, so "same" means within one.
  const changed = !cur || cur.size !== out.size || Math.abs(cur.mtimeMs - out.mtimeMs) >= 1;
  if (changed) {
    copyFileAtomic(output, dist);
    fs.utimesSync(dist, out.atimeMs / 1000, out.mtimeMs / 1000);
  }
  return changed;
}

/** BUILDINFO.json beside the binary (plan.ts declares it; `package` reads it). Rewritten only when it differs. */
export function writeBuildInfo(infoFile: string, changed: boolean, dist: string, fields: Omit<BuildInfo, 'sha256'>): void {
  let previous: Partial<BuildInfo> = {};
  try {
    previous = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as Partial<BuildInfo>;
  } catch {
    previous = {};
  }
  const info: BuildInfo = { ...fields, sha256: !changed && previous.sha256 ? previous.sha256 : fileSha256(dist) };
  const text = JSON.stringify(info, null, 2) + '\n';
  if (!fs.existsSync(infoFile) || fs.readFileSync(infoFile, 'utf8') !== text) writeFileAtomic(infoFile, text);
}
