/**
 * The GitHub Release of a version, created and filled through octokit. A new release stays a
 * draft until every asset is uploaded, so nobody ever downloads from a half-filled release. A
 * re-run after a failure resumes that draft (assets of the same name are replaced); a release
 * that is already published is refused, never changed: what users downloaded stays what it was.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Octokit } from 'octokit';
import { UserError } from '../lib/errors.ts';

export interface ReleaseSpec {
  owner: string;
  repo: string;
  tag: string;
  name: string;
  body: string;
  prerelease: boolean;
  /** Files to attach (their base names become the asset names). */
  files: string[];
}

export interface ReleaseOutcome {
  id: number;
  url: string;
  created: boolean;
  uploaded: string[];
  replaced: string[];
}

export async function makeOctokit(opts: { token?: string; fetch?: typeof globalThis.fetch; baseUrl?: string } = {}): Promise<Octokit> {
  const { Octokit: Ctor } = await import('octokit');
  return new Ctor({
    auth: opts.token,
    baseUrl: opts.baseUrl,
    userAgent: 'codex-litellm-release',
    request: opts.fetch ? { fetch: opts.fetch } : undefined,
    throttle: { enabled: false },
    retry: { enabled: false },
  });
}

type Release = Awaited<ReturnType<Octokit['rest']['repos']['createRelease']>>['data'];

/** The release of `tag`, drafts included (the by-tag endpoint does not see drafts). */
export async function findRelease(octokit: Octokit, owner: string, repo: string, tag: string): Promise<Release | undefined> {
  for await (const page of octokit.paginate.iterator(octokit.rest.repos.listReleases, { owner, repo, per_page: 100 })) {
    const hit = page.data.find((r) => r.tag_name === tag);
    if (hit) return hit as Release;
  }
  return undefined;
}

function contentType(name: string): string {
  if (name.endsWith('.tar.gz') || name.endsWith('.tgz')) return 'application/gzip';
  if (name.endsWith('.zip')) return 'application/zip';
  if (name.endsWith('.deb') || name.endsWith('.ipk')) return 'application/vnd.debian.binary-package';
  // An OpenWrt .apk (apk-tools v3) is no Android package: octet-stream, not vnd.android.package-archive.
  if (name.endsWith('.json') || name.endsWith('.jsonl')) return 'application/json';
  if (name === 'SHA256SUMS' || name.endsWith('.txt')) return 'text/plain';
  return 'application/octet-stream';
}

export async function publishRelease(octokit: Octokit, spec: ReleaseSpec, log: (s: string) => void = () => {}): Promise<ReleaseOutcome> {
  const { owner, repo, tag } = spec;
  for (const f of spec.files) if (!fs.statSync(f, { throwIfNoEntry: false })?.isFile()) throw new UserError(`release asset ${f} does not exist`);
  const names = spec.files.map((f) => path.basename(f));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UserError(`two release assets are named ${dup}`, 'Asset names must be unique.');

  let release = await findRelease(octokit, owner, repo, tag);
  const created = !release;
  if (!release) {
    log(`creating draft release ${tag}`);
    release = (
      await octokit.rest.repos.createRelease({ owner, repo, tag_name: tag, name: spec.name, body: spec.body, draft: true, prerelease: spec.prerelease })
    ).data;
  } else if (!release.draft) {
    throw new UserError(
      `release ${tag} is already published (${release.html_url}); a published release is never changed`,
      'To release again, raise `release` in upstream.lock (with its CHANGELOG.md section) and tag that version. Only a draft left by a failed run is resumed.',
    );
  } else {
    log(`resuming draft release ${tag}`);
    release = (await octokit.rest.repos.updateRelease({ owner, repo, release_id: release.id, name: spec.name, body: spec.body, prerelease: spec.prerelease }))
      .data;
  }
  const existing = new Map<string, number>();
  for await (const page of octokit.paginate.iterator(octokit.rest.repos.listReleaseAssets, { owner, repo, release_id: release.id, per_page: 100 })) {
    for (const a of page.data) existing.set(a.name, a.id);
  }
  const replaced: string[] = [];
  const uploaded: string[] = [];
  for (const file of spec.files) {
    const name = path.basename(file);
    const old = existing.get(name);
    if (old !== undefined) {
      await octokit.rest.repos.deleteReleaseAsset({ owner, repo, asset_id: old });
      replaced.push(name);
    }
    const data = fs.readFileSync(file);
    log(`uploading ${name} (${data.length} bytes)`);
    // The release's own upload URL (a URI template): right for github.com and GitHub Enterprise alike.
    await octokit.request({
      method: 'POST',
      url: release.upload_url,
      name,
      data,
      headers: { 'content-type': contentType(name), 'content-length': data.length },
    });
    uploaded.push(name);
  }
  if (release.draft) {
    log(`publishing ${tag}`);
    release = (await octokit.rest.repos.updateRelease({ owner, repo, release_id: release.id, draft: false })).data;
  }
  return { id: release.id, url: release.html_url, created, uploaded, replaced };
}
