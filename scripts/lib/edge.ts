/**
 * Edge pins: a commit of upstream's `main` past the newest release tag we can verify. Upstream
 * tags a release as a commit of main plus a one-line version bump, so a commit of main after a
 * release descends from that release tag's *parent*. That is the check that makes a commit
 * upstream's: it is on the main branch of the configured mirror, and its parent chain reaches the
 * parent of a release tag the tag sources agree on (the pin's `base`, which versions count from).
 * A fork's own tags are never read from the main mirror.
 */
import { UserError } from './errors.ts';
import { gitOk, gitRaw, gitReason, type RawResult } from './git.ts';
import { MAIN_REMOTE } from './upstream-sources.ts';

/** Where a fetched branch of the main mirror is kept in the cache. */
export const mainRef = (branch: string): string => `refs/codex-litellm/main/${branch}`;

/** Marks a commit the checks below passed for (the next run needs no fetch). */
export const verifiedRef = (commit: string): string => `refs/codex-litellm/edge/${commit}`;

/** The fetch that brings `branch` of the main mirror into the cache (commits and trees only). */
export function mainFetchArgs(gitDir: string, branch: string): string[] {
  return [
    '--git-dir',
    gitDir,
    'fetch',
    '--quiet',
    '--no-tags',
    '--no-write-fetch-head',
    '--filter=blob:none',
    MAIN_REMOTE,
    `+refs/heads/${branch}:${mainRef(branch)}`,
  ];
}

export function mainFetchError(r: RawResult, source: string, branch: string): UserError {
  const noBranch = /couldn't find remote ref|not our ref|no such ref/i.test(r.stderr);
  return new UserError(
    noBranch ? `the main mirror ${source} has no branch ${branch}` : `cannot fetch ${branch} from the main mirror ${source}: ${gitReason(r.stderr)}`,
    "Point --upstream-main (CODEX_LITELLM_UPSTREAM_MAIN, `upstreamMain` in the user file) at a mirror of upstream openai/codex whose main is upstream's.",
  );
}

const isAncestor = (gitDir: string, a: string, b: string): boolean => gitRaw(['--git-dir', gitDir, 'merge-base', '--is-ancestor', a, b]).status === 0;

export function parentOf(gitDir: string, commit: string): string {
  return gitOk(['--git-dir', gitDir, 'rev-parse', '--verify', `${commit}^1^{commit}`], `cannot read the parent of ${commit}`).trim();
}

/**
 * The checks of an edge commit, against what is in the cache: the main branch (fetched with
 * mainFetchArgs) and the base tag's commit. Each refusal names what did not match.
 */
export function verifyEdge(gitDir: string, opts: { commit: string; branch: string; source: string; base: { tag: string; commit: string } }): void {
  const { commit, branch, source, base } = opts;
  if (gitRaw(['--git-dir', gitDir, 'cat-file', '-e', `${commit}^{commit}`]).status !== 0) {
    throw new UserError(
      `commit ${commit} is not in the main mirror ${source}`,
      `Check the commit (\`git -C <mirror> log ${branch}\`), or point --upstream-main at a mirror whose ${branch} has it.`,
    );
  }
  if (!isAncestor(gitDir, commit, mainRef(branch))) {
    const head = gitOk(['--git-dir', gitDir, 'rev-parse', mainRef(branch)], 'cannot read the fetched branch').trim();
    throw new UserError(
      `commit ${commit} is not on ${branch} of ${source} (its ${branch} is at ${head})`,
      `An edge pin is a commit of upstream ${branch}: pick one from \`git -C <mirror> log ${branch}\`.`,
    );
  }
  const baseParent = parentOf(gitDir, base.commit);
  if (!isAncestor(gitDir, baseParent, commit)) {
    throw new UserError(
      `commit ${commit} does not descend from ${baseParent}, the parent of ${base.tag} (${base.commit}): it is not a commit of upstream ${branch} after ${base.tag}`,
      "Upstream tags a release as a commit of main plus a version bump, so every later commit of main descends from that parent. Check that the mirror is upstream's (not a fork with its own history), or use an older base.",
    );
  }
}

/** The newest of `tags` (newest first) whose parent `commit` descends from: the edge pin's base. */
export function findBase(gitDir: string, commit: string, tagsNewestFirst: { name: string; commit: string }[]): { name: string; commit: string } | undefined {
  return tagsNewestFirst.find((t) => isAncestor(gitDir, parentOf(gitDir, t.commit), commit));
}

/** The commit's committer date, YYYY-MM-DD in UTC. */
export function commitDate(gitDir: string, commit: string): string {
  const iso = gitOk(['--git-dir', gitDir, 'show', '-s', '--format=%cI', commit], `cannot read the date of ${commit}`).trim();
  return new Date(iso).toISOString().slice(0, 10);
}

/** A full commit id of the main mirror's fetched branch from a full or abbreviated one. */
export function resolveMainCommit(gitDir: string, spec: string, branch: string, source: string): string {
  if (!/^[0-9a-f]{7,40}$/.test(spec)) throw new UserError(`\`${spec}\` is not a commit id`, 'Give a commit of upstream main, e.g. --to 343074d4207d.');
  const r = gitRaw(['--git-dir', gitDir, 'rev-parse', '--verify', '--quiet', `${spec}^{commit}`]);
  if (r.status !== 0) {
    throw new UserError(
      `commit ${spec} is not in the main mirror ${source}`,
      `Check the commit (\`git -C <mirror> log ${branch}\`), or point --upstream-main at a mirror that has it.`,
    );
  }
  return r.stdout.trim();
}
