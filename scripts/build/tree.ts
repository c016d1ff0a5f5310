/**
 * The build tree: upstream's workspace dir at the locked commit with our changes on top, at a
 * stable path so Cargo's fingerprints stay valid between runs. Only files whose content differs
 * from what is on disk are written (temp name + rename); an unchanged tree is not touched at all,
 * so Cargo has nothing to recompile. A new tree is extracted next to its final place and renamed
 * in whole.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../lib/errors.ts';
import { fileSha256, replaceDir, sha256, writeFileAtomic } from '../lib/fs.ts';
import { gitBytes } from '../lib/git.ts';
import type { FileChange } from '../lib/apply.ts';

const STATE = '.codex-litellm-tree.json';

interface TreeState {
  commit: string;
  workspace: string;
  /** Files that differ from upstream (path -> sha256, or '-' for deleted). */
  overlay: Record<string, string>;
  /** Lock refresh bookkeeping: input digest -> refreshed Cargo.lock digest. */
  lock?: { input: string; output: string };
}

export interface SyncResult {
  written: string[];
  restored: string[];
  deleted: string[];
  created: boolean;
}

function readState(treeDir: string): TreeState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(treeDir, STATE), 'utf8')) as TreeState;
  } catch {
    return undefined;
  }
}

function writeState(treeDir: string, s: TreeState): void {
  const file = path.join(treeDir, STATE);
  const text = JSON.stringify(s, null, 2) + '\n';
  // An unchanged state is not rewritten: a no-op run leaves the whole tree untouched.
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return;
  writeFileAtomic(file, text);
}

/** Extract <workspace> at <commit> into dir (git archive keeps the commit time as mtime). */
function extract(gitDir: string, commit: string, workspace: string, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  // The subtree (commit:workspace) so git never walks, or lazily fetches, anything outside it.
  const archive = gitBytes(['--git-dir', gitDir, 'archive', '--format=tar', `--prefix=${workspace}/`, `${commit}:${workspace}`], {
    maxBuffer: 1024 * 1024 * 1024,
  });
  if (archive.status !== 0) throw new UserError(`cannot extract ${workspace}/ at ${commit}: ${archive.stderr.trim()}`);
  const tar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout, maxBuffer: 1024 * 1024 });
  if (tar.status !== 0) throw new UserError(`cannot unpack ${workspace}/ into ${dir}: ${tar.stderr.toString().trim()}`);
}

function pristine(gitDir: string, commit: string, file: string): Buffer | undefined {
  const r = gitBytes(['--git-dir', gitDir, 'cat-file', 'blob', `${commit}:${file}`]);
  return r.status === 0 ? r.stdout : undefined;
}

function writeIfDifferent(treeDir: string, file: string, content: Buffer, mode: number): boolean {
  const abs = path.join(treeDir, file);
  let same = false;
  try {
    same = fileSha256(abs) === sha256(content) && (fs.statSync(abs).mode & 0o777) === mode;
  } catch {
    same = false;
  }
  if (same) return false;
  writeFileAtomic(abs, content, mode);
  return true;
}

/**
 * Make treeDir hold upstream + changes. `keep` names files that a later step owns (Cargo.lock after
 * the lock refresh) and that must not be reset while their inputs are unchanged.
 */
export function syncTree(opts: {
  gitDir: string;
  commit: string;
  workspace: string;
  treeDir: string;
  changes: Map<string, FileChange>;
  keep?: (file: string, state: { lock?: TreeState['lock'] }) => boolean;
}): SyncResult {
  const { gitDir, commit, workspace, treeDir, changes } = opts;
  const result: SyncResult = { written: [], restored: [], deleted: [], created: false };
  let state = readState(treeDir);
  if (!state || state.commit !== commit || state.workspace !== workspace || !fs.existsSync(path.join(treeDir, workspace))) {
    // Unknown or foreign tree: build a fresh one beside it, then swap it in whole.
    replaceDir(treeDir, (tmp) => {
      extract(gitDir, commit, workspace, tmp);
      writeState(tmp, { commit, workspace, overlay: {} });
    });
    state = readState(treeDir)!;
    result.created = true;
  }
  const desired: Record<string, string> = {};
  for (const c of changes.values()) desired[c.path] = c.content ? sha256(c.content) : '-';
  // Record intent first: if we are interrupted, the next run still knows every file we may touch.
  writeState(treeDir, { ...state, overlay: { ...state.overlay, ...desired } });
  for (const c of changes.values()) {
    if (opts.keep?.(c.path, state)) continue;
    if (c.content === undefined) {
      const abs = path.join(treeDir, c.path);
      if (fs.existsSync(abs)) {
        fs.rmSync(abs);
        result.deleted.push(c.path);
      }
    } else if (writeIfDifferent(treeDir, c.path, c.content, c.mode)) {
      result.written.push(c.path);
    }
  }
  // Files we changed before but no longer do go back to upstream's content (or away).
  for (const file of Object.keys(state.overlay)) {
    if (file in desired) continue;
    if (opts.keep?.(file, state)) continue;
    const orig = pristine(gitDir, commit, file);
    const abs = path.join(treeDir, file);
    if (orig === undefined) {
      if (fs.existsSync(abs)) {
        fs.rmSync(abs);
        result.deleted.push(file);
      }
    } else if (writeIfDifferent(treeDir, file, orig, 0o644)) {
      result.restored.push(file);
    }
  }
  writeState(treeDir, { ...state, overlay: desired });
  return result;
}

export function treeLockState(treeDir: string): TreeState['lock'] {
  return readState(treeDir)?.lock;
}

export function setTreeLockState(treeDir: string, lock: TreeState['lock']): void {
  const s = readState(treeDir);
  if (s) writeState(treeDir, { ...s, lock });
}
