/**
 * Upstream's release tags: where they come from and how they compare. On github.com with a
 * working network the list comes from the GitHub API (octokit: published releases, so a tag whose
 * release is still being built does not count yet); anywhere else, and as the fallback, from
 * `git ls-remote --tags <source>` (a local mirror works offline). Versions are compared with semver
 * after the tag prefix of the pinned tag (`rust-v` for `rust-v0.53.0`) is taken off.
 */
import semver from 'semver';
import { UserError } from '../lib/errors.ts';
import { isUrl } from '../lib/upstream-cache.ts';

/** A tag; its commit (peeled) when the listing says. The GitHub releases API does not. */
export type { RemoteTag } from '../lib/upstream-sources.ts';
import { listTagsLsRemote, type RemoteTag } from '../lib/upstream-sources.ts';

export interface ReleaseTag extends RemoteTag {
  version: string;
  prerelease: boolean;
}

export type TagSource = 'github-api' | 'ls-remote';

export interface TagListing {
  via: TagSource;
  tags: RemoteTag[];
  /** Why the API was not used, when it was not. */
  note?: string;
}

/** The part of a tag before its version: rust-v0.53.0 -> rust-v. */
export function tagPrefix(tag: string): string {
  const m = /^(.*?)v?(\d+\.\d+\.\d+(?:[-+].*)?)$/.exec(tag);
  if (!m) throw new UserError(`tag \`${tag}\` does not carry a version`, 'Upstream release tags look like rust-v0.53.0.');
  return tag.slice(0, tag.length - m[2]!.length);
}

/** A release tag of the same family as the pinned one, or undefined (other prefixes, junk versions). */
export function parseReleaseTag(tag: RemoteTag, prefix: string): ReleaseTag | undefined {
  if (!tag.name.startsWith(prefix)) return undefined;
  const version = tag.name.slice(prefix.length);
  // Exactly semver, no coercion: `rust-v.0.0.2504291921` or `rust-vrust-v0.78.0-alpha.6` are not releases.
  if (!semver.valid(version) || semver.clean(version) !== version) return undefined;
  return { ...tag, version, prerelease: semver.prerelease(version) !== null };
}

/** Release tags of the pinned tag's family, oldest first; prereleases only with `pre`. */
export function releaseTags(tags: RemoteTag[], pinnedTag: string, opts: { pre?: boolean } = {}): ReleaseTag[] {
  const prefix = tagPrefix(pinnedTag);
  const seen = new Set<string>();
  const out: ReleaseTag[] = [];
  for (const t of tags) {
    const r = parseReleaseTag(t, prefix);
    if (!r || seen.has(r.name) || (r.prerelease && !opts.pre)) continue;
    seen.add(r.name);
    out.push(r);
  }
  return out.sort((a, b) => semver.compare(a.version, b.version));
}

/** Releases newer than the pinned tag, oldest first. */
export function newerThan(tags: RemoteTag[], pinnedTag: string, opts: { pre?: boolean } = {}): ReleaseTag[] {
  const pinned = tagVersion(pinnedTag);
  return releaseTags(tags, pinnedTag, opts).filter((t) => semver.gt(t.version, pinned));
}

/** Releases from `from` to `to` inclusive (by version), oldest first. */
export function tagsInRange(tags: RemoteTag[], pinnedTag: string, opts: { from?: string; to?: string; pre?: boolean }): ReleaseTag[] {
  const all = releaseTags(tags, pinnedTag, { pre: opts.pre });
  const bound = (name: string | undefined, which: string): string | undefined => {
    if (name === undefined) return undefined;
    const v = parseReleaseTag({ name }, tagPrefix(pinnedTag))?.version;
    if (!v) throw new UserError(`--${which} \`${name}\` is not a release tag like ${pinnedTag}`);
    return v;
  };
  const from = bound(opts.from ?? pinnedTag, 'from');
  const to = bound(opts.to, 'to');
  if (opts.to && !all.some((t) => t.name === opts.to) && !tags.some((t) => t.name === opts.to)) {
    throw new UserError(`upstream has no tag ${opts.to}`, 'See `npx tsx build.ts upstream check --pre` for the tags upstream has.');
  }
  return all.filter((t) => (!from || semver.gte(t.version, from)) && (!to || semver.lte(t.version, to)));
}

export function tagVersion(tag: string): string {
  const v = parseReleaseTag({ name: tag }, tagPrefix(tag))?.version;
  if (!v) throw new UserError(`tag \`${tag}\` does not carry a version`, 'Upstream release tags look like rust-v0.53.0.');
  return v;
}

/** owner/repo of a github.com URL (https or ssh), or undefined for anything else. */
export function githubRepo(source: string): { owner: string; repo: string } | undefined {
  const m = /^(?:https?:\/\/(?:[^@/]+@)?github\.com\/|git@github\.com:|ssh:\/\/git@github\.com\/)([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(
    source,
  );
  return m ? { owner: m[1]!, repo: m[2]! } : undefined;
}

export { listTagsLsRemote } from '../lib/upstream-sources.ts';

export interface GitHubOptions {
  token?: string;
  /** Injected in tests; defaults to the global fetch. */
  fetch?: typeof globalThis.fetch;
  timeoutMs?: number;
}

/** Published (non-draft) releases through the GitHub API, every page. */
export async function listTagsGitHub(owner: string, repo: string, opts: GitHubOptions = {}): Promise<RemoteTag[]> {
  // Loaded on use: octokit is heavy, and every other build.ts command would pay for it at start-up.
  const { Octokit } = await import('octokit');
  const octokit = new Octokit({
    auth: opts.token,
    userAgent: 'codex-litellm-upstream-tracking',
    request: { fetch: opts.fetch, signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000) },
    throttle: { enabled: false },
    retry: { enabled: false },
  });
  const releases = await octokit.paginate(octokit.rest.repos.listReleases, { owner, repo, per_page: 100 });
  return releases.filter((r) => !r.draft).map((r) => ({ name: r.tag_name }));
}

/**
 * Upstream's tags: the GitHub API when the source is on github.com and the API answers, else
 * `git ls-remote` (which is also what a local mirror or an offline run gets).
 */
export async function listUpstreamTags(source: string, opts: GitHubOptions & { offline?: boolean } = {}): Promise<TagListing> {
  const gh = githubRepo(source);
  let note: string | undefined;
  if (gh && !opts.offline) {
    try {
      return {
        via: 'github-api',
        tags: await listTagsGitHub(gh.owner, gh.repo, { ...opts, token: opts.token ?? process.env.GITHUB_TOKEN ?? process.env.GH_TOKEN }),
      };
    } catch (e) {
      note = `the GitHub API did not answer (${(e as Error).message.split('\n')[0]}); listed with git ls-remote instead`;
    }
  } else if (!gh) {
    note = `${source} is not on github.com: listed with git ls-remote`;
  } else {
    note = '--offline: listed with git ls-remote';
  }
  if (opts.offline && isUrl(source) && !source.startsWith('file://')) {
    throw new UserError(`--offline cannot list the tags of ${source}`, 'Point --upstream at a local mirror of openai/codex, or run without --offline.');
  }
  return { via: 'ls-remote', tags: listTagsLsRemote(source), note };
}
