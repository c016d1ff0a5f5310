/**
 * A fixture upstream with several releases after the one the project pins (rust-v0.1.0, from
 * fixture.ts), each made to meet the series in a known way:
 *
 *   rust-v0.2.0        clean     (a lightweight tag; upstream changed files no patch touches)
 *   rust-v0.3.0        merge     (a context line of the first patch changed: plain apply fails, 3-way merges)
 *   rust-v0.4.0        conflict  (the very line the first patch changes was changed upstream too)
 *   rust-v0.5.0-alpha.1           a prerelease (only with --pre)
 *   rust-v0.6.0        conflict  (main.rs moved away: both patches miss it)
 *
 * plus tags that are not releases of this family at all (ignored everywhere).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { git, makeUpstream, type Upstream } from './fixture.ts';

export interface TrackUpstream extends Upstream {
  /** tag -> commit for every tag made here. */
  tags: Record<string, string>;
}

function edit(dir: string, rel: string, fn: (s: string) => string): void {
  const f = path.join(dir, rel);
  const before = fs.readFileSync(f, 'utf8');
  const after = fn(before);
  if (after === before) throw new Error(`fixture edit of ${rel} changed nothing`);
  fs.writeFileSync(f, after);
}

function release(dir: string, tag: string, message: string, opts: { lightweight?: boolean } = {}): string {
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
  if (opts.lightweight) git(dir, 'tag', tag);
  else git(dir, 'tag', '-a', tag, '-m', tag);
  return git(dir, 'rev-parse', 'HEAD');
}

export const CLEAN = 'rust-v0.2.0';
export const MERGE = 'rust-v0.3.0';
export const CONFLICT = 'rust-v0.4.0';
export const PRE = 'rust-v0.5.0-alpha.1';
export const MISSING = 'rust-v0.6.0';

export function makeTrackUpstream(dir: string): TrackUpstream {
  const up = makeUpstream(dir);
  const tags: Record<string, string> = { 'rust-v0.1.0': up.commit };
  edit(dir, 'ws/cli/src/other.rs', (s) => `${s}pub fn more() {}\n`);
  edit(dir, 'README.md', (s) => `${s}\nRelease 0.2.0.\n`);
  tags[CLEAN] = release(dir, CLEAN, 'Release 0.2.0', { lightweight: true });
  // Three lines above the renamed binary: inside the patch's context, outside its change.
  edit(dir, 'ws/cli/Cargo.toml', (s) => s.replace('edition = { workspace = true }', 'edition = "2021"'));
  tags[MERGE] = release(dir, MERGE, 'Release 0.3.0');
  // The line the first patch renames.
  edit(dir, 'ws/cli/Cargo.toml', (s) => s.replace('name = "codex"\n', 'name = "codex-bin"\n'));
  tags[CONFLICT] = release(dir, CONFLICT, 'Release 0.4.0');
  edit(dir, 'ws/cli/src/other.rs', (s) => `${s}pub fn alpha() {}\n`);
  tags[PRE] = release(dir, PRE, 'Release 0.5.0-alpha.1');
  git(dir, 'mv', 'ws/cli/src/main.rs', 'ws/cli/src/bin.rs');
  edit(dir, 'ws/cli/Cargo.toml', (s) => s.replace('path = "src/main.rs"', 'path = "src/bin.rs"'));
  tags[MISSING] = release(dir, MISSING, 'Release 0.6.0');
  // Not releases of the rust-v family.
  git(dir, 'tag', 'rust-vrust-v0.9.0');
  git(dir, 'tag', 'other-v9.0.0');
  git(dir, 'tag', 'rust-v.0.0.1');
  return { ...up, tags };
}
