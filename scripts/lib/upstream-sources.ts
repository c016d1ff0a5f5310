/**
 * Several sources for upstream's tags. No single public mirror carries every upstream release: one
 * snapshot has the authentic tags up to rust-v0.115.0, another 0.122-0.125. The cache (one bare
 * partial clone) gets one git remote per source (`origin` for the first, `mirror-<n>` for the
 * others, every one a promisor), a tag is fetched from the sources that carry it, and sources that
 * carry the same tag must agree on its commit: a tag that two mirrors disagree on is refused with
 * both commits named, since one of them is not upstream's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from './errors.ts';
import { gitOk, gitRaw, gitReason } from './git.ts';

export const isUrl = (s: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^[^/]+@[^:]+:/.test(s);

export function sourceUrl(source: string): string {
  if (isUrl(source)) return source;
  // file:// (not a plain path) makes git use upload-pack, which is what honours --filter.
  return `file://${path.resolve(source)}`;
}

/** The cache's git remote for the n-th source. */
export const remoteName = (i: number): string => (i === 0 ? 'origin' : `mirror-${i}`);

/** The cache's git remote for the mirror of upstream's main branch (edge pins); its tags are never fetched. */
export const MAIN_REMOTE = 'upstream-main';

/** Every source objects may be fetched from: the tag sources, then the main mirror when there is one. */
export const objectSources = (sources: string[], main?: string): string[] => (main && !sources.includes(main) ? [...sources, main] : sources);

/** The cache's remote for a source of `objectSources(sources, main)`. */
export function remoteOf(sources: string[], main: string | undefined, source: string): string {
  const i = sources.indexOf(source);
  if (i >= 0) return remoteName(i);
  if (source === main) return MAIN_REMOTE;
  throw new UserError(`${source} is not one of the upstream sources`);
}

/** A tag with the commit it points to (annotated tags peeled), as one source lists it. */
export interface RemoteTag {
  name: string;
  commit?: string;
}

/** `git ls-remote --tags` of one source (optionally only some tags): every tag with its commit. */
export function listTagsLsRemote(source: string, only?: string[]): RemoteTag[] {
  const patterns = only?.flatMap((t) => [`refs/tags/${t}`, `refs/tags/${t}^{}`]) ?? [];
  const r = gitRaw(['ls-remote', '--tags', sourceUrl(source), ...patterns]);
  if (r.status !== 0) {
    throw new UserError(
      `cannot list the tags of ${source}: ${gitReason(r.stderr)}`,
      'Check the network, or point --upstream (CODEX_LITELLM_UPSTREAM) at a mirror of openai/codex.',
    );
  }
  const byName = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^([0-9a-f]{40,64})\trefs\/tags\/(.+?)(\^\{\})?$/.exec(line);
    if (!m) continue;
    // The peeled line (^{}) names the commit of an annotated tag; it wins over the tag object.
    if (m[3] || !byName.has(m[2]!)) byName.set(m[2]!, m[1]!);
  }
  return [...byName].map(([name, commit]) => ({ name, commit }));
}

/** A tag as the sources carry it: the first source that has it, and the commit they agree on. */
export interface SourcedTag extends RemoteTag {
  source: string;
  remote: string;
}

/** Two sources that list one tag at different commits. */
export interface Disagreement {
  tag: string;
  listed: { source: string; commit: string }[];
}

export interface SourcesListing {
  tags: SourcedTag[];
  disagreements: Disagreement[];
}

/** Every tag of every source (first source first); tags the sources disagree on are kept apart. */
export function listAllTags(sources: string[], only?: string[]): SourcesListing {
  const seen = new Map<string, { tag: SourcedTag; listed: { source: string; commit: string }[] }>();
  sources.forEach((source, i) => {
    for (const t of listTagsLsRemote(source, only)) {
      const entry = seen.get(t.name);
      if (!entry) seen.set(t.name, { tag: { ...t, source, remote: remoteName(i) }, listed: [{ source, commit: t.commit ?? '' }] });
      else entry.listed.push({ source, commit: t.commit ?? '' });
    }
  });
  const tags: SourcedTag[] = [];
  const disagreements: Disagreement[] = [];
  for (const [name, { tag, listed }] of seen) {
    if (new Set(listed.map((l) => l.commit)).size > 1) disagreements.push({ tag: name, listed });
    else tags.push(tag);
  }
  return { tags, disagreements };
}

export function disagreementError(d: Disagreement): UserError {
  return new UserError(
    `the upstream sources disagree on ${d.tag}: ${d.listed.map((l) => `${l.source} has ${l.commit}`).join(', ')}`,
    'Only one of them is upstream openai/codex: drop the other from --upstream (or `upstream` in the user file), or check which commit upstream really tagged.',
  );
}

/** One tag across the sources: where to fetch it and its commit; refused when the sources disagree or none has it. */
export function locateTag(sources: string[], tag: string): SourcedTag {
  const listing = listAllTags(sources, [tag]);
  const d = listing.disagreements.find((x) => x.tag === tag);
  if (d) throw disagreementError(d);
  const t = listing.tags.find((x) => x.name === tag);
  if (!t) {
    throw new UserError(
      `${sources.length > 1 ? `none of the upstream sources (${sources.join(', ')}) has` : `upstream source ${sources[0]} has no`} tag ${tag}`,
      'See `npx tsx build.ts upstream check` (add --pre for prereleases) for the tags the sources have, or add a mirror that carries it with --upstream.',
    );
  }
  return t;
}

/** Point the cache's remotes at the sources (they may have changed since the cache was made); every one is a promisor. */
export function configureRemotes(gitDir: string, sources: string[], main?: string): void {
  const set = (k: string, v: string): void => void gitOk(['--git-dir', gitDir, 'config', k, v], `cannot configure ${gitDir}`);
  const remotes: [string, string][] = sources.map((source, i) => [remoteName(i), source]);
  if (main) remotes.push([MAIN_REMOTE, main]);
  for (const [remote, source] of remotes) {
    const url = sourceUrl(source);
    set(`remote.${remote}.url`, url);
    set(`remote.${remote}.promisor`, 'true');
    set(`remote.${remote}.partialclonefilter`, 'blob:none');
    if (url.startsWith('file://')) {
      // A local mirror is not a server: allow what a partial fetch needs (filters, objects by id).
      set(`remote.${remote}.uploadpack`, 'git -c uploadpack.allowFilter=true -c uploadpack.allowAnySHA1InWant=true upload-pack');
    } else {
      gitRaw(['--git-dir', gitDir, 'config', '--unset', `remote.${remote}.uploadpack`]);
    }
  }
  // Remotes of sources no longer configured go, so a lazy fetch never asks a mirror that was dropped.
  const r = gitRaw(['--git-dir', gitDir, 'config', '--get-regexp', '^remote\\.mirror-[0-9]+\\.url$']);
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const n = Number(/^remote\.mirror-(\d+)\.url/.exec(line)?.[1]);
    if (n >= sources.length) gitRaw(['--git-dir', gitDir, 'remote', 'remove', `mirror-${n}`]);
  }
  set('extensions.partialclone', 'origin');
  set('gc.auto', '0');
}

/**
 * Which source to ask for each object, trying them in the order given: a local source is asked
 * directly which objects it has (one `cat-file --batch-check`); objects no local source has go to
 * the first URL source, if any. Returns source -> objects; objects nobody can serve are in `missing`.
 */
export function assignObjects(sources: string[], oids: string[]): { bySource: Map<string, string[]>; missing: string[] } {
  const bySource = new Map<string, string[]>();
  let left = oids;
  for (const source of sources) {
    if (left.length === 0 || isUrl(source) || !fs.existsSync(source)) continue;
    const r = gitRaw(['--git-dir', gitDirOf(source), 'cat-file', '--batch-check=%(objectname) %(objecttype)'], { input: `${left.join('\n')}\n` });
    if (r.status !== 0) continue;
    const have = new Set(
      r.stdout
        .split('\n')
        .filter((l) => l && !l.endsWith(' missing'))
        .map((l) => l.split(' ')[0]!),
    );
    const mine = left.filter((o) => have.has(o));
    if (mine.length > 0) bySource.set(source, mine);
    left = left.filter((o) => !have.has(o));
  }
  const firstUrl = sources.find((s) => isUrl(s));
  if (left.length > 0 && firstUrl !== undefined) {
    bySource.set(firstUrl, [...(bySource.get(firstUrl) ?? []), ...left]);
    left = [];
  }
  return { bySource, missing: left };
}

/** The git directory of a local source: a bare repository, or a clone's .git. */
function gitDirOf(source: string): string {
  const dotGit = path.join(source, '.git');
  return fs.existsSync(dotGit) ? dotGit : source;
}
