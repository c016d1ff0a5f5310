/**
 * The daily upstream check's bump pull request (scripts/upstream/pr.ts, run by upstream.yml): which
 * drift result makes one, and `open` end to end against the local GitHub API and a bare git
 * repository standing for GitHub's: the bumped upstream.lock and patches/ committed on
 * upstream/<tag>, pushed, the pull request opened once and refreshed on the next day.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalGitHub } from '../scripts/release/local/github-api.ts';
import type { CheckResult, DriftResult } from '../scripts/upstream/track.ts';
import { bumpBranch, bumpCandidate, main } from '../scripts/upstream/pr.ts';
import { tmpDir } from './helpers/fixture.ts';

const check: CheckResult = {
  pinned: 'rust-v0.53.0',
  via: 'ls-remote',
  newer: [{ name: 'rust-v0.54.0', version: '0.54.0', prerelease: false }],
  latest: 'rust-v0.54.0',
};
const drift = (outcome: 'clean' | 'merge' | 'conflict', brokenOnBase: string[] = []): DriftResult => ({
  pinned: 'rust-v0.53.0',
  from: 'rust-v0.53.0',
  to: 'rust-v0.54.0',
  via: 'ls-remote',
  series: ['a.patch', 'b.patch'],
  brokenOnBase,
  rows: [
    {
      tag: 'rust-v0.54.0',
      commit: 'd'.repeat(40),
      outcome,
      failing: outcome === 'conflict' ? 1 : 0,
      merged: outcome === 'merge' ? 1 : 0,
      patches: 2,
      conflicts: outcome === 'conflict' ? ['b.patch'] : [],
      ms: 1,
    },
  ],
  stats: { tagFetches: 0, tagsFetched: 0, blobFetches: 0, blobsFetched: 0 },
  prepareMs: 0,
  totalMs: 1,
});

describe('which upstream release gets a bump pull request', () => {
  it('the latest newer one, when the series applies clean or with merges; never one in conflict', () => {
    expect(bumpCandidate(check, drift('clean'))).toEqual({ tag: 'rust-v0.54.0', outcome: 'clean' });
    expect(bumpCandidate(check, drift('merge'))).toEqual({ tag: 'rust-v0.54.0', outcome: 'merge' });
    expect(bumpCandidate(check, drift('conflict'))).toMatchObject({ reason: expect.stringMatching(/b\.patch in conflict/) });
    expect(bumpCandidate(check, drift('clean', ['a.patch']))).toMatchObject({ reason: expect.stringMatching(/does not apply to the pin itself/) });
    expect(bumpCandidate({ ...check, newer: [], latest: undefined }, undefined)).toMatchObject({ reason: expect.stringMatching(/^up to date/) });
    expect(bumpCandidate(check, undefined)).toMatchObject({ reason: expect.stringMatching(/no row for rust-v0\.54\.0/) });
  });

  it('`candidate` prints tag=<tag> for $GITHUB_OUTPUT, tag= when there is none', async () => {
    const dir = tmpDir('pr-candidate');
    fs.writeFileSync(path.join(dir, 'check.json'), JSON.stringify(check));
    for (const [outcome, want] of [
      ['merge', 'tag=rust-v0.54.0\n'],
      ['conflict', 'tag=\n'],
    ] as const) {
      fs.writeFileSync(path.join(dir, 'drift.json'), JSON.stringify(drift(outcome)));
      let out = '';
      const code = await main(['candidate', '--check', path.join(dir, 'check.json'), '--drift', path.join(dir, 'drift.json')], {}, (s) => {
        out += s;
      });
      expect(code).toBe(0);
      expect(out).toBe(want);
    }
  });
});

describe('`open`: push upstream/<tag> and open its pull request (local GitHub API, bare repository)', () => {
  const gh = new LocalGitHub('o', 'r');
  let server: string;
  let work: string;
  const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8' });
  const lock = (tag: string, commit: string): string =>
    `repository = "https://github.com/openai/codex.git"\ntag = "${tag}"\ncommit = "${commit}"\nworkspace = "codex-rs"\nrelease = 1\n`;

  beforeAll(async () => {
    await gh.start();
    server = tmpDir('pr-server');
    const bare = path.join(server, 'o', 'r.git');
    execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
    work = tmpDir('pr-work');
    git(work, 'init', '--quiet', '--initial-branch=main');
    fs.writeFileSync(path.join(work, 'upstream.lock'), lock('rust-v0.53.0', 'a'.repeat(40)));
    fs.mkdirSync(path.join(work, 'patches'));
    fs.writeFileSync(path.join(work, 'patches', 'series'), 'a.patch\n');
    fs.writeFileSync(path.join(work, 'patches', 'a.patch'), 'old\n');
    git(work, 'add', '-A');
    git(work, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '--quiet', '-m', 'init');
    git(work, 'push', '--quiet', bare, 'main');
  });
  afterAll(() => gh.stop());

  const env = (): NodeJS.ProcessEnv => ({
    GITHUB_TOKEN: 'local-token',
    GITHUB_REPOSITORY: 'o/r',
    GITHUB_SERVER_URL: `file://${server}`,
    GITHUB_API_URL: gh.base,
    GITHUB_REF_NAME: 'main',
  });
  const open = async (): Promise<{ code: number; out: string }> => {
    let out = '';
    const code = await main(['open', '--tag', 'rust-v0.54.0', '--root', work], env(), (s) => {
      out += s;
    });
    return { code, out };
  };

  it('refuses when upstream.lock does not pin the tag yet (the bump step did not run)', async () => {
    expect((await open()).code).toBe(2);
    expect(gh.pulls).toEqual([]);
  });

  it('commits the bump on upstream/<tag>, pushes it and opens one pull request against main', async () => {
    // What `upstream bump rust-v0.54.0` leaves: a new pin, a re-exported series.
    fs.writeFileSync(path.join(work, 'upstream.lock'), lock('rust-v0.54.0', 'd'.repeat(40)));
    fs.writeFileSync(path.join(work, 'patches', 'a.patch'), 'new\n');
    const r = await open();
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^pull request created: #\d+ .* \(upstream\/rust-v0\.54\.0 at [0-9a-f]{12}\)$/m);
    const bare = path.join(server, 'o', 'r.git');
    const branch = bumpBranch('rust-v0.54.0');
    expect(git(bare, 'show', `${branch}:upstream.lock`)).toContain('tag = "rust-v0.54.0"');
    expect(git(bare, 'show', `${branch}:patches/a.patch`)).toBe('new\n');
    expect(git(bare, 'log', '-1', '--format=%an|%s', branch).trim()).toBe('github-actions[bot]|Upstream rust-v0.54.0: re-pin, series re-exported');
    expect(git(bare, 'rev-parse', `${branch}~1`)).toBe(git(bare, 'rev-parse', 'main'));
    expect(gh.pulls).toHaveLength(1);
    expect(gh.pulls[0]).toMatchObject({ title: 'Upstream rust-v0.54.0', head: branch, base: 'main', state: 'open' });
    expect(gh.pulls[0]!.body).toMatch(/npm run e2e/);
    // The token never lands in the repository's configuration.
    expect(fs.readFileSync(path.join(work, '.git', 'config'), 'utf8')).not.toContain('local-token');
  });

  it('the next day refreshes the same pull request instead of opening another', async () => {
    git(work, 'checkout', '--quiet', 'main');
    fs.writeFileSync(path.join(work, 'upstream.lock'), lock('rust-v0.54.0', 'd'.repeat(40)));
    fs.writeFileSync(path.join(work, 'patches', 'a.patch'), 'newer\n');
    const r = await open();
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^pull request updated: #\d+/m);
    expect(gh.pulls).toHaveLength(1);
    expect(git(path.join(server, 'o', 'r.git'), 'show', `${bumpBranch('rust-v0.54.0')}:patches/a.patch`)).toBe('newer\n');
  });
});
