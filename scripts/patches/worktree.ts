/**
 * The maintainers' worktree: upstream at the locked commit with each patch of the series as a
 * commit (git am), our crates linked in, so a patch is edited with ordinary git and written back
 * with `patches export`. Like Electron's and Brave's flows, the commits are the editable form and
 * the patch files are the stored form.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import { amPatches, gitOk, gitRaw, gitReason } from '../lib/git.ts';
import { UPSTREAM_FACTS } from '../lib/project.ts';
import { readSeries } from '../lib/series.ts';
import { replaceDir, writeFileAtomic } from '../lib/fs.ts';

export const BRANCH = 'litellm-series';

export function defaultWorktree(ctx: Context): string {
  return path.join(ctx.cache.worktreesDir, path.basename(ctx.treeDir));
}

export function isDirty(dir: string): boolean {
  const r = gitRaw(['-C', dir, 'status', '--porcelain', '--untracked-files=normal']);
  return r.status !== 0 || r.stdout.trim() !== '';
}

/**
 * A fresh worktree at `commit` on branch litellm-series, with no patches yet: a shared clone of the
 * cache limited to the workspace, and our crates linked in. Used by `patches apply` and by
 * `upstream bump` (at the new tag).
 */
export function seedWorktree(ctx: Context, dir: string, commit: string): void {
  // --shared: objects come from the cache by reference; nothing is copied or fetched.
  gitOk(['-C', path.dirname(dir), 'clone', '--quiet', '--shared', '--no-checkout', ctx.cache.upstreamGit, dir], 'cannot clone the upstream cache');
  // Partial like the cache: blobs outside the workspace are absent, and git must accept that
  // when it writes trees for our commits.
  gitOk(['-C', dir, 'config', 'extensions.partialclone', 'origin'], 'cannot configure the worktree');
  gitOk(['-C', dir, 'config', 'remote.origin.promisor', 'true'], 'cannot configure the worktree');
  gitOk(['-C', dir, 'sparse-checkout', 'set', '--no-cone', `/${ctx.lock.workspace}/`], 'cannot limit the checkout to the workspace');
  gitOk(['-C', dir, 'checkout', '--quiet', '-B', BRANCH, commit], `cannot check out ${commit}`);
  gitOk(['-C', dir, 'tag', '-f', 'litellm-base', commit], 'cannot tag the base');
  // Our crates are linked, not copied: edits land in this repo directly and are never exported.
  const link = path.join(dir, ctx.lock.workspace, UPSTREAM_FACTS.crateDir);
  fs.symlinkSync(ctx.project.cratesDir, link, 'dir');
  fs.appendFileSync(path.join(dir, '.git', 'info', 'exclude'), `/${ctx.lock.workspace}/${UPSTREAM_FACTS.crateDir}\n`);
}

/** Create (or re-create) the worktree with the series applied as commits. */
export function makeWorktree(ctx: Context, dir: string, opts: { force: boolean; isStale: () => boolean }): { commits: number } {
  if (fs.existsSync(dir)) {
    if (!fs.existsSync(path.join(dir, '.git'))) throw new UserError(`${dir} exists and is not a git worktree`, 'Choose another --worktree, or remove it.');
    if (isDirty(dir) && !opts.force) {
      throw new UserError(`the worktree ${dir} has uncommitted changes`, 'Commit them (then `patches export`) or discard them; --force throws them away.');
    }
    if (!opts.force && opts.isStale()) {
      throw new UserError(
        `the worktree ${dir} has commits that are not exported to patches/`,
        'Run `npx tsx build.ts patches export` first, or --force to discard them.',
      );
    }
  }
  const patches = readSeries(ctx.project.seriesFile).map((e) => e.file);
  replaceDir(dir, (tmp) => {
    seedWorktree(ctx, tmp, ctx.lock.commit);
    const r = amPatches(tmp, patches);
    if (r.status !== 0) {
      gitRaw(['-C', tmp, 'am', '--abort']);
      throw new UserError(
        `a patch does not apply in the worktree: ${gitReason(r.stderr)}`,
        'Run `npx tsx build.ts patches check` to see which patch and hunk.',
      );
    }
  });
  return { commits: patches.length };
}

/** File name for a patch, from its subject. */
export function patchName(subject: string, taken: Set<string>): string {
  const base = subject
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  // At most ~60 characters, cut at a word boundary.
  const short = base.length <= 60 ? base : base.slice(0, 61).replace(/-[^-]*$/, '');
  const stem = short || 'patch';
  let name = `${stem}.patch`;
  for (let i = 2; taken.has(name); i += 1) name = `${stem}-${i}.patch`;
  taken.add(name);
  return name;
}

/** Patches from the worktree's commits on top of the base, crates excluded. Name -> text, in order. */
export function formatPatches(ctx: Context, dir: string): Map<string, string> {
  if (!fs.existsSync(path.join(dir, '.git'))) {
    throw new UserError(`no worktree at ${dir}`, 'Create it with `npx tsx build.ts patches apply`, commit your changes there, then export.');
  }
  const base = ctx.lock.commit;
  if (gitRaw(['-C', dir, 'merge-base', '--is-ancestor', base, 'HEAD']).status !== 0) {
    throw new UserError(
      `the worktree ${dir} is not on top of ${ctx.lock.tag} (${base.slice(0, 12)})`,
      'Rebase it onto the pinned commit, or recreate it with `patches apply --force`.',
    );
  }
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-litellm-export-'));
  try {
    gitOk(
      [
        '-C',
        dir,
        'format-patch',
        '--quiet',
        '--keep-subject',
        '--zero-commit',
        '--no-signature',
        '--no-stat',
        '--full-index',
        '--no-numbered',
        '-o',
        out,
        `${base}..HEAD`,
        '--',
        '.',
        `:(exclude)${ctx.lock.workspace}/${UPSTREAM_FACTS.crateDir}`,
      ],
      'cannot export patches',
    );
    const taken = new Set<string>();
    const result = new Map<string, string>();
    for (const f of fs.readdirSync(out).sort()) {
      const text = fs.readFileSync(path.join(out, f), 'utf8');
      const subject = /^Subject: (.+)$/m.exec(text)?.[1] ?? f;
      result.set(patchName(subject, taken), text);
    }
    return result;
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

export interface ExportDiff {
  changed: string[];
  added: string[];
  removed: string[];
  orderChanged: boolean;
}

export function compareExport(ctx: Context, wanted: Map<string, string>): ExportDiff {
  const current = readSeries(ctx.project.seriesFile);
  const names = new Set(current.map((e) => e.name));
  const diff: ExportDiff = { changed: [], added: [], removed: [], orderChanged: false };
  for (const [name, text] of wanted) {
    const file = path.join(ctx.project.patchesDir, name);
    if (!names.has(name) || !fs.existsSync(file)) diff.added.push(name);
    else if (fs.readFileSync(file, 'utf8') !== text) diff.changed.push(name);
  }
  for (const e of current) if (!wanted.has(e.name)) diff.removed.push(e.name);
  const order = current.map((e) => e.name).filter((n) => wanted.has(n));
  const wantedOrder = [...wanted.keys()].filter((n) => names.has(n));
  diff.orderChanged = order.join('\n') !== wantedOrder.join('\n');
  return diff;
}

/** Write the exported patches and the series: unchanged files keep their bytes and mtimes. */
export function writeExport(ctx: Context, wanted: Map<string, string>): ExportDiff {
  const diff = compareExport(ctx, wanted);
  for (const [name, text] of wanted) {
    const file = path.join(ctx.project.patchesDir, name);
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) writeFileAtomic(file, text);
  }
  for (const name of diff.removed) fs.rmSync(path.join(ctx.project.patchesDir, name), { force: true });
  // Keep the series' leading comment block; the list itself is regenerated.
  const old = fs.existsSync(ctx.project.seriesFile) ? fs.readFileSync(ctx.project.seriesFile, 'utf8') : '';
  const header = old
    .split('\n')
    .filter((_l, i, all) => all.slice(0, i + 1).every((x) => x.startsWith('#') || x.trim() === ''))
    .join('\n')
    .trimEnd();
  const text = `${header ? `${header}\n` : ''}${[...wanted.keys()].join('\n')}\n`;
  if (old !== text) writeFileAtomic(ctx.project.seriesFile, text);
  return diff;
}
