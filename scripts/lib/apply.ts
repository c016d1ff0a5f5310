/**
 * Apply the series to the locked commit without a checkout: a temporary index is read from the
 * commit, each patch goes in with `git apply --cached` (zero fuzz: every context line must match),
 * and the result is a git tree. Nothing on disk changes here, so a failing patch can never leave a
 * half-patched tree behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from './errors.ts';
import { gitRaw, gitReason, readBlobs, withScratchIndex } from './git.ts';
import { listFiles, sha256 } from './fs.ts';
import { locateHunk, parsePatchFile, type PatchEntry } from './series.ts';

export interface FileChange {
  path: string;
  /** undefined when the series deletes the file. */
  content: Buffer | undefined;
  mode: number;
}

export interface AppliedSeries {
  /** The git tree of upstream + series (crates not included). */
  tree: string;
  /** Every file whose content differs from upstream's commit, crates included. */
  changes: Map<string, FileChange>;
  /** Per patch: the files it touched. */
  perPatch: { name: string; files: string[] }[];
}

/** Explain a `git apply` failure by patch, file and hunk. */
export function explainApplyFailure(entry: PatchEntry, stderr: string): UserError {
  const info = parsePatchFile(entry.name, fs.readFileSync(entry.file, 'utf8'));
  const failed = /patch failed: (.+):(\d+)/.exec(stderr);
  const missing = /error: (.+): (?:does not exist in index|No such file or directory)/.exec(stderr);
  const exists = /error: (.+): already exists in index/.exec(stderr);
  let where: string;
  if (failed) where = `${locateHunk(info, failed[1]!, Number(failed[2]))} does not match upstream`;
  else if (missing) where = `${missing[1]} does not exist upstream`;
  else if (exists) where = `${exists[1]} already exists upstream`;
  else where = gitReason(stderr);
  return new UserError(
    `patch ${entry.name} does not apply: ${where}`,
    'Nothing was changed. Rebase the patch: `npx tsx build.ts patches apply` makes a worktree with the series as commits; fix it there, then `patches export`.',
  );
}

export function applySeries(opts: { gitDir: string; commit: string; entries: PatchEntry[] }): AppliedSeries {
  const { gitDir, commit, entries } = opts;
  return withScratchIndex(gitDir, (env) => {
    const rt = gitRaw(['read-tree', commit], { env });
    if (rt.status !== 0) throw new UserError(`cannot read upstream commit ${commit}: ${gitReason(rt.stderr)}`);
    const perPatch: AppliedSeries['perPatch'] = [];
    for (const e of entries) {
      if (!fs.existsSync(e.file)) throw new UserError(`patches/series:${e.line} names ${e.name}, which does not exist`, 'Add the patch, or remove the line.');
      perPatch.push({ name: e.name, files: parsePatchFile(e.name, fs.readFileSync(e.file, 'utf8')).files });
    }
    // The whole series in one git process (git applies the files in order, all or nothing); only
    // when that fails, one patch at a time to name the one that does not apply.
    const all = entries.length ? gitRaw(['apply', '--cached', '--whitespace=nowarn', ...entries.map((e) => e.file)], { env }) : undefined;
    if (all && all.status !== 0) {
      const reset = gitRaw(['read-tree', commit], { env });
      if (reset.status !== 0) throw new UserError(`cannot read upstream commit ${commit}: ${gitReason(reset.stderr)}`);
      for (const e of entries) {
        const r = gitRaw(['apply', '--cached', '--whitespace=nowarn', e.file], { env });
        if (r.status !== 0) throw explainApplyFailure(e, r.stderr);
      }
      throw explainApplyFailure(entries[entries.length - 1]!, all.stderr);
    }
    // --missing-ok: blobs outside the workspace dir may be absent from a partial clone.
    const wt = gitRaw(['write-tree', '--missing-ok'], { env });
    if (wt.status !== 0) throw new UserError(`cannot record the patched tree: ${gitReason(wt.stderr)}`);
    const tree = wt.stdout.trim();
    const changes = new Map<string, FileChange>();
    const dt = gitRaw(['diff-tree', '-r', '--no-renames', '-z', commit, tree], { env });
    if (dt.status !== 0) throw new UserError(`cannot diff the patched tree: ${gitReason(dt.stderr)}`);
    const parts = dt.stdout.split('\0');
    const diffs: { file: string; mode: number; oid: string; deleted: boolean }[] = [];
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const meta = parts[i]!.replace(/^:/, '').split(' ');
      diffs.push({ file: parts[i + 1]!, mode: parseInt(meta[1]!, 8), oid: meta[3]!, deleted: meta[4] === 'D' });
    }
    const blobs = readBlobs(
      diffs.filter((e) => !e.deleted).map((e) => e.oid),
      { env },
    );
    for (const e of diffs) {
      if (e.deleted) changes.set(e.file, { path: e.file, content: undefined, mode: 0 });
      else changes.set(e.file, { path: e.file, content: blobs.get(e.oid)!, mode: e.mode & 0o111 ? 0o755 : 0o644 });
    }
    return { tree, changes, perPatch };
  });
}

/** Our crates as tree changes: litellm/crates/<name>/... -> <workspace>/<crateDir>/<name>/... */
export function crateChanges(cratesDir: string, workspace: string, crateDir: string): Map<string, FileChange> {
  const out = new Map<string, FileChange>();
  for (const rel of listFiles(cratesDir, new Set(['target', 'node_modules', '.git']))) {
    const abs = path.join(cratesDir, rel);
    const mode = fs.statSync(abs).mode & 0o111 ? 0o755 : 0o644;
    const p = `${workspace}/${crateDir}/${rel}`;
    out.set(p, { path: p, content: fs.readFileSync(abs), mode });
  }
  return out;
}

/** A stable digest of a set of changes (path, mode, content), for state files and version stamps. */
export function digestChanges(changes: Map<string, FileChange>): string {
  const lines = [...changes.values()].sort((a, b) => (a.path < b.path ? -1 : 1)).map((c) => `${c.path}\0${c.mode}\0${c.content ? sha256(c.content) : '-'}`);
  return sha256(lines.join('\n'));
}
