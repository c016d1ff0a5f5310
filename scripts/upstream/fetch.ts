/**
 * Bringing other upstream tags into the cache (the bare partial clone the build uses), cheaply:
 * every tag that is not there yet comes in ONE `git fetch --filter=blob:none` (commits and trees
 * only), and the blobs that applying the series needs, the files it touches at each tag, come in
 * ONE `git fetch origin <oid>...` instead of one lazy fetch per file.
 */
import * as fs from 'node:fs';
import type { Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import { gitOk, gitRaw, gitReason } from '../lib/git.ts';
import { ensureBare } from '../lib/upstream-cache.ts';
import {
  assignObjects,
  configureRemotes,
  disagreementError,
  isUrl,
  listAllTags,
  objectSources,
  remoteName,
  remoteOf,
  type RemoteTag,
} from '../lib/upstream-sources.ts';

/** Where a fetched tag is kept in the cache (the same namespace `acquireUpstream` uses). */
export const fetchedRef = (tag: string): string => `refs/codex-litellm/fetched/${tag}`;

/** What was fetched, for reports and for tests that prove the batching. */
export interface FetchStats {
  /** `git fetch` runs for tags (0 when every tag was cached, else 1 per 500 tags). */
  tagFetches: number;
  tagsFetched: number;
  /** `git fetch` runs for blobs (0 or 1 per 2000 blobs). */
  blobFetches: number;
  blobsFetched: number;
}

export const emptyStats = (): FetchStats => ({ tagFetches: 0, tagsFetched: 0, blobFetches: 0, blobsFetched: 0 });

/** Point the cache's remotes at the configured sources (they may have changed since the cache was made). */
export function prepareCache(ctx: Context): string {
  const gitDir = ctx.cache.upstreamGit;
  for (const source of ctx.upstreamSources) {
    if (!isUrl(source) && !fs.existsSync(source)) {
      throw new UserError(
        `upstream source ${source} does not exist`,
        'Pass --upstream <path-or-url> (or set CODEX_LITELLM_UPSTREAM) to a clone or mirror of openai/codex.',
      );
    }
  }
  ensureBare(gitDir);
  configureRemotes(gitDir, ctx.upstreamSources, ctx.upstreamMain);
  return gitDir;
}

/** Local commits of fetched tags: tag -> commit. */
export function localTagCommits(gitDir: string): Map<string, string> {
  const r = gitRaw(['--git-dir', gitDir, 'for-each-ref', '--format=%(refname) %(*objectname) %(objectname)', 'refs/codex-litellm/fetched/']);
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [ref, peeled, oid] = line.split(' ');
    out.set(ref!.replace('refs/codex-litellm/fetched/', ''), peeled || oid!);
  }
  return out;
}

/**
 * Make sure each tag's commit (and its trees) is in the cache; returns tag -> commit. A tag already
 * fetched is reused when the listing's commit agrees (or the listing gives none); the rest come in
 * one fetch. `refetch` fetches the named tags again whatever the cache has (to verify a tag before
 * pinning it).
 */
export function ensureTags(
  ctx: Context,
  gitDir: string,
  tags: (RemoteTag & { source?: string })[],
  stats: FetchStats,
  opts: { refetch?: boolean } = {},
): Map<string, string> {
  const have = localTagCommits(gitDir);
  const want = tags.filter((t) => opts.refetch || !have.has(t.name) || (t.commit !== undefined && have.get(t.name) !== t.commit));
  if (want.length > 0 && ctx.opts.offline) {
    throw new UserError(
      `${want.map((t) => t.name).join(', ')} ${want.length === 1 ? 'is' : 'are'} not in the cache ${gitDir} and --offline forbids fetching`,
      'Run once without --offline.',
    );
  }
  // Each tag from the source that carries it: tags without a known remote are looked up (one
  // ls-remote per source), and a tag the sources disagree on is refused with both commits.
  const unplaced = want.filter((t) => !t.source).map((t) => t.name);
  const placed = new Map<string, string>();
  if (unplaced.length > 0) {
    const listing = listAllTags(ctx.upstreamSources, unplaced.length <= 50 ? unplaced : undefined);
    for (const d of listing.disagreements) if (unplaced.includes(d.tag)) throw disagreementError(d);
    for (const t of listing.tags) placed.set(t.name, t.source);
  }
  const bySource = new Map<string, typeof want>();
  for (const t of want) {
    const source = t.source ?? placed.get(t.name);
    if (!source) {
      throw new UserError(
        `${ctx.upstreamSources.length > 1 ? `none of the upstream sources (${ctx.upstreamSources.join(', ')}) has` : `upstream source ${ctx.upstreamSource} has no`} tag ${t.name}`,
        'See `npx tsx build.ts upstream check --pre` for the tags upstream has.',
      );
    }
    bySource.set(source, [...(bySource.get(source) ?? []), t]);
  }
  for (const [source, list] of bySource) {
    const remote = remoteName(ctx.upstreamSources.indexOf(source));
    for (let i = 0; i < list.length; i += 500) {
      const batch = list.slice(i, i + 500);
      const r = gitRaw([
        '--git-dir',
        gitDir,
        'fetch',
        '--quiet',
        '--no-tags',
        '--no-write-fetch-head',
        '--filter=blob:none',
        remote,
        ...batch.map((t) => `+refs/tags/${t.name}:${fetchedRef(t.name)}`),
      ]);
      stats.tagFetches += 1;
      if (r.status !== 0) {
        const missing = /couldn't find remote ref refs\/tags\/(\S+)/.exec(r.stderr);
        throw new UserError(
          missing
            ? `upstream source ${source} has no tag ${missing[1]}`
            : `cannot fetch ${batch.map((t) => t.name).join(', ')} from ${source}: ${gitReason(r.stderr)}`,
          missing ? 'See `npx tsx build.ts upstream check --pre` for the tags upstream has.' : 'Check the network or --upstream (CODEX_LITELLM_UPSTREAM).',
        );
      }
      stats.tagsFetched += batch.length;
    }
  }
  const now = want.length > 0 ? localTagCommits(gitDir) : have;
  const out = new Map<string, string>();
  for (const t of tags) {
    const c = now.get(t.name);
    if (!c) throw new UserError(`tag ${t.name} is not in the cache after fetching it`);
    if (t.commit !== undefined && t.commit !== c) {
      throw new UserError(`tag ${t.name} resolves to ${c} in the cache, but the source lists ${t.commit}`, 'The tag moved while we looked; run again.');
    }
    out.set(t.name, c);
  }
  return out;
}

/** Every object the cache has locally, without lazy fetches (one git process). */
export function localObjects(gitDir: string): Set<string> {
  const out = gitOk(
    ['--git-dir', gitDir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname)', '--unordered'],
    `cannot list the objects of ${gitDir}`,
  );
  return new Set(out.split('\n').filter(Boolean));
}

export interface IndexEntry {
  mode: string;
  oid: string;
}

/** Blob ids (and modes) of `files` at each commit (files absent at a commit are skipped). One git process per commit. */
export function blobsAt(gitDir: string, commits: string[], files: string[]): Map<string, Map<string, IndexEntry>> {
  const out = new Map<string, Map<string, IndexEntry>>();
  if (files.length === 0) return out;
  for (const c of new Set(commits)) {
    // ls-tree with paths reads trees only: no blob is needed, so nothing is fetched lazily.
    const r = gitRaw(['--git-dir', gitDir, 'ls-tree', '-z', '--full-tree', c, '--', ...files]);
    if (r.status !== 0) throw new UserError(`cannot list files of ${c}: ${gitReason(r.stderr)}`);
    const m = new Map<string, IndexEntry>();
    for (const entry of r.stdout.split('\0').filter(Boolean)) {
      const tab = entry.indexOf('\t');
      const [mode, type, oid] = entry.slice(0, tab).split(' ');
      if (type === 'blob') m.set(entry.slice(tab + 1), { mode: mode!, oid: oid! });
    }
    out.set(c, m);
  }
  return out;
}

/** Fetch whichever of `oids` the cache lacks, in one batched fetch per source that has them (chunks of 2000). */
export function fetchBlobs(ctx: Context, gitDir: string, oids: Iterable<string>, stats: FetchStats): number {
  const have = localObjects(gitDir);
  const missing = [...new Set(oids)].filter((o) => !have.has(o));
  if (missing.length === 0) return 0;
  if (ctx.opts.offline) {
    throw new UserError(`${missing.length} file(s) the series touches are not in the cache and --offline forbids fetching`, 'Run once without --offline.');
  }
  const all = objectSources(ctx.upstreamSources, ctx.upstreamMain);
  const { bySource, missing: nowhere } = assignObjects(all, missing);
  if (nowhere.length > 0) {
    throw new UserError(
      `${nowhere.length} file(s) are in none of the upstream sources (${all.join(', ')}), e.g. ${nowhere[0]}`,
      'Is the upstream mirror complete?',
    );
  }
  for (const [source, list] of bySource) {
    const remote = remoteOf(ctx.upstreamSources, ctx.upstreamMain, source);
    for (let i = 0; i < list.length; i += 2000) {
      const batch = list.slice(i, i + 2000);
      const r = gitRaw(['--git-dir', gitDir, 'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--filter=blob:none', remote, ...batch]);
      stats.blobFetches += 1;
      if (r.status !== 0)
        throw new UserError(`cannot fetch ${batch.length} file(s) from ${source}: ${gitReason(r.stderr)}`, 'Is the upstream mirror complete?');
      stats.blobsFetched += batch.length;
    }
  }
  return missing.length;
}
