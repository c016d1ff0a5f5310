/**
 * Upstream tracking operations: `upstream check` (newer releases than the pin), `upstream try`
 * (our series on one tag, 3-way where needed) and `upstream drift` (the same for every release in
 * a range). All of them work on the bare partial cache: no checkout, and the repo is not changed.
 */
import type { Context } from '../lib/context.ts';
import { UserError } from '../lib/errors.ts';
import { readSeries } from '../lib/series.ts';
import { disagreementError, listAllTags, locateTag, type SourcedTag } from '../lib/upstream-sources.ts';
import { emptyStats, ensureTags, fetchBlobs, blobsAt, localObjects, prepareCache, type FetchStats, type IndexEntry } from './fetch.ts';
import { loadPatches, seedIntermediateBlobs, touchedFiles, trySeries, type LoadedPatch, type ScratchResult } from './scratch.ts';
import { listUpstreamTags, newerThan, tagsInRange, type ReleaseTag, type RemoteTag, type TagListing } from './tags.ts';

export interface CheckResult {
  pinned: string;
  via: TagListing['via'];
  note?: string;
  newer: ReleaseTag[];
  latest?: string;
}

export async function checkUpstream(ctx: Context, opts: { pre?: boolean; fetch?: typeof globalThis.fetch } = {}): Promise<CheckResult> {
  // Every source's releases together (one mirror may carry only the newer ones).
  const listings = [];
  for (const source of ctx.upstreamSources) listings.push(await listUpstreamTags(source, { offline: ctx.opts.offline, fetch: opts.fetch }));
  const newer = newerThan(
    listings.flatMap((l) => l.tags),
    ctx.lock.tag,
    { pre: opts.pre },
  );
  const notes = listings.map((l) => l.note).filter((n): n is string => Boolean(n));
  return {
    pinned: ctx.lock.tag,
    via: listings.every((l) => l.via === 'github-api') ? 'github-api' : 'ls-remote',
    note: notes.length ? notes.join('; ') : undefined,
    newer,
    latest: newer.at(-1)?.name,
  };
}

/** Everything a scratch apply needs, prepared once for any number of tags. */
export interface Session {
  gitDir: string;
  patches: LoadedPatch[];
  commits: Map<string, string>;
  /** Per commit: the series' files as upstream has them there (the scratch index holds only these). */
  entries: Map<string, Map<string, IndexEntry>>;
  stats: FetchStats;
  /** Patches that do not apply to the pinned commit itself (then their 3-way merges cannot work). */
  brokenOnBase: string[];
  prepareMs: number;
}

/**
 * Bring the pinned commit and `tags` into the cache (one fetch for all missing tags), the blobs of
 * the files the series touches at each of them (one fetch), and the series' intermediate blobs.
 */
export function prepareSession(
  ctx: Context,
  tags: (RemoteTag & { source?: string })[],
  opts: { refetch?: boolean; known?: { name: string; commit: string }[] } = {},
): Session {
  const started = performance.now();
  const gitDir = prepareCache(ctx);
  const stats = emptyStats();
  const patches = loadPatches(readSeries(ctx.project.seriesFile));
  // The pin comes along in the same single fetch, and is verified like the build does: its tag
  // must still resolve to the locked commit.
  // An edge pin has no tag to fetch: its commit is in the cache already (acquisition verified it).
  const wantTags = ctx.lock.edge ? tags : [{ name: ctx.lock.tag, commit: ctx.lock.commit }, ...tags.filter((t) => t.name !== ctx.lock.tag)];
  let commits: Map<string, string>;
  try {
    commits = ensureTags(ctx, gitDir, wantTags, stats, opts);
  } catch (e) {
    if (e instanceof UserError && e.message.startsWith(`tag ${ctx.lock.tag} resolves to`)) {
      throw new UserError(
        `tag ${ctx.lock.tag} from ${ctx.upstreamSource} does not resolve to ${ctx.lock.commit}, which upstream.lock pins`,
        'The tag moved or the mirror is wrong; check the source.',
      );
    }
    throw e;
  }
  // Commits already in the cache under a name of their own (an edge pin's commit of main).
  for (const k of [...(ctx.lock.edge ? [{ name: ctx.lock.tag, commit: ctx.lock.commit }] : []), ...(opts.known ?? [])]) commits.set(k.name, k.commit);
  const files = touchedFiles(patches);
  const wanted: string[] = [];
  const entries = blobsAt(gitDir, [...commits.values()], files);
  for (const m of entries.values()) wanted.push(...[...m.values()].map((e) => e.oid));
  fetchBlobs(ctx, gitDir, wanted, stats);
  const have = localObjects(gitDir);
  const needSeed = patches.some((p) => p.preimages.some((o) => !have.has(o)));
  const brokenOnBase = needSeed ? seedIntermediateBlobs(gitDir, ctx.lock.commit, patches) : [];
  return { gitDir, patches, commits, entries, stats, brokenOnBase, prepareMs: performance.now() - started };
}

export interface TryResult extends ScratchResult {
  tag: string;
}

export function runTry(session: Session, tag: string, opts: { tree?: boolean } = {}): TryResult {
  const commit = session.commits.get(tag);
  if (!commit) throw new UserError(`tag ${tag} was not prepared`);
  return { tag, ...trySeries({ gitDir: session.gitDir, commit, patches: session.patches, files: session.entries.get(commit), tree: opts.tree }) };
}

/**
 * One tag, with its commit as the sources list it (so a moved tag is noticed) and the source that
 * carries it; a tag no source has, or one the sources disagree on, is refused (both commits named).
 */
export function resolveTag(ctx: Context, tag: string): SourcedTag {
  return locateTag(ctx.upstreamSources, tag);
}

export function tryTag(ctx: Context, tag: string): { result: TryResult; session: Session } {
  const session = prepareSession(ctx, [resolveTag(ctx, tag)]);
  return { result: runTry(session, tag), session };
}

export interface DriftRow {
  tag: string;
  commit: string;
  outcome: ScratchResult['outcome'];
  failing: number;
  merged: number;
  patches: number;
  conflicts: string[];
  ms: number;
}

export interface DriftResult {
  pinned: string;
  from: string;
  to: string;
  via: TagListing['via'];
  /** The series, in order (rows name patches from it). */
  series: string[];
  /** Patches that do not even apply to the pinned commit (then the rows say little about them). */
  brokenOnBase: string[];
  rows: DriftRow[];
  stats: FetchStats;
  prepareMs: number;
  totalMs: number;
}

export function drift(ctx: Context, opts: { from?: string; to?: string; pre?: boolean } = {}): DriftResult {
  const started = performance.now();
  // ls-remote gives each tag's commit, so cached tags are reused only while upstream agrees; every
  // source is listed, and a release in the range that two sources disagree on stops the table.
  const all = listAllTags(ctx.upstreamSources);
  const range = tagsInRange([...all.tags, ...all.disagreements.map((d) => ({ name: d.tag }))], ctx.lock.tag, opts);
  const bad = all.disagreements.find((d) => range.some((t) => t.name === d.tag));
  if (bad) throw disagreementError(bad);
  const sourceOf = new Map(all.tags.map((t) => [t.name, t.source]));
  if (range.length === 0)
    throw new UserError(
      `no release tags between ${opts.from ?? ctx.lock.tag} and ${opts.to ?? 'the latest'}`,
      'Check --from/--to (add --pre for prereleases).',
    );
  const session = prepareSession(
    ctx,
    range.map((t) => ({ name: t.name, commit: t.commit, source: sourceOf.get(t.name) })),
  );
  const rows = range.map((t): DriftRow => {
    const r = runTry(session, t.name);
    return {
      tag: t.name,
      commit: r.commit,
      outcome: r.outcome,
      failing: r.failing,
      merged: r.merged,
      patches: r.patches.length,
      conflicts: r.patches.filter((p) => p.outcome === 'conflict').map((p) => p.name),
      ms: r.ms,
    };
  });
  return {
    pinned: ctx.lock.tag,
    from: range[0]!.name,
    to: range.at(-1)!.name,
    via: 'ls-remote',
    series: session.patches.map((p) => p.entry.name),
    brokenOnBase: session.brokenOnBase,
    rows,
    stats: session.stats,
    prepareMs: session.prepareMs,
    totalMs: performance.now() - started,
  };
}
