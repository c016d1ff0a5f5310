/**
 * Apply the series to any upstream commit in a scratch index (no checkout, nothing on disk
 * changes), patch by patch: first exactly like the build (`git apply --cached`, zero fuzz), and
 * where that fails with a 3-way merge (`git apply --cached --3way`, which needs the preimage blobs
 * named by each patch's full `index` lines). Each patch is reported as applied clean, applied with
 * a merge, or in conflict (which files, which hunks, how many conflict regions).
 *
 * After a conflict the scratch index goes on with the files merged as a maintainer would most
 * likely resolve them (upstream's changes kept, the patch's side taken where they collide), so the
 * patches after it are judged on their own rather than all failing in cascade.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StructuredPatch } from 'diff';
import { UserError } from '../lib/errors.ts';
import { gitBytes, gitOk, gitRaw, gitReason, readBlobs, type ScratchIndex as Env, withScratchIndex as withScratch } from '../lib/git.ts';
import { parsePatchFile, type PatchEntry, type PatchInfo } from '../lib/series.ts';

export type Outcome = 'clean' | 'merge' | 'conflict';

export interface FileIssue {
  file: string;
  /**
   * merged: the hunks did not apply as they are, a 3-way merge did it cleanly.
   * conflict: the 3-way merge left conflicts. missing: upstream no longer has the file.
   * exists: the patch creates a file upstream now has. unmergeable: no 3-way merge was possible.
   */
  kind: 'merged' | 'conflict' | 'missing' | 'exists' | 'unmergeable';
  /** The patch's hunks whose context is not in upstream's file any more. */
  hunks: string[];
  /** Conflict regions the merge left (conflict only). */
  regions?: number;
  detail?: string;
}

export interface PatchResult {
  name: string;
  outcome: Outcome;
  files: string[];
  issues: FileIssue[];
}

export interface ScratchResult {
  commit: string;
  outcome: Outcome;
  patches: PatchResult[];
  /** Patches in conflict. */
  failing: number;
  /** Patches that needed a 3-way merge. */
  merged: number;
  /** The tree of upstream + series when nothing conflicts (crates not included). */
  tree?: string;
  ms: number;
}

export interface LoadedPatch {
  entry: PatchEntry;
  info: PatchInfo;
  /** Blob ids from the `index <pre>..<post>` lines. */
  preimages: string[];
  postimages: string[];
}

/** Read and parse the series' patches once, for any number of scratch runs. */
export function loadPatches(entries: PatchEntry[]): LoadedPatch[] {
  return entries.map((entry) => {
    if (!fs.existsSync(entry.file)) {
      throw new UserError(`patches/series:${entry.line} names ${entry.name}, which does not exist`, 'Add the patch, or remove the line.');
    }
    const text = fs.readFileSync(entry.file, 'utf8');
    const pre: string[] = [];
    const post: string[] = [];
    for (const m of text.matchAll(/^index ([0-9a-f]{7,64})\.\.([0-9a-f]{7,64})/gm)) {
      if (!/^0+$/.test(m[1]!)) pre.push(m[1]!);
      if (!/^0+$/.test(m[2]!)) post.push(m[2]!);
    }
    return { entry, info: parsePatchFile(entry.name, text), preimages: pre, postimages: post };
  });
}

/** Every file the series touches. */
export function touchedFiles(patches: LoadedPatch[]): string[] {
  return [...new Set(patches.flatMap((p) => p.info.files))].sort();
}

const g = (env: Env, args: string[], input?: string | Buffer) =>
  gitRaw(args, { env: { ...env }, input: typeof input === 'string' ? Buffer.from(input) : input });

const must = (env: Env, args: string[], what: string, input?: string | Buffer): string => gitOk(args, what, { env: { ...env }, input });

/**
 * Write the series' intermediate blobs (each patch's result on the pinned commit) into the cache:
 * a 3-way merge of patch N needs the file as patches 1..N-1 left it, which upstream never had.
 * Returns the patches that do not apply to the base (their 3-way merges elsewhere cannot work).
 */
export function seedIntermediateBlobs(gitDir: string, base: string, patches: LoadedPatch[]): string[] {
  return withScratch(gitDir, (env) => {
    must(env, ['read-tree', base], `cannot read upstream commit ${base}`);
    const failed: string[] = [];
    for (const p of patches) {
      if (g(env, ['apply', '--cached', '--whitespace=nowarn', p.entry.file]).status !== 0) failed.push(p.entry.name);
    }
    return failed;
  });
}

const stripAB = (f: string | undefined): string | undefined => f?.replace(/^[ab]\//, '');

/** The patch's hunks for one file whose preimage (context and removed lines) is not in `content`. */
export function unmatchedHunks(info: PatchInfo, file: string, content: string | undefined): string[] {
  const fp: StructuredPatch | undefined = info.hunks.find((h) => stripAB(h.oldFileName) === file || stripAB(h.newFileName) === file);
  if (!fp) return [];
  const label = (i: number): string => {
    const h = fp.hunks[i]!;
    return `hunk #${i + 1} (@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@)`;
  };
  if (content === undefined) return fp.hunks.map((_, i) => label(i));
  const lines = content.split('\n');
  const out: string[] = [];
  fp.hunks.forEach((h, i) => {
    const pre = h.lines.filter((l) => l.startsWith(' ') || l.startsWith('-')).map((l) => l.slice(1));
    if (pre.length === 0) return;
    let found = false;
    for (let at = 0; at + pre.length <= lines.length && !found; at += 1) {
      let k = 0;
      while (k < pre.length && lines[at + k] === pre[k]) k += 1;
      found = k === pre.length;
    }
    if (!found) out.push(label(i));
  });
  return out;
}

/** Files named in `git apply` errors, by what went wrong. */
function applyErrors(stderr: string): { failed: Set<string>; missing: Set<string>; exists: Set<string> } {
  const failed = new Set<string>();
  const missing = new Set<string>();
  const exists = new Set<string>();
  for (const m of stderr.matchAll(/^error: patch failed: (.+):\d+$/gm)) failed.add(m[1]!);
  for (const m of stderr.matchAll(/^error: (.+): patch does not apply$/gm)) failed.add(m[1]!);
  for (const m of stderr.matchAll(/^error: (.+): (?:does not exist in index|No such file or directory)$/gm)) missing.add(m[1]!);
  for (const m of stderr.matchAll(/^error: (.+): already exists in index$/gm)) exists.add(m[1]!);
  for (const f of [...missing, ...exists]) failed.delete(f);
  return { failed, missing, exists };
}

interface Unmerged {
  file: string;
  mode: string;
  stages: Map<number, string>;
}

function unmergedEntries(env: Env): Unmerged[] {
  const out = new Map<string, Unmerged>();
  for (const rec of must(env, ['ls-files', '-u', '-z'], 'cannot list conflicts').split('\0').filter(Boolean)) {
    const tab = rec.indexOf('\t');
    const [mode, oid, stage] = rec.slice(0, tab).split(' ');
    const file = rec.slice(tab + 1);
    const u = out.get(file) ?? { file, mode: mode!, stages: new Map<number, string>() };
    u.stages.set(Number(stage), oid!);
    if (Number(stage) === 2) u.mode = mode!;
    out.set(file, u);
  }
  return [...out.values()];
}

const MARKER = 31;
const OURS_MARK = `${'<'.repeat(MARKER)} ours`;
const MID_MARK = '='.repeat(MARKER);
const THEIRS_MARK = `${'>'.repeat(MARKER)} theirs`;

/** Take the patch's side of each conflict region of a `git merge-file` result (bytes kept as they are). */
export function takeTheirs(merged: Buffer): Buffer {
  const out: string[] = [];
  let state: 'out' | 'ours' | 'theirs' = 'out';
  for (const line of merged.toString('latin1').split('\n')) {
    if (state === 'out' && line === OURS_MARK) state = 'ours';
    else if (state === 'ours' && line === MID_MARK) state = 'theirs';
    else if (state === 'theirs' && line === THEIRS_MARK) state = 'out';
    else if (state !== 'ours') out.push(line);
  }
  return Buffer.from(out.join('\n'), 'latin1');
}

/**
 * Count each conflicted file's conflict regions and resolve it the way a maintainer most likely
 * would: upstream's changes kept, the patch's side taken where the two collide (`merge-file
 * --theirs`). The resolutions go into the scratch index at stage 0. A few git processes for all
 * the files of a patch, not a few per file.
 */
function resolveConflicts(env: Env, tmp: string, unmerged: Unmerged[]): Map<string, number> {
  const regions = new Map<string, number>();
  const blobs = readBlobs([...new Set(unmerged.flatMap((u) => [...u.stages.values()]))], { env: { ...env } });
  const resolved: { u: Unmerged; oid?: string; file?: string }[] = [];
  unmerged.forEach((u, i) => {
    const [base, ours, theirs] = [u.stages.get(1), u.stages.get(2), u.stages.get(3)];
    if (!(base && ours && theirs)) {
      regions.set(u.file, 1);
      resolved.push({ u, oid: theirs ?? ours });
      return;
    }
    const f = (n: string, oid: string): string => {
      const p = path.join(tmp, `${i}.${n}`);
      fs.writeFileSync(p, blobs.get(oid)!);
      return p;
    };
    const args = [
      'merge-file',
      '-p',
      `--marker-size=${MARKER}`,
      '-L',
      'ours',
      '-L',
      'base',
      '-L',
      'theirs',
      f('ours', ours),
      f('base', base),
      f('theirs', theirs),
    ];
    const m = gitBytes(args);
    regions.set(u.file, Math.max(1, m.status ?? 1));
    const out = path.join(tmp, `${i}.resolved`);
    fs.writeFileSync(out, takeTheirs(m.stdout));
    resolved.push({ u, file: out });
  });
  const toHash = resolved.filter((r) => r.file);
  if (toHash.length > 0) {
    const oids = must(env, ['hash-object', '-w', '--stdin-paths'], 'cannot record the merges', toHash.map((r) => r.file).join('\n') + '\n')
      .trim()
      .split('\n');
    toHash.forEach((r, i) => {
      r.oid = oids[i];
    });
  }
  const info = resolved.map((r) => (r.oid ? `${r.u.mode} ${r.oid} 0\t${r.u.file}\n` : `0 ${'0'.repeat(40)}\t${r.u.file}\n`)).join('');
  must(env, ['update-index', '--index-info'], 'cannot resolve conflicts in the scratch index', info);
  return regions;
}

function stageZero(env: Env, files: string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (files.length === 0) return out;
  for (const rec of must(env, ['ls-files', '-s', '-z', '--', ...files], 'cannot read the scratch index')
    .split('\0')
    .filter(Boolean)) {
    const tab = rec.indexOf('\t');
    const [, oid, stage] = rec.slice(0, tab).split(' ');
    if (stage === '0') out.set(rec.slice(tab + 1), oid!);
  }
  return out;
}

function applyOne(env: Env, tmp: string, p: LoadedPatch): PatchResult {
  const res: PatchResult = { name: p.entry.name, outcome: 'clean', files: p.info.files, issues: [] };
  const plain = g(env, ['apply', '--cached', '--whitespace=nowarn', p.entry.file]);
  if (plain.status === 0) return res;
  const errs = applyErrors(plain.stderr);
  // What the files looked like before this patch, to name the hunks that no longer match.
  const before = stageZero(env, [...errs.failed]);
  const contents = readBlobs([...before.values()], { env: { ...env } });
  const hunksOf = (f: string): string[] => {
    const oid = before.get(f);
    return unmatchedHunks(p.info, f, oid ? contents.get(oid)?.toString('utf8') : undefined);
  };
  for (const f of errs.missing)
    res.issues.push({ file: f, kind: 'missing', hunks: unmatchedHunks(p.info, f, undefined), detail: 'upstream no longer has this file' });
  for (const f of errs.exists) res.issues.push({ file: f, kind: 'exists', hunks: [], detail: 'the patch creates it, but upstream has it now' });
  if (errs.failed.size === 0 && errs.missing.size === 0 && errs.exists.size === 0) {
    res.outcome = 'conflict';
    res.issues.push({ file: '(patch)', kind: 'unmergeable', hunks: [], detail: gitReason(plain.stderr) });
    return res;
  }
  // 3-way for what can be merged; files upstream lost or gained are left out (reported above).
  const excluded = new Set([...errs.missing, ...errs.exists]);
  let three = { status: 0, stdout: '', stderr: '' };
  for (let attempt = 0; attempt < 5; attempt += 1) {
    if (p.info.files.every((f) => excluded.has(f))) break;
    three = g(env, ['apply', '--cached', '--3way', '--whitespace=nowarn', ...[...excluded].map((f) => `--exclude=${f}`), p.entry.file]);
    const again = applyErrors(three.stderr);
    const newly = [...again.missing, ...again.exists].filter((f) => !excluded.has(f));
    if (newly.length === 0) break;
    for (const f of newly) excluded.add(f);
  }
  const unmerged = unmergedEntries(env);
  const conflicted = new Set(unmerged.map((u) => u.file));
  if (three.status !== 0 && unmerged.length === 0) {
    // The merge could not even start (e.g. a preimage blob is unknown): nothing of it was applied.
    for (const f of errs.failed) res.issues.push({ file: f, kind: 'unmergeable', hunks: hunksOf(f), detail: gitReason(three.stderr) });
  } else {
    const regions = unmerged.length > 0 ? resolveConflicts(env, tmp, unmerged) : new Map<string, number>();
    for (const u of unmerged) res.issues.push({ file: u.file, kind: 'conflict', hunks: hunksOf(u.file), regions: regions.get(u.file) });
    for (const f of errs.failed) if (!conflicted.has(f)) res.issues.push({ file: f, kind: 'merged', hunks: hunksOf(f) });
  }
  res.issues.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  res.outcome = res.issues.some((i) => i.kind !== 'merged') ? 'conflict' : 'merge';
  return res;
}

const indexInfo = (entries: Map<string, { mode: string; oid: string }>): string => [...entries].map(([file, e]) => `${e.mode} ${e.oid} 0\t${file}\n`).join('');

/**
 * Apply the series to `commit` in a scratch index and report per patch. Nothing on disk changes.
 * With `files` (the series' files at that commit) the scratch index holds only those: `git apply`
 * looks at nothing else, and a handful of entries is much faster to rewrite per patch than a whole
 * upstream tree. `tree` asks for the full patched tree as well (when nothing conflicts).
 */
export function trySeries(opts: {
  gitDir: string;
  commit: string;
  patches: LoadedPatch[];
  files?: Map<string, { mode: string; oid: string }>;
  tree?: boolean;
}): ScratchResult {
  const started = performance.now();
  return withScratch(opts.gitDir, (env, tmp) => {
    if (opts.files) must(env, ['update-index', '--add', '--index-info'], 'cannot make the scratch index', indexInfo(opts.files));
    else must(env, ['read-tree', opts.commit], `cannot read upstream commit ${opts.commit}`);
    const patches = opts.patches.map((p) => applyOne(env, tmp, p));
    const failing = patches.filter((p) => p.outcome === 'conflict').length;
    const merged = patches.filter((p) => p.outcome === 'merge').length;
    let tree: string | undefined;
    if (failing === 0 && (opts.tree || !opts.files)) {
      if (opts.files) {
        // The series' files as patched, laid over the whole upstream tree.
        const patched = must(env, ['ls-files', '-s', '-z'], 'cannot read the scratch index').split('\0').filter(Boolean);
        const gone = [...opts.files.keys()].filter((f) => !patched.some((rec) => rec.slice(rec.indexOf('\t') + 1) === f));
        must(env, ['read-tree', opts.commit], `cannot read upstream commit ${opts.commit}`);
        const info =
          patched.map((rec) => `${rec.slice(0, rec.indexOf('\t')).replace(/ 0$/, '')} 0\t${rec.slice(rec.indexOf('\t') + 1)}\n`).join('') +
          gone.map((f) => `0 ${'0'.repeat(40)}\t${f}\n`).join('');
        must(env, ['update-index', '--add', '--index-info'], 'cannot lay the patched files over upstream', info);
      }
      tree = must(env, ['write-tree', '--missing-ok'], 'cannot record the patched tree').trim();
    }
    return {
      commit: opts.commit,
      outcome: failing > 0 ? 'conflict' : merged > 0 ? 'merge' : 'clean',
      patches,
      failing,
      merged,
      tree,
      ms: performance.now() - started,
    };
  });
}
