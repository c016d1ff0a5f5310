/**
 * Skipping Cargo when nothing can have changed. Cargo's own no-op check stats every source of
 * 700+ crates; ours compares one digest of everything we feed it (tree contents by git tree id,
 * toolchain, command, environment) plus a stat walk of the tree, which also catches hand edits.
 * The record is a JSON file per target and profile in the build tree, written after a good build.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { digestChanges } from '../lib/apply.ts';
import { sha256, writeFileAtomic } from '../lib/fs.ts';
import type { Prepared } from '../lib/prepare.ts';
import type { CargoCommand } from './cargo.ts';

/** The caller's variables that change what Cargo builds. */
const STAMP_ENV = /^(CARGO|RUST|CC|CXX|AR|CFLAGS|CXXFLAGS|LDFLAGS|PKG_CONFIG|OPENSSL|TARGET_|HOST_)/;

/** One digest of what a build is fed: command, environment, rustc, every change to upstream. */
export function buildStamp(cmd: CargoCommand, rustc: string, prepared: Prepared): string {
  const env = Object.entries(process.env)
    .filter(([k]) => STAMP_ENV.test(k))
    .sort();
  // The digest of every change (patches and crates), so a crate edit counts too.
  const changes = digestChanges(prepared.changes);
  return sha256(JSON.stringify({ program: cmd.program, args: cmd.args, env: cmd.env, callerEnv: env, rustc, changes }));
}

function treeSignature(dir: string): string {
  let count = 0;
  let newest = 0;
  let bytes = 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p);
        count += 1;
        bytes += st.size;
        newest = Math.max(newest, st.mtimeMs);
      }
    }
  };
  walk(dir);
  return `${count}:${bytes}:${newest}`;
}

interface BuildRecord {
  stamp: string;
  tree: string;
  output: string;
}

function outputSignature(file: string): string | undefined {
  try {
    const st = fs.statSync(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/** The last good build of `stampFile` had this stamp, and neither the tree nor the output changed since. */
export function isUpToDate(stampFile: string, stamp: string, treeDir: string, output: string): boolean {
  let rec: BuildRecord;
  try {
    rec = JSON.parse(fs.readFileSync(stampFile, 'utf8')) as BuildRecord;
  } catch {
    return false;
  }
  return rec.stamp === stamp && rec.output === outputSignature(output) && rec.tree === treeSignature(treeDir);
}

/** After a good build: what isUpToDate compares next time (rewritten only when it differs). */
export function recordBuild(stampFile: string, stamp: string, treeDir: string, output: string): void {
  const text = JSON.stringify({ stamp, tree: treeSignature(treeDir), output: outputSignature(output) } satisfies Partial<BuildRecord>, null, 2) + '\n';
  if (!fs.existsSync(stampFile) || fs.readFileSync(stampFile, 'utf8') !== text) writeFileAtomic(stampFile, text);
}
