/**
 * Upstream acquisition. The cache holds a bare *partial* clone (blob:none): commits and trees for
 * the pinned tag, and blobs only for the workspace directory we build. That keeps openai/codex's
 * large history and media out of the way, and works from incomplete mirrors too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from './errors.ts';
import { replaceDir } from './fs.ts';
import { gitBytes, gitOk, gitRaw, gitReason, gitWithProgress, type GitProgress, type RawResult } from './git.ts';
import type { UpstreamLock } from './lockfile.ts';
import { commitDate, mainFetchArgs, mainFetchError, verifiedRef, verifyEdge } from './edge.ts';
import { assignObjects, configureRemotes, isUrl, locateTag, objectSources, remoteOf } from './upstream-sources.ts';

export interface Upstream {
  gitDir: string;
  commit: string;
  /** True when this call fetched; false when the cache already had everything. */
  fetched: boolean;
}

export { isUrl, sourceUrl } from './upstream-sources.ts';

/** Create the bare cache repository if needed (in a temporary dir, renamed into place). */
export function ensureBare(gitDir: string): void {
  if (fs.existsSync(path.join(gitDir, 'HEAD'))) return;
  replaceDir(gitDir, (tmp) => {
    const r = gitRaw(['init', '--quiet', '--bare', tmp]);
    if (r.status !== 0) throw new UserError(`cannot create ${gitDir}: ${gitReason(r.stderr)}`);
  });
}

export function hasCommit(gitDir: string, commit: string): boolean {
  if (!fs.existsSync(gitDir)) return false;
  return gitRaw(['--git-dir', gitDir, 'cat-file', '-e', `${commit}^{commit}`]).status === 0;
}

function tagCommit(gitDir: string, ref: string): string | undefined {
  const r = gitRaw(['--git-dir', gitDir, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function blobsMarker(gitDir: string, commit: string, workspace: string): string {
  return path.join(gitDir, 'codex-litellm', `blobs-v2-${commit}-${workspace.replace(/\//g, '_')}`);
}

/**
 * A fetch the acquisition needs: git's arguments (with --quiet; a run with a progress display
 * swaps it for --progress) and what it brings, for that display.
 */
export interface FetchRequest {
  args: string[];
  what: string;
}

/**
 * The acquisition as a generator that yields its fetches and gets each one's result back, so the
 * same steps run synchronously (acquireUpstream) or with a progress display (acquireUpstreamAsync).
 */
type Flow<T> = Generator<FetchRequest, T, RawResult>;

/** Make sure every blob of <workspace> at <commit> is local (one batched fetch, not one per file). */
function* ensureWorkspaceBlobs(gitDir: string, commit: string, workspace: string, sources: string[], main: string | undefined, first?: string): Flow<void> {
  const marker = blobsMarker(gitDir, commit, workspace);
  if (fs.existsSync(marker)) return;
  const ls = gitRaw(['--git-dir', gitDir, 'cat-file', '-e', `${commit}:${workspace}`]);
  if (ls.status !== 0) {
    throw new UserError(`upstream commit ${commit} has no directory \`${workspace}\``, 'Check `workspace` in upstream.lock.');
  }
  // rev-list with --missing=print lists what is absent without one lazy fetch per object.
  const rl = gitRaw(['--git-dir', gitDir, 'rev-list', '--objects', '--missing=print', `${commit}:${workspace}`]);
  if (rl.status !== 0) throw new UserError(`cannot list ${workspace}/ at ${commit}: ${gitReason(rl.stderr)}`);
  const missing = rl.stdout
    .split('\n')
    .filter((l) => l.startsWith('?'))
    .map((l) => l.slice(1).trim());
  // Git also reads the ignore and attribute files above the workspace (status, commit in a
  // worktree), so those come along; nothing else outside the workspace is needed.
  const dirs = [
    '',
    ...workspace
      .split('/')
      .slice(0, -1)
      .map((_, i, a) => a.slice(0, i + 1).join('/') + '/'),
  ];
  for (const dir of dirs) {
    const top = gitRaw(['--git-dir', gitDir, 'ls-tree', commit, '--', `${dir}.gitignore`, `${dir}.gitattributes`]);
    for (const line of top.stdout.split('\n').filter(Boolean)) missing.push(line.split(/\s+/)[2]!);
  }
  // Each blob from a source that has it (a local mirror is asked directly), the tag's own source first.
  const all = objectSources(sources, main);
  const order = first ? [first, ...all.filter((s) => s !== first)] : all;
  const { bySource, missing: nowhere } = assignObjects(order, missing);
  if (nowhere.length > 0) {
    throw new UserError(
      `${nowhere.length} ${workspace}/ file(s) of ${commit} are in none of the upstream sources (${order.join(', ')}), e.g. ${nowhere[0]}`,
      'Is the upstream mirror complete for this directory?',
    );
  }
  for (const [from, oids] of bySource) {
    for (let i = 0; i < oids.length; i += 2000) {
      const batch = oids.slice(i, i + 2000);
      const r = yield {
        args: ['--git-dir', gitDir, 'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--filter=blob:none', remoteOf(sources, main, from), ...batch],
        what: `${workspace}/ files${oids.length > 2000 ? ` ${i + 1}-${i + batch.length} of ${oids.length}` : ` (${oids.length})`}`,
      };
      if (r.status !== 0) {
        throw new UserError(
          `cannot fetch ${workspace}/ files of ${commit} from ${from}: ${gitReason(r.stderr)}`,
          'Is the upstream mirror complete for this directory?',
        );
      }
    }
  }
  fs.mkdirSync(path.dirname(marker), { recursive: true });
  fs.writeFileSync(marker, `${missing.length} fetched\n`);
}

export interface AcquireOptions {
  gitDir: string;
  /** Upstream's sources, in order (Context.upstreamSources). */
  sources: string[];
  /** The mirror of upstream's main (Context.upstreamMain), for edge pins. */
  main?: string;
  lock: UpstreamLock;
  offline?: boolean;
}

/**
 * Bring the locked upstream commit into the cache and prove it is what the lock says: the tag,
 * as the sources that carry it list it, must resolve to the locked commit. Repeated runs with
 * everything present do not touch the network.
 */
function* acquireFlow(opts: AcquireOptions): Flow<Upstream> {
  const { gitDir, sources, lock } = opts;
  if (lock.edge) return yield* acquireEdgeFlow(opts);
  const localRef = `refs/tags/${lock.tag}`;
  if (hasCommit(gitDir, lock.commit) && tagCommit(gitDir, localRef) === lock.commit) {
    yield* ensureWorkspaceBlobs(gitDir, lock.commit, lock.workspace, sources, opts.main);
    return { gitDir, commit: lock.commit, fetched: false };
  }
  if (opts.offline) {
    throw new UserError(
      `upstream ${lock.tag} (${lock.commit}) is not in the cache ${gitDir} and --offline forbids fetching`,
      'Run once without --offline, or point --upstream at a local mirror.',
    );
  }
  for (const source of sources) {
    if (!isUrl(source) && !fs.existsSync(source)) {
      throw new UserError(
        `upstream source ${source} does not exist`,
        'Pass --upstream <path-or-url> (or set CODEX_LITELLM_UPSTREAM) to a clone or mirror of openai/codex.',
      );
    }
  }
  // Which source carries the tag, and do the sources agree on it (a disagreement is refused with both commits).
  const located = locateTag(sources, lock.tag);
  if (located.commit && located.commit !== lock.commit) {
    throw new UserError(
      `tag ${lock.tag} from ${located.source} resolves to ${located.commit}, but upstream.lock pins ${lock.commit}`,
      'The tag moved or the mirror is wrong. Check the source; if upstream really re-tagged, re-pin with `npx tsx build.ts upstream bump`.',
    );
  }
  ensureBare(gitDir);
  configureRemotes(gitDir, sources, opts.main);
  const fetchedRef = `refs/codex-litellm/fetched/${lock.tag}`;
  const r = yield {
    args: ['--git-dir', gitDir, 'fetch', '--quiet', '--no-tags', '--filter=blob:none', located.remote, `+refs/tags/${lock.tag}:${fetchedRef}`],
    what: `tag ${lock.tag}`,
  };
  if (r.status !== 0) {
    throw new UserError(
      `cannot fetch ${lock.tag} from ${located.source}: ${gitReason(r.stderr)}`,
      'Check the network or pass --upstream <path-or-url> (or CODEX_LITELLM_UPSTREAM) to a reachable mirror of openai/codex.',
    );
  }
  const got = tagCommit(gitDir, fetchedRef);
  if (got !== lock.commit) {
    throw new UserError(
      `tag ${lock.tag} from ${located.source} resolves to ${got ?? '(nothing)'}, but upstream.lock pins ${lock.commit}`,
      'The tag moved or the mirror is wrong. Check the source; if upstream really re-tagged, re-pin with `npx tsx build.ts upstream bump`.',
    );
  }
  gitOk(['--git-dir', gitDir, 'update-ref', localRef, lock.commit], 'cannot record the tag');
  yield* ensureWorkspaceBlobs(gitDir, lock.commit, lock.workspace, sources, opts.main, located.source);
  return { gitDir, commit: lock.commit, fetched: true };
}

/**
 * An edge pin (lockfile.ts): the base tag as the tag sources list it, the main branch from the
 * main mirror, and edge.ts's checks that the commit is upstream's; once passed, a ref remembers it
 * and later runs need no fetch.
 */
function* acquireEdgeFlow(opts: AcquireOptions): Flow<Upstream> {
  const { gitDir, sources, lock, main } = opts;
  const edge = lock.edge!;
  if (hasCommit(gitDir, lock.commit) && tagCommit(gitDir, verifiedRef(lock.commit)) === lock.commit) {
    yield* ensureWorkspaceBlobs(gitDir, lock.commit, lock.workspace, sources, main, main);
    return { gitDir, commit: lock.commit, fetched: false };
  }
  if (!main) {
    throw new UserError(
      `upstream.lock pins upstream ${edge.branch} @ ${lock.commit.slice(0, 8)} (${edge.date}), an edge commit, but no mirror of upstream's ${edge.branch} is configured`,
      'Point --upstream-main (CODEX_LITELLM_UPSTREAM_MAIN, `upstreamMain` in the user file) at a mirror of upstream openai/codex that carries its main branch.',
    );
  }
  if (opts.offline) {
    throw new UserError(`upstream ${edge.branch} @ ${lock.commit} is not in the cache ${gitDir} and --offline forbids fetching`, 'Run once without --offline.');
  }
  const base = locateTag(sources, edge.base);
  ensureBare(gitDir);
  configureRemotes(gitDir, sources, main);
  const baseRef = `refs/codex-litellm/fetched/${edge.base}`;
  const rb = yield {
    args: ['--git-dir', gitDir, 'fetch', '--quiet', '--no-tags', '--filter=blob:none', base.remote, `+refs/tags/${edge.base}:${baseRef}`],
    what: `tag ${edge.base}`,
  };
  if (rb.status !== 0) throw new UserError(`cannot fetch ${edge.base} from ${base.source}: ${gitReason(rb.stderr)}`, 'Check the tag sources (--upstream).');
  const rm = yield { args: mainFetchArgs(gitDir, edge.branch), what: `${edge.branch} of the main mirror` };
  if (rm.status !== 0) throw mainFetchError(rm, main, edge.branch);
  verifyEdge(gitDir, { commit: lock.commit, branch: edge.branch, source: main, base: { tag: edge.base, commit: tagCommit(gitDir, baseRef)! } });
  const date = commitDate(gitDir, lock.commit);
  if (date !== edge.date) {
    throw new UserError(
      `upstream.lock says ${lock.commit.slice(0, 12)} is of ${edge.date}, but its commit date is ${date}`,
      'Fix `date` in upstream.lock (upstream bump --to writes it).',
    );
  }
  gitOk(['--git-dir', gitDir, 'update-ref', verifiedRef(lock.commit), lock.commit], 'cannot record the verified commit');
  yield* ensureWorkspaceBlobs(gitDir, lock.commit, lock.workspace, sources, main, main);
  return { gitDir, commit: lock.commit, fetched: true };
}

/** acquireFlow with each fetch run synchronously and quietly. */
export function acquireUpstream(opts: AcquireOptions): Upstream {
  const flow = acquireFlow(opts);
  for (let step = flow.next(); ; ) {
    if (step.done) return step.value;
    step = flow.next(gitRaw(step.value.args));
  }
}

/** acquireFlow with each fetch run asynchronously, its progress meter reported as it goes. */
export async function acquireUpstreamAsync(opts: AcquireOptions, onProgress: (what: string, p: GitProgress) => void): Promise<Upstream> {
  const flow = acquireFlow(opts);
  for (let step = flow.next(); ; ) {
    if (step.done) return step.value;
    const { args, what } = step.value;
    onProgress(what, { phase: 'Starting' });
    step = flow.next(
      await gitWithProgress(
        args.map((a) => (a === '--quiet' ? '--progress' : a)),
        (p) => onProgress(what, p),
      ),
    );
  }
}

/** File contents at a commit, or undefined when the path does not exist there. */
export function readAt(gitDir: string, commit: string, file: string): Buffer | undefined {
  const r = gitRaw(['--git-dir', gitDir, 'cat-file', '-e', `${commit}:${file}`]);
  if (r.status !== 0) return undefined;
  return gitBytes(['--git-dir', gitDir, 'cat-file', 'blob', `${commit}:${file}`]).stdout;
}
