/**
 * `upstream bump <tag>`: move the pin to another upstream release. The series is first tried in a
 * scratch index; then it is replayed as commits on the new tag in a worktree (`git am --3way`, so
 * patches that only need a merge go in), re-exported from those commits (new index lines and
 * offsets), checked once more with zero fuzz against the new commit, and only then are patches/ and
 * upstream.lock rewritten. On a conflict the worktree is left in the middle of `git am`, with
 * conflict markers, for a maintainer to finish; `upstream bump <tag> --continue` then pins and exports.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { applySeries } from '../lib/apply.ts';
import type { Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import { replaceDir, writeFileAtomic } from '../lib/fs.ts';
import { amPatches, gitOk, gitRaw, gitReason } from '../lib/git.ts';
import { commitDate, findBase, mainFetchArgs, mainFetchError, resolveMainCommit, verifyEdge } from '../lib/edge.ts';
import { renderLock, versionTag, type EdgePin, type UpstreamLock } from '../lib/lockfile.ts';
import { listAllTags } from '../lib/upstream-sources.ts';
import { currentChannel, UPSTREAM_FACTS } from '../lib/project.ts';
import { lintSeries, readSeries } from '../lib/series.ts';
import { acquireUpstream } from '../lib/upstream-cache.ts';
import { formatPatches, isDirty, seedWorktree, writeExport, type ExportDiff } from '../patches/worktree.ts';
import { emptyStats, ensureTags, fetchBlobs, fetchedRef, prepareCache } from './fetch.ts';
import { loadPatches, seedIntermediateBlobs } from './scratch.ts';
import { releaseTags, tagVersion } from './tags.ts';
import { prepareSession, resolveTag, runTry, type TryResult } from './track.ts';
import semver from 'semver';
import { versionInfo } from '../lib/version.ts';

export interface BumpResult {
  tag: string;
  commit: string;
  worktree: string;
  /** True when the pin moved and patches/ was re-exported. */
  pinned: boolean;
  tryResult?: TryResult;
  export?: ExportDiff;
  /** The patch `git am` stopped at, and its conflicted files. */
  stoppedAt?: { patch: string; files: string[] };
  next: string[];
}

/** The context as it will be once the pin moved (for formatPatches, which exports against ctx.lock.commit). */
function movedContext(ctx: Context, tag: string, commit: string, edge?: EdgePin): Context {
  const { edge: _old, ...rest } = ctx.lock;
  const lock: UpstreamLock = { ...rest, tag, commit, release: 1, ...(edge ? { edge } : {}) };
  const treeName = `${tag.replace(/[^A-Za-z0-9._-]/g, '_')}-${commit.slice(0, 12)}`;
  return { ...ctx, lock, treeDir: path.join(ctx.cache.treesDir, treeName) };
}

export function bumpWorktreeDir(ctx: Context, tag: string, commit: string): string {
  return path.join(ctx.cache.worktreesDir, path.basename(movedContext(ctx, tag, commit).treeDir));
}

/** The name an edge pin goes by (lockfile.ts): `main@343074d4`. */
const edgeName = (branch: string, commit: string): string => `${branch}@${commit.slice(0, 8)}`;

/**
 * `--to <commit>`: the commit of upstream main, checked to be upstream's (edge.ts), with its base
 * (the newest release tag, not older than the pin, whose parent it descends from) and its date.
 */
function resolveEdge(ctx: Context, spec: string): { commit: string; edge: EdgePin } {
  const branch = 'main';
  const main = ctx.upstreamMain;
  if (!main) {
    throw new UserError(
      `--to ${spec} pins a commit of upstream main, but no mirror of upstream's main is configured`,
      'Point --upstream-main (CODEX_LITELLM_UPSTREAM_MAIN, `upstreamMain` in the user file) at a mirror of openai/codex carrying its main branch.',
    );
  }
  const gitDir = prepareCache(ctx);
  const r = gitRaw(mainFetchArgs(gitDir, branch));
  if (r.status !== 0) throw mainFetchError(r, main, branch);
  const commit = resolveMainCommit(gitDir, spec, branch, main);
  // Candidates: release tags of the tag sources from the pin's own version on, newest first.
  const floor = tagVersion(versionTag(ctx.lock));
  const listing = listAllTags(ctx.upstreamSources);
  const candidates = releaseTags(listing.tags, versionTag(ctx.lock))
    .filter((t) => semver.gte(t.version, floor))
    .reverse();
  const commits = ensureTags(ctx, gitDir, candidates, emptyStats());
  const tags = candidates.map((t) => ({ name: t.name, commit: commits.get(t.name)! }));
  const base = findBase(gitDir, commit, tags);
  if (!base) {
    throw new UserError(
      `commit ${commit} of ${main} descends from the parent of none of the release tags from ${versionTag(ctx.lock)} on (${tags.map((t) => t.name).join(', ') || 'none listed'}): it is not upstream's main after them`,
      "Check that the mirror carries upstream's own main (a fork may rewrite it), or that the tag sources list the release it came after.",
    );
  }
  verifyEdge(gitDir, { commit, branch, source: main, base: { tag: base.name, commit: base.commit } });
  return { commit, edge: { branch, date: commitDate(gitDir, commit), base: base.name } };
}

const amInProgress = (dir: string): boolean => fs.existsSync(path.join(dir, '.git', 'rebase-apply'));

/**
 * Upstream at `commit` with the series replayed by `git am --3way`. Returns where am stopped, if it
 * did; the worktree is kept either way (in the conflict case, mid-am, for a maintainer).
 */
function replay(ctx: Context, dir: string, commit: string, force: boolean): { stoppedAt?: BumpResult['stoppedAt'] } {
  if (fs.existsSync(dir)) {
    if (!fs.existsSync(path.join(dir, '.git'))) throw new UserError(`${dir} exists and is not a git worktree`, 'Choose another --worktree, or remove it.');
    if (!force && (amInProgress(dir) || isDirty(dir))) {
      throw new UserError(
        `the worktree ${dir} has work in progress (uncommitted changes or an unfinished git am)`,
        'Finish it and run `upstream bump <tag> --continue`, or pass --force to start over.',
      );
    }
  }
  replaceDir(dir, (tmp) => {
    seedWorktree(ctx, tmp, commit);
    // Rename detection compares every blob of both trees, which a partial clone does not have (and
    // its promisor, the partial cache, cannot serve): with it, a patch whose file upstream removed
    // fails with "could not fetch <blob> from promisor remote" instead of a modify/delete conflict.
    // In the worktree's own config, so the maintainer's `git am --continue` behaves the same.
    gitOk(['-C', tmp, 'config', 'merge.renames', 'false'], 'cannot configure the worktree');
    gitOk(['-C', tmp, 'config', 'diff.renames', 'false'], 'cannot configure the worktree');
  });
  const patches = readSeries(ctx.project.seriesFile);
  const r = amPatches(
    dir,
    patches.map((p) => p.file),
    { threeWay: true },
  );
  if (r.status === 0) return {};
  if (!amInProgress(dir)) throw new UserError(`git am failed in ${dir}: ${gitReason(r.stderr)}`);
  const applied = Number(gitOk(['-C', dir, 'rev-list', '--count', 'litellm-base..HEAD'], 'cannot count commits').trim());
  const files = gitOk(['-C', dir, 'diff', '--name-only', '--diff-filter=U'], 'cannot list conflicts').split('\n').filter(Boolean);
  return { stoppedAt: { patch: patches[applied]?.name ?? '(unknown)', files } };
}

/**
 * Export the worktree's commits as the new series, prove the result applies with zero fuzz to the
 * new commit, then write patches/ and upstream.lock (in that order; nothing is written before the proof).
 */
function pinAndExport(ctx: Context, moved: Context, dir: string): ExportDiff {
  const wanted = formatPatches(moved, dir);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-litellm-bump-'));
  try {
    const entries = [...wanted].map(([name, text], i) => {
      const file = path.join(scratch, name);
      fs.writeFileSync(file, text);
      return { name, file, line: i + 1 };
    });
    applySeries({ gitDir: ctx.cache.upstreamGit, commit: moved.lock.commit, entries });
  } catch (e) {
    throw new UserError(
      `the re-exported series does not apply to ${moved.lock.tag} with zero fuzz: ${(e as Error).message}`,
      `Nothing was changed. Inspect the worktree ${dir}.`,
    );
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const diff = writeExport(ctx, wanted);
  writeFileAtomic(ctx.project.lockFile, renderLock(moved.lock));
  return diff;
}

/** The conflicted files that the new upstream commit no longer has (modify/delete conflicts). */
function goneUpstream(dir: string, commit: string, files: string[]): string[] {
  return files.filter((f) => gitRaw(['-C', dir, 'cat-file', '-e', `${commit}:${f}`]).status !== 0);
}

/** What a maintainer does after the pin moved. */
function afterPin(moved: Context): string[] {
  const version = versionInfo(moved.lock, '').version;
  return [
    'npx tsx build.ts patches check',
    'npx tsx build.ts            # build against the new upstream (our crates may need changes too)',
    'npm test && npm run e2e',
    `# add \`## [${version}] - <date>\` to CHANGELOG.md, commit, and tag v${version} to release`,
  ];
}

export function bump(ctx: Context, tagOrNone: string | undefined, opts: { force?: boolean; worktree?: string; to?: string }): BumpResult {
  const resolved = opts.to ? resolveEdge(ctx, opts.to) : undefined;
  const tag = resolved ? edgeName(resolved.edge.branch, resolved.commit) : tagOrNone!;
  if (tag === ctx.lock.tag) throw new UserError(`upstream.lock already pins ${tag}`, 'Nothing to do.');
  if (!resolved && semver.lt(tagVersion(tag), tagVersion(versionTag(ctx.lock))) && !opts.force) {
    throw new UserError(`${tag} is older than the pinned ${ctx.lock.tag}`, 'Pass --force to pin an older release.');
  }
  const problems = lintSeries(ctx.project.seriesFile, ctx.lock.workspace, UPSTREAM_FACTS.crateDir);
  if (problems.length > 0)
    throw new UserError(
      `the patch series has ${problems.length} problem(s):\n  - ${problems.map((p) => p.message).join('\n  - ')}`,
      'Fix them first (`npx tsx build.ts patches check`).',
    );
  const session = resolved
    ? prepareSession(ctx, [], { known: [{ name: tag, commit: resolved.commit }] })
    : prepareSession(ctx, [resolveTag(ctx, tag)], { refetch: true });
  const tryResult = runTry(session, tag);
  const commit = tryResult.commit;
  const moved = movedContext(ctx, tag, commit, resolved?.edge);
  // The worktree checks out the whole workspace at the new tag: bring its blobs (one batched fetch).
  acquireUpstream({ gitDir: ctx.cache.upstreamGit, sources: ctx.upstreamSources, main: ctx.upstreamMain, lock: moved.lock, offline: ctx.opts.offline });
  // `git am --3way` reads each patch's preimage (its `index` line) from the worktree's object store,
  // the partial cache: bring those blobs in, and the intermediate ones patches 1..N-1 make on the
  // old pin, or a patch whose file upstream removed stops am with "could not fetch <blob> from
  // promisor remote" instead of a modify/delete conflict a maintainer can resolve (or --skip).
  const loaded = loadPatches(readSeries(ctx.project.seriesFile));
  fetchBlobs(
    ctx,
    ctx.cache.upstreamGit,
    loaded.flatMap((p) => p.preimages).filter((o) => o.length === 40),
    session.stats,
  );
  seedIntermediateBlobs(ctx.cache.upstreamGit, ctx.lock.commit, loaded);
  const dir = opts.worktree ? path.resolve(opts.worktree) : bumpWorktreeDir(ctx, tag, commit);
  const { stoppedAt } = replay(moved, dir, commit, opts.force ?? false);
  if (stoppedAt) {
    return {
      tag,
      commit,
      worktree: dir,
      pinned: false,
      tryResult,
      stoppedAt,
      next: [
        `cd ${dir}`,
        `# resolve the conflict markers in: ${stoppedAt.files.join(', ') || '(see git status)'}`,
        ...goneUpstream(dir, commit, stoppedAt.files).map(
          (f) => `# ${f} no longer exists upstream: \`git rm\` it, or \`git am --skip\` if the whole patch is obsolete`,
        ),
        'git add <files> && git am --continue      # repeat for each patch that stops',
        `npx tsx build.ts${currentChannel() === 'edge' ? ' --channel edge' : ''} upstream bump ${resolved ? `--to ${commit}` : tag} --continue${opts.worktree ? ` --worktree ${dir}` : ''}   # pins ${tag} in ${path.relative(ctx.project.root, ctx.project.lockFile)}, then \`patches export\``,
      ],
    };
  }
  const exp = pinAndExport(ctx, moved, dir);
  return { tag, commit, worktree: dir, pinned: true, tryResult, export: exp, next: afterPin(moved) };
}

/** After a maintainer finished `git am` in the bump worktree: pin the tag and export the patches. */
export function bumpContinue(ctx: Context, tagOrNone: string | undefined, opts: { worktree?: string; to?: string }): BumpResult {
  const resolved = opts.to ? resolveEdge(ctx, opts.to) : undefined;
  const tag = resolved ? edgeName(resolved.edge.branch, resolved.commit) : tagOrNone!;
  const r = resolved
    ? { status: 0, stdout: resolved.commit }
    : gitRaw(['--git-dir', ctx.cache.upstreamGit, 'rev-parse', '--verify', '--quiet', `${fetchedRef(tag)}^{commit}`]);
  if (r.status !== 0) throw new UserError(`${tag} is not in the cache`, `Start with \`npx tsx build.ts upstream bump ${tag}\`.`);
  const commit = r.stdout.trim();
  const dir = opts.worktree ? path.resolve(opts.worktree) : bumpWorktreeDir(ctx, tag, commit);
  if (!fs.existsSync(path.join(dir, '.git'))) throw new UserError(`no bump worktree at ${dir}`, `Start with \`npx tsx build.ts upstream bump ${tag}\`.`);
  if (amInProgress(dir)) {
    throw new UserError(
      `git am is still in progress in ${dir}`,
      'Resolve the conflicts, `git add` the files and `git am --continue` until every patch is a commit.',
    );
  }
  if (isDirty(dir)) throw new UserError(`the worktree ${dir} has uncommitted changes`, 'Commit them (amend the patch they belong to) first.');
  const base = gitOk(['-C', dir, 'rev-parse', 'litellm-base^{commit}'], 'the worktree has no litellm-base tag').trim();
  if (base !== commit) throw new UserError(`the worktree ${dir} is based on ${base.slice(0, 12)}, not on ${tag} (${commit.slice(0, 12)})`);
  const moved = movedContext(ctx, tag, commit, resolved?.edge);
  const exp = pinAndExport(ctx, moved, dir);
  return { tag, commit, worktree: dir, pinned: true, export: exp, next: afterPin(moved) };
}
