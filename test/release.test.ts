/**
 * Release helpers: release notes from CHANGELOG.md, the tag checked against upstream.lock, the
 * GitHub Release filled through octokit (against a small fake of the GitHub API on 127.0.0.1, run
 * the way the workflow runs the script), npm publishing order, and the daily upstream report.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLock } from '../scripts/lib/lockfile.ts';
import { parseChangelog, releaseNotes } from '../scripts/release/changelog.ts';
import { findPackages, publishAll, publishOrder, tarballIntegrity, type NpmPackageFile, type Runner } from '../scripts/release/npm.ts';
import { main as releaseMain, releaseInfo } from '../scripts/release/release.ts';
import { makeOctokit } from '../scripts/release/github.ts';
import { LocalGitHub } from '../scripts/release/local/github-api.ts';
import { issueTitle, markdownReport, notify } from '../scripts/upstream/notify.ts';
import type { CheckResult, DriftResult } from '../scripts/upstream/track.ts';
import { versionInfo } from '../scripts/lib/version.ts';
import { REPO, tmpDir } from './helpers/fixture.ts';

const CHANGELOG = `# Changelog

Intro text.

## [Unreleased]

### Added

- Something not released yet.

## [0.54.0-litellm.1] - 2026-12-01

### Changed

- Upstream rust-v0.54.0.

## [0.53.0-litellm.2] - 2026-11-30

## [0.53.0-litellm.1] - 2026-11-24

### Added

- The first release.

[Unreleased]: https://github.com/o/r/compare/v0.54.0-litellm.1...HEAD
[0.54.0-litellm.1]: https://github.com/o/r/releases/tag/v0.54.0-litellm.1
`;

describe('CHANGELOG.md', () => {
  it('gives a version its own section, without the heading or the link references', () => {
    expect(parseChangelog(CHANGELOG).map((s) => [s.version, s.date])).toEqual([
      ['Unreleased', undefined],
      ['0.54.0-litellm.1', '2026-12-01'],
      ['0.53.0-litellm.2', '2026-11-30'],
      ['0.53.0-litellm.1', '2026-11-24'],
    ]);
    expect(releaseNotes(CHANGELOG, 'v0.54.0-litellm.1').body).toBe('### Changed\n\n- Upstream rust-v0.54.0.');
    expect(releaseNotes(CHANGELOG, '0.53.0-litellm.1').body).toBe('### Added\n\n- The first release.');
  });

  it('refuses a version without notes', () => {
    expect(() => releaseNotes(CHANGELOG, '0.55.0-litellm.1')).toThrow(/has no section for 0\.55\.0-litellm\.1/);
    expect(() => releaseNotes(CHANGELOG, '0.53.0-litellm.2')).toThrow(/the section for 0\.53\.0-litellm\.2 is empty/);
  });

  it("this repo's CHANGELOG.md is Keep a Changelog and has the notes of 0.53.0-litellm.1 and of the pinned version", () => {
    const text = fs.readFileSync(path.join(REPO, 'CHANGELOG.md'), 'utf8');
    expect(text).toMatch(/^# Changelog$/m);
    expect(text).toMatch(/keepachangelog\.com/);
    const first = releaseNotes(text, '0.53.0-litellm.1');
    expect(first.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(first.body).toMatch(/^### Added$/m);
    const pinned = versionInfo(readLock(path.join(REPO, 'upstream.lock')), '').version;
    expect(() => releaseNotes(text, pinned), 'tagging the pinned version would be refused: add its CHANGELOG.md section').not.toThrow();
  });
});

/** A project root with a lock and a changelog, as release.ts reads them. */
function releaseRoot(lockTag: string, release: number, changelog = CHANGELOG): string {
  const root = tmpDir('release-root');
  fs.writeFileSync(
    path.join(root, 'upstream.lock'),
    `repository = "https://github.com/openai/codex.git"\ntag = "${lockTag}"\ncommit = "${'a'.repeat(40)}"\nworkspace = "codex-rs"\nrelease = ${release}\n`,
  );
  fs.writeFileSync(path.join(root, 'CHANGELOG.md'), changelog);
  return root;
}

describe('the tag and upstream.lock', () => {
  it('accepts exactly v<upstream version>-litellm.<release>', () => {
    const root = releaseRoot('rust-v0.54.0', 1);
    const info = releaseInfo(root, 'v0.54.0-litellm.1');
    expect(info).toMatchObject({ version: '0.54.0-litellm.1', prerelease: false, distTag: 'latest', upstreamTag: 'rust-v0.54.0' });
    expect(() => releaseInfo(root, 'v0.54.0-litellm.2')).toThrow(
      /tag v0\.54\.0-litellm\.2 does not match upstream\.lock, which makes version 0\.54\.0-litellm\.1/,
    );
    expect(() => releaseInfo(root, '0.54.0-litellm.1')).toThrow(/does not match/);
    expect(() => releaseInfo(releaseRoot('rust-v0.55.0', 1), 'v0.55.0-litellm.1')).toThrow(/no section for 0\.55\.0-litellm\.1/);
  });

  it('`verify` prints outputs for $GITHUB_OUTPUT; a wrong tag exits 2', async () => {
    const root = releaseRoot('rust-v0.54.0', 1);
    let out = '';
    expect(await releaseMain(['verify', 'v0.54.0-litellm.1', '--root', root], {}, (s) => (out += s))).toBe(0);
    expect(out).toBe('version=0.54.0-litellm.1\nprerelease=false\ndist_tag=latest\nupstream_tag=rust-v0.54.0\n');
    expect(await releaseMain(['verify', 'v9.9.9', '--root', root], {}, () => {})).toBe(2);
  });
});

describe('GitHub Release through octokit (local API on 127.0.0.1)', () => {
  const gh = new LocalGitHub('o', 'r');
  let root: string;
  let assets: string;
  beforeAll(async () => {
    await gh.start();
    root = releaseRoot('rust-v0.54.0', 1);
    assets = tmpDir('release-assets');
    fs.writeFileSync(path.join(assets, 'codex-litellm-0.54.0-litellm.1-x86_64-unknown-linux-gnu.tar.gz'), Buffer.from([0x1f, 0x8b, 0, 1, 2, 3]));
    fs.writeFileSync(path.join(assets, 'codex-litellm_0.54.0-1_amd64.deb'), 'deb');
    fs.writeFileSync(path.join(assets, 'SHA256SUMS'), 'sums\n');
  });
  afterAll(() => gh.stop());

  const run = async (extraEnv: Record<string, string> = {}): Promise<{ code: number; out: string }> => {
    let out = '';
    const code = await releaseMain(
      ['github', 'v0.54.0-litellm.1', '--assets', assets, '--root', root],
      { GITHUB_TOKEN: 't0ken', GITHUB_REPOSITORY: 'o/r', GITHUB_API_URL: gh.base, ...extraEnv },
      (s) => (out += s),
    );
    return { code, out };
  };

  it('creates a draft, uploads every asset, then publishes it, with the CHANGELOG section as notes', async () => {
    const r = await run();
    expect(r.code, r.out).toBe(0);
    expect(gh.releases).toHaveLength(1);
    const rel = gh.releases[0]!;
    expect(rel).toMatchObject({ tag_name: 'v0.54.0-litellm.1', name: 'codex-litellm 0.54.0-litellm.1', draft: false, prerelease: false });
    expect(rel.body).toMatch(/^### Changed\n\n- Upstream rust-v0\.54\.0\.\n/);
    expect(rel.body).toMatch(/rust-v0\.54\.0 \(a{40}\)/);
    expect(rel.assets.map((a) => a.name).sort()).toEqual([
      'SHA256SUMS',
      'codex-litellm-0.54.0-litellm.1-x86_64-unknown-linux-gnu.tar.gz',
      'codex-litellm_0.54.0-1_amd64.deb',
    ]);
    const tgz = rel.assets.find((a) => a.name.endsWith('.tar.gz'))!;
    expect(tgz.contentType).toBe('application/gzip');
    expect([...tgz.data]).toEqual([0x1f, 0x8b, 0, 1, 2, 3]);
    // Published only after the uploads.
    const lastUpload = gh.log.map((l, i) => (l.startsWith('POST /upload') ? i : -1)).reduce((a, b) => Math.max(a, b));
    const publish = gh.log.findIndex((l, i) => i > lastUpload && l.startsWith('PATCH /repos/o/r/releases/'));
    expect(publish).toBeGreaterThan(lastUpload);
    expect(r.out).toMatch(/created http:\/\/127\.0\.0\.1:\d+\/o\/r\/releases\/tag\/v0\.54\.0-litellm\.1: 3 asset\(s\)/);
  });

  it('a re-run is refused once the release is published, and changes nothing', async () => {
    const before = gh.releases[0]!.assets.map((a) => [a.name, a.data.toString('hex')]);
    fs.writeFileSync(path.join(assets, 'SHA256SUMS'), 'sums v2\n');
    let err = '';
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => {
      err += s;
      return true;
    }) as typeof process.stderr.write;
    const r = await run().finally(() => (process.stderr.write = write));
    expect(r.code).toBe(2);
    expect(err).toMatch(/release v0\.54\.0-litellm\.1 is already published .*; a published release is never changed/);
    expect(err).toMatch(/raise `release` in upstream\.lock/);
    expect(gh.releases).toHaveLength(1);
    expect(gh.releases[0]!.assets.map((a) => [a.name, a.data.toString('hex')])).toEqual(before);
  });

  it('a draft left by a failed run is resumed: its assets are replaced, then it is published', async () => {
    gh.releases[0]!.draft = true;
    const r = await run();
    expect(r.code, r.out).toBe(0);
    expect(gh.releases).toHaveLength(1);
    expect(gh.releases[0]!.draft).toBe(false);
    expect(gh.releases[0]!.assets).toHaveLength(3);
    expect(gh.releases[0]!.assets.find((a) => a.name === 'SHA256SUMS')!.data.toString()).toBe('sums v2\n');
    expect(r.out).toMatch(/resuming draft release v0\.54\.0-litellm\.1/);
    expect(r.out).toMatch(/updated .*: 3 asset\(s\), 3 replaced/);
  });

  it('refuses to run without a token, a repository or SHA256SUMS', async () => {
    expect((await run({ GITHUB_TOKEN: '' })).code).toBe(2);
    expect((await run({ GITHUB_REPOSITORY: '' })).code).toBe(2);
    fs.rmSync(path.join(assets, 'SHA256SUMS'));
    expect((await run()).code).toBe(2);
  });

  it('the daily upstream report opens one issue per new release and refreshes it later', async () => {
    const check: CheckResult = {
      pinned: 'rust-v0.53.0',
      via: 'ls-remote',
      newer: [{ name: 'rust-v0.54.0', version: '0.54.0', prerelease: false }],
      latest: 'rust-v0.54.0',
    };
    const drift = {
      pinned: 'rust-v0.53.0',
      from: 'rust-v0.53.0',
      to: 'rust-v0.54.0',
      via: 'ls-remote',
      series: ['a.patch', 'b.patch'],
      brokenOnBase: [],
      rows: [
        { tag: 'rust-v0.53.0', commit: 'c'.repeat(40), outcome: 'clean', failing: 0, merged: 0, patches: 2, conflicts: [], ms: 1 },
        { tag: 'rust-v0.54.0', commit: 'd'.repeat(40), outcome: 'conflict', failing: 1, merged: 0, patches: 2, conflicts: ['b.patch'], ms: 1 },
      ],
      stats: { tagFetches: 0, tagsFetched: 0, blobFetches: 0, blobsFetched: 0 },
      prepareMs: 0,
      totalMs: 2,
    } satisfies DriftResult;
    const body = markdownReport(check, drift);
    expect(body).toMatch(/\*\*1 upstream release\(s\) newer than the pinned `rust-v0\.53\.0`\*\*/);
    expect(body).toContain('| `rust-v0.54.0` | conflict | 1/2 | 0 | `b.patch` |');
    expect(body).toContain('npx tsx build.ts upstream try rust-v0.54.0');
    const octokit = await makeOctokit({ token: 't', baseUrl: gh.base });
    expect(await notify(octokit, 'o', 'r', check, body)).toMatchObject({ action: 'created', title: issueTitle('rust-v0.54.0') });
    expect(await notify(octokit, 'o', 'r', check, `${body}\nmore`)).toMatchObject({ action: 'updated' });
    expect(gh.issues).toHaveLength(1);
    expect(gh.issues[0]!.body).toMatch(/more$/);
    expect(await notify(octokit, 'o', 'r', { ...check, newer: [], latest: undefined }, body)).toEqual({ action: 'none' });
  });
});

describe('npm publishing', () => {
  function pkg(dir: string, name: string, version: string, optional: Record<string, string> = {}): string {
    const d = path.join(dir, name.replace(/^@[^/]+\//, ''));
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'package.json'), JSON.stringify({ name, version, optionalDependencies: optional }));
    fs.writeFileSync(path.join(d, 'README.md'), `# ${name}\n`);
    return d;
  }
  /** As `npm pack` lays it out: everything under package/. */
  function tgz(dir: string, pkgDir: string): string {
    const stage = tmpDir('npm-stage');
    fs.cpSync(pkgDir, path.join(stage, 'package'), { recursive: true });
    const out = path.join(dir, `${path.basename(pkgDir)}.tgz`);
    execFileSync('tar', ['-czf', out, '-C', stage, 'package']);
    return out;
  }
  const V = '0.53.0-litellm.1';
  const platforms = ['@s/cl-linux-x64', '@s/cl-darwin-arm64'];

  function fixture(): { dir: string; files: string[] } {
    const src = tmpDir('npm-src');
    const dir = tmpDir('npm-out');
    const files = [tgz(dir, pkg(src, '@s/cl', V, Object.fromEntries(platforms.map((p) => [p, V])))), ...platforms.map((p) => tgz(dir, pkg(src, p, V)))];
    fs.writeFileSync(path.join(dir, 'codex-litellm-0.53.0-litellm.1-x86_64-unknown-linux-gnu.tar.gz'), 'not npm');
    return { dir, files };
  }

  it('reads packages from tarballs and directories and publishes platform packages before the main one', () => {
    const { dir } = fixture();
    const found = findPackages(fs.readdirSync(dir).map((n) => path.join(dir, n)));
    expect(found.map((p) => p.name).sort()).toEqual(['@s/cl', ...platforms].sort());
    expect(publishOrder(found).map((p) => p.name)).toEqual(['@s/cl-darwin-arm64', '@s/cl-linux-x64', '@s/cl']);
  });

  it('refuses a main package whose platform packages are not all there, and mixed versions', () => {
    const mk = (name: string, version = V, optionalDependencies: Record<string, string> = {}): NpmPackageFile => ({
      file: `${name}.tgz`,
      name,
      version,
      optionalDependencies,
    });
    expect(() => publishOrder([mk('@s/cl', V, { '@s/cl-linux-x64': V, '@s/cl-darwin-arm64': V }), mk('@s/cl-linux-x64')])).toThrow(
      /depends on @s\/cl-darwin-arm64, which is not among the packages/,
    );
    expect(() => publishOrder([mk('@s/cl-linux-x64'), mk('@s/cl-darwin-arm64', '0.53.0-litellm.2')])).toThrow(/different versions/);
    expect(() => publishOrder([])).toThrow(/no npm packages/);
  });

  it('runs npm publish with --provenance, public access and the dist-tag, skipping what is already there with this content', () => {
    const { dir } = fixture();
    const pkgs = findPackages(fs.readdirSync(dir).map((n) => path.join(dir, n)));
    const linux = pkgs.find((p) => p.name === '@s/cl-linux-x64')!;
    const calls: string[][] = [];
    const run: Runner = (cmd, args) => {
      calls.push([cmd, ...args]);
      if (args[0] === 'view')
        return args[1] === `@s/cl-linux-x64@${V}`
          ? { status: 0, stdout: `${tarballIntegrity(linux.file)}\n`, stderr: '' }
          : { status: 1, stdout: '', stderr: 'E404' };
      return { status: 0, stdout: '', stderr: '' };
    };
    const steps = publishAll(pkgs, { distTag: 'latest', run });
    expect(steps.map((s) => [s.name, s.skipped])).toEqual([
      ['@s/cl-darwin-arm64', false],
      ['@s/cl-linux-x64', true],
      ['@s/cl', false],
    ]);
    // Every package is looked up before the first publish.
    expect(calls.findIndex((c) => c[1] === 'publish')).toBe(3);
    const publishes = calls.filter((c) => c[1] === 'publish');
    expect(publishes).toHaveLength(2);
    for (const c of publishes) expect(c.slice(3)).toEqual(['--access', 'public', '--tag', 'latest', '--provenance']);
    expect(publishes.at(-1)![2]).toMatch(/cl\.tgz$/);
  });

  it('never overwrites: other content under the same version, or everything already there, is refused before any publish', () => {
    const { dir } = fixture();
    const pkgs = findPackages(fs.readdirSync(dir).map((n) => path.join(dir, n)));
    const published: string[] = [];
    const registry =
      (integrity: (p: NpmPackageFile) => string | undefined): Runner =>
      (_cmd, args) => {
        if (args[0] === 'publish') published.push(args[1]!);
        if (args[0] !== 'view') return { status: 0, stdout: '', stderr: '' };
        const p = pkgs.find((x) => `${x.name}@${x.version}` === args[1])!;
        const i = integrity(p);
        return i ? { status: 0, stdout: `${i}\n`, stderr: '' } : { status: 1, stdout: '', stderr: 'E404' };
      };
    expect(() => publishAll(pkgs, { distTag: 'latest', run: registry((p) => (p.name === '@s/cl' ? 'sha512-other' : undefined)) })).toThrow(
      /already published with other content: @s\/cl@0\.53\.0-litellm\.1; a published npm version is never overwritten/,
    );
    expect(() => publishAll(pkgs, { distTag: 'latest', run: registry((p) => tarballIntegrity(p.file)) })).toThrow(
      /0\.53\.0-litellm\.1 is already published: every one of its 3 npm package\(s\) is on the registry with this content; nothing to publish/,
    );
    expect(published).toEqual([]);
  });

  it('stops at the first failure, before the main package', () => {
    const { dir } = fixture();
    const run: Runner = (_cmd, args) =>
      args[0] === 'view'
        ? { status: 1, stdout: '', stderr: '' }
        : args[1]!.includes('darwin')
          ? { status: 1, stdout: '', stderr: 'npm ERR! 403 Forbidden' }
          : { status: 0, stdout: '', stderr: '' };
    expect(() => publishAll(findPackages(fs.readdirSync(dir).map((n) => path.join(dir, n))), { distTag: 'latest', run })).toThrow(
      /npm publish of @s\/cl-darwin-arm64@0\.53\.0-litellm\.1 failed: npm ERR! 403 Forbidden/,
    );
  });

  it('`release.ts npm --dry-run` runs the real npm in dry-run mode, in order', async () => {
    const { dir } = fixture();
    const root = releaseRoot('rust-v0.53.0', 1);
    let out = '';
    const code = await releaseMain(['npm', `v${V}`, '--dir', dir, '--root', root, '--dry-run'], {}, (s) => (out += s));
    expect(code, out).toBe(0);
    const order = [...out.matchAll(/^npm publish (\S+)/gm)].map((m) => path.basename(m[1]!));
    expect(order).toEqual(['cl-darwin-arm64.tgz', 'cl-linux-x64.tgz', 'cl.tgz']);
    expect(out).toMatch(/--provenance --dry-run/);
    expect(out).toMatch(/3 published, 0 already there \(0\.53\.0-litellm\.1, dist-tag latest\)/);
  }, 120_000);
});
