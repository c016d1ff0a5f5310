/**
 * Upstream tracking against a fixture upstream with several releases: check, try (clean, merge,
 * conflict, missing file), drift (one batched fetch), bump (clean re-pin and re-export; conflict
 * worktree, then --continue), and the tag logic and the GitHub API listing on their own.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { git, makeProject, runBuild, snapshot, tmpDir, type Project } from './helpers/fixture.ts';
import { CLEAN, CONFLICT, makeTrackUpstream, MERGE, MISSING, PRE, type TrackUpstream } from './helpers/track-fixture.ts';
import { githubRepo, listUpstreamTags, newerThan, parseReleaseTag, releaseTags, tagPrefix, tagsInRange } from '../scripts/upstream/tags.ts';
import { takeTheirs, unmatchedHunks } from '../scripts/upstream/scratch.ts';
import { parsePatchFile } from '../scripts/lib/series.ts';

let up: TrackUpstream;
let base: string;

beforeAll(() => {
  base = tmpDir('track');
  up = makeTrackUpstream(path.join(base, 'upstream'));
});

function project(name: string): Project {
  return makeProject(path.join(base, name), up);
}

/** What a try must not change: the series, the lock, and no worktree or build tree anywhere. */
function repoState(p: Project): Record<string, string> {
  return { ...snapshot(path.join(p.root, 'patches')), lock: fs.readFileSync(path.join(p.root, 'upstream.lock'), 'utf8') };
}

const json = (p: Project, args: string[]) => {
  const r = runBuild(p, [...args, '--json']);
  let doc: any;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return { ...r, doc };
};

describe('tags', () => {
  const list = [
    'rust-v0.53.0',
    'rust-v0.54.0-alpha.1',
    'rust-v0.54.0',
    'rust-v0.100.0',
    'rust-v0.60.1',
    'rust-vrust-v0.78.0-alpha.6',
    'rust-v.0.0.2504291921',
    'rust-v0.0.2504291921',
    'codex-rs-abc-1-rust-v0.2.0',
    'v1.0.0',
  ].map((name) => ({ name }));

  it('takes the prefix from the pinned tag and ignores other families and junk', () => {
    expect(tagPrefix('rust-v0.53.0')).toBe('rust-v');
    expect(tagPrefix('v1.2.3')).toBe('v');
    expect(parseReleaseTag({ name: 'rust-v0.54.0-alpha.1' }, 'rust-v')).toMatchObject({ version: '0.54.0-alpha.1', prerelease: true });
    expect(parseReleaseTag({ name: 'rust-vrust-v0.78.0-alpha.6' }, 'rust-v')).toBeUndefined();
    expect(parseReleaseTag({ name: 'rust-v.0.0.2504291921' }, 'rust-v')).toBeUndefined();
    expect(releaseTags(list, 'rust-v0.53.0').map((t) => t.name)).toEqual([
      'rust-v0.0.2504291921',
      'rust-v0.53.0',
      'rust-v0.54.0',
      'rust-v0.60.1',
      'rust-v0.100.0',
    ]);
  });

  it('compares with semver, not as strings, and skips prereleases unless asked', () => {
    expect(newerThan(list, 'rust-v0.53.0').map((t) => t.name)).toEqual(['rust-v0.54.0', 'rust-v0.60.1', 'rust-v0.100.0']);
    expect(newerThan(list, 'rust-v0.53.0', { pre: true }).map((t) => t.name)).toEqual([
      'rust-v0.54.0-alpha.1',
      'rust-v0.54.0',
      'rust-v0.60.1',
      'rust-v0.100.0',
    ]);
    expect(tagsInRange(list, 'rust-v0.53.0', { to: 'rust-v0.60.1' }).map((t) => t.name)).toEqual(['rust-v0.53.0', 'rust-v0.54.0', 'rust-v0.60.1']);
    expect(tagsInRange(list, 'rust-v0.53.0', { from: 'rust-v0.60.1' }).map((t) => t.name)).toEqual(['rust-v0.60.1', 'rust-v0.100.0']);
    expect(() => tagsInRange(list, 'rust-v0.53.0', { to: 'rust-v9.9.9' })).toThrow(/upstream has no tag rust-v9\.9\.9/);
    expect(() => tagsInRange(list, 'rust-v0.53.0', { from: 'main' })).toThrow(/--from `main` is not a release tag/);
  });

  it('recognises github.com sources only', () => {
    expect(githubRepo('https://github.com/openai/codex.git')).toEqual({ owner: 'openai', repo: 'codex' });
    expect(githubRepo('git@github.com:openai/codex.git')).toEqual({ owner: 'openai', repo: 'codex' });
    expect(githubRepo('https://github.com/openai/codex')).toEqual({ owner: 'openai', repo: 'codex' });
    expect(githubRepo('/srv/mirrors/codex.git')).toBeUndefined();
    expect(githubRepo('https://gitlab.com/openai/codex.git')).toBeUndefined();
  });
});

describe('listing through the GitHub API (octokit) and its fallback', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it('pages through releases and leaves drafts out', async () => {
    const calls: string[] = [];
    const page = (n: number): unknown[] =>
      n === 1
        ? [
            { tag_name: 'rust-v0.55.0', draft: false },
            { tag_name: 'rust-v0.56.0', draft: true },
          ]
        : [{ tag_name: 'rust-v0.54.0', draft: false }];
    const fake = (async (input: string | URL | Request) => {
      const url = String(input instanceof Request ? input.url : input);
      calls.push(url);
      const n = new URL(url).searchParams.get('page') === '2' ? 2 : 1;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (n === 1) headers.link = '<https://api.github.com/repositories/1/releases?per_page=100&page=2>; rel="next"';
      return new Response(JSON.stringify(page(n)), { status: 200, headers });
    }) as typeof fetch;
    delete process.env.GITHUB_TOKEN;
    delete process.env.GH_TOKEN;
    const r = await listUpstreamTags('https://github.com/openai/codex.git', { fetch: fake });
    expect(r.via).toBe('github-api');
    expect(r.tags.map((t) => t.name)).toEqual(['rust-v0.55.0', 'rust-v0.54.0']);
    expect(calls[0]).toMatch(/^https:\/\/api\.github\.com\/repos\/openai\/codex\/releases\?per_page=100/);
    expect(calls).toHaveLength(2);
  });

  it('falls back to git ls-remote when the API does not answer', async () => {
    // Send git's https://github.com/openai/codex.git to the fixture, as a mirror would be.
    Object.assign(process.env, {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: `url.${up.dir}.insteadOf`,
      GIT_CONFIG_VALUE_0: 'https://github.com/openai/codex.git',
    });
    const down = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    const r = await listUpstreamTags('https://github.com/openai/codex.git', { fetch: down });
    expect(r.via).toBe('ls-remote');
    expect(r.note).toMatch(/the GitHub API did not answer \(fetch failed\)/);
    const tag = r.tags.find((t) => t.name === MERGE);
    // Annotated tags are peeled to their commit; lightweight ones are the commit already.
    expect(tag?.commit).toBe(up.tags[MERGE]);
    expect(r.tags.find((t) => t.name === CLEAN)?.commit).toBe(up.tags[CLEAN]);
  });

  it('uses ls-remote for a source that is not github.com, and refuses a remote URL --offline', async () => {
    expect((await listUpstreamTags(up.dir)).via).toBe('ls-remote');
    await expect(listUpstreamTags('https://example.invalid/codex.git', { offline: true })).rejects.toThrow(/--offline cannot list the tags/);
  });
});

describe('merge helpers', () => {
  it('names the hunks whose context is gone', () => {
    const patch = [
      'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001',
      'From: A <a@b>',
      'Subject: x',
      '',
      'why',
      '---',
      'diff --git a/f.txt b/f.txt',
      'index 1111111111111111111111111111111111111111..2222222222222222222222222222222222222222 100644',
      '--- a/f.txt',
      '+++ b/f.txt',
      '@@ -1,3 +1,3 @@',
      ' a',
      '-b',
      '+B',
      ' c',
      '@@ -7,3 +7,3 @@',
      ' g',
      '-h',
      '+H',
      ' i',
      '',
    ].join('\n');
    const info = parsePatchFile('x.patch', patch);
    expect(unmatchedHunks(info, 'f.txt', 'a\nb\nc\nd\ne\nf\ng\nh\ni\n')).toEqual([]);
    expect(unmatchedHunks(info, 'f.txt', 'z\na\nb\nc\nd\ne\nf\ng\nX\ni\n')).toEqual(['hunk #2 (@@ -7,3 +7,3 @@)']);
    expect(unmatchedHunks(info, 'f.txt', undefined)).toHaveLength(2);
  });

  it('resolves conflict regions to the patch side, keeping the rest', () => {
    const m = (n: number, c: string): string => c.repeat(n);
    const merged = Buffer.from(`keep\n${m(31, '<')} ours\nupstream\n${m(31, '=')}\npatch\n${m(31, '>')} theirs\ntail\n`);
    expect(takeTheirs(merged).toString()).toBe('keep\npatch\ntail\n');
  });
});

describe('upstream check', () => {
  it('lists newer stable releases, or prereleases too with --pre', () => {
    const p = project('check');
    const r = json(p, ['upstream', 'check']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.doc.via).toBe('ls-remote');
    expect(r.doc.pinned).toBe('rust-v0.1.0');
    expect(r.doc.newer.map((t: { name: string }) => t.name)).toEqual([CLEAN, MERGE, CONFLICT, MISSING]);
    expect(r.doc.latest).toBe(MISSING);
    const pre = json(p, ['upstream', 'check', '--pre']);
    expect(pre.doc.newer.map((t: { name: string }) => t.name)).toEqual([CLEAN, MERGE, CONFLICT, PRE, MISSING]);
    const text = runBuild(p, ['upstream', 'check']);
    expect(text.stdout).toMatch(/4 upstream release\(s\) newer than rust-v0\.1\.0/);
    expect(text.stdout).toContain(`latest: ${MISSING}`);
  });
});

describe('upstream try', () => {
  let p: Project;
  beforeAll(() => {
    p = project('try');
  });

  it('clean: every patch applies as it is', () => {
    const r = json(p, ['upstream', 'try', CLEAN]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.doc.outcome).toBe('clean');
    expect(r.doc.commit).toBe(up.tags[CLEAN]);
    expect(r.doc.patches.map((x: { outcome: string }) => x.outcome)).toEqual(['clean', 'clean']);
  });

  it('merge: a patch whose context moved goes in with a 3-way merge; nothing in the repo changes', () => {
    const before = repoState(p);
    const r = json(p, ['upstream', 'try', MERGE]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.doc.outcome).toBe('merge');
    const [first, second] = r.doc.patches;
    expect(first.outcome).toBe('merge');
    expect(first.issues).toEqual([{ file: 'ws/cli/Cargo.toml', kind: 'merged', hunks: ['hunk #1 (@@ -4,7 +4,7 @@)'] }]);
    expect(second.outcome).toBe('clean');
    expect(repoState(p)).toEqual(before);
    expect(fs.existsSync(path.join(p.cache, 'worktrees'))).toBe(false);
    expect(fs.existsSync(path.join(p.cache, 'trees'))).toBe(false);
    const text = runBuild(p, ['upstream', 'try', MERGE]);
    expect(text.stdout).toMatch(/1 clean, 1 applied with merge, 0 conflict/);
    expect(text.stdout).toMatch(/ws\/cli\/Cargo\.toml: merged 3-way; hunk #1/);
    expect(text.stdout).toMatch(/Nothing was changed/);
  });

  it('conflict: names the patch, the file, the hunk and the conflict regions; exit 1', () => {
    const before = repoState(p);
    const r = json(p, ['upstream', 'try', CONFLICT]);
    expect(r.status).toBe(1);
    expect(r.doc.ok).toBe(false);
    expect(r.doc.outcome).toBe('conflict');
    expect(r.doc.failing).toBe(1);
    const [first, second] = r.doc.patches;
    expect(first).toMatchObject({ name: 'cli-name-the-binary-codex-litellm.patch', outcome: 'conflict' });
    expect(first.issues).toEqual([{ file: 'ws/cli/Cargo.toml', kind: 'conflict', hunks: ['hunk #1 (@@ -4,7 +4,7 @@)'], regions: 1 }]);
    // Judged on its own (the conflict resolved to the patch's side), the second patch applies.
    expect(second.outcome).toBe('clean');
    expect(repoState(p)).toEqual(before);
    const text = runBuild(p, ['upstream', 'try', CONFLICT]);
    expect(text.stdout).toMatch(/CONFLICT {2}cli-name-the-binary-codex-litellm\.patch/);
    expect(text.stdout).toMatch(/ws\/cli\/Cargo\.toml: 1 conflict region\(s\); hunk #1 \(@@ -4,7 \+4,7 @@\)/);
  });

  it('a file upstream removed is a conflict of every patch that touches it', () => {
    const r = json(p, ['upstream', 'try', MISSING]);
    expect(r.status).toBe(1);
    expect(r.doc.failing).toBe(2);
    for (const patch of r.doc.patches) {
      expect(patch.issues).toContainEqual(expect.objectContaining({ file: 'ws/cli/src/main.rs', kind: 'missing' }));
    }
  });

  it('an unknown tag is a clear error', () => {
    const r = runBuild(p, ['upstream', 'try', 'rust-v9.9.9']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: upstream .* has no tag rust-v9\.9\.9/);
    expect(runBuild(p, ['upstream', 'try']).stderr).toMatch(/upstream try needs one tag/);
    expect(runBuild(p, ['upstream', 'frob']).stderr).toMatch(/unknown upstream command `frob`/);
  });
});

describe('upstream drift', () => {
  it('tabulates every release in the range, fetching tags and files in one batch each', () => {
    const p = project('drift');
    const r = json(p, ['upstream', 'drift']);
    expect(r.status, r.stderr).toBe(0);
    const rows = r.doc.rows.map((x: { tag: string; outcome: string; failing: number }) => [x.tag, x.outcome, x.failing]);
    expect(rows).toEqual([
      ['rust-v0.1.0', 'clean', 0],
      [CLEAN, 'clean', 0],
      [MERGE, 'merge', 0],
      [CONFLICT, 'conflict', 1],
      [MISSING, 'conflict', 2],
    ]);
    // Every tag (the pin included) in ONE fetch, and the files the series touches at all of them in ONE fetch.
    expect(r.doc.stats).toMatchObject({ tagFetches: 1, tagsFetched: 5, blobFetches: 1 });
    expect(r.doc.stats.blobsFetched).toBeGreaterThan(3);
    // Nothing is checked out.
    expect(fs.existsSync(path.join(p.cache, 'trees'))).toBe(false);
    expect(fs.existsSync(path.join(p.cache, 'worktrees'))).toBe(false);
    // A second run has everything cached.
    const again = json(p, ['upstream', 'drift']);
    expect(again.doc.stats).toEqual({ tagFetches: 0, tagsFetched: 0, blobFetches: 0, blobsFetched: 0 });
    expect(again.doc.rows).toHaveLength(5);
  });

  it('refuses to compare against a pin whose tag does not resolve to the locked commit', () => {
    const p = project('drift-moved');
    const lockFile = path.join(p.root, 'upstream.lock');
    fs.writeFileSync(lockFile, fs.readFileSync(lockFile, 'utf8').replace(up.commit, up.tags[CLEAN]!));
    const r = runBuild(p, ['upstream', 'drift']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`tag rust-v0.1.0 from ${up.dir} does not resolve to ${up.tags[CLEAN]}, which upstream.lock pins`);
  });

  it('honours --from, --to and --pre, and prints a table', () => {
    const p = project('drift-range');
    const r = json(p, ['upstream', 'drift', '--from', CLEAN, '--to', CONFLICT, '--pre']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.doc.rows.map((x: { tag: string }) => x.tag)).toEqual([CLEAN, MERGE, CONFLICT]);
    const all = json(p, ['upstream', 'drift', '--pre']);
    expect(all.doc.rows.map((x: { tag: string }) => x.tag)).toContain(PRE);
    const text = runBuild(p, ['upstream', 'drift']);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^tag +commit +result +failing +merged +in conflict$/m);
    expect(text.stdout).toMatch(new RegExp(`^${CONFLICT.replace(/\./g, '\\.')} +${up.tags[CONFLICT]!.slice(0, 12)} +conflict +1/2 +0 +#1$`, 'm'));
    expect(text.stdout).toMatch(/#1 cli-name-the-binary-codex-litellm\.patch/);
    expect(runBuild(p, ['upstream', 'drift', '--to', 'rust-v7.0.0']).stderr).toMatch(/upstream has no tag rust-v7\.0\.0/);
  });
});

describe('upstream bump', () => {
  it('re-pins and re-exports when everything applies (with a merge); release starts at 1 again', () => {
    const p = project('bump');
    const lockFile = path.join(p.root, 'upstream.lock');
    fs.writeFileSync(lockFile, fs.readFileSync(lockFile, 'utf8').replace('release = 1', 'release = 3'));
    const oldFirst = fs.readFileSync(path.join(p.root, 'patches', 'cli-name-the-binary-codex-litellm.patch'), 'utf8');
    const oldSecond = fs.readFileSync(path.join(p.root, 'patches', 'workspace-add-our-crate.patch'), 'utf8');
    const r = json(p, ['upstream', 'bump', MERGE]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.doc.pinned).toBe(true);
    const lock = fs.readFileSync(lockFile, 'utf8');
    expect(lock).toContain(`tag = "${MERGE}"`);
    expect(lock).toContain(`commit = "${up.tags[MERGE]}"`);
    expect(lock).toMatch(/^release = 1$/m);
    expect(lock).toContain(`repository = "${up.dir}"`);
    // The merged patch now carries upstream's new context and index line; the names and order stay.
    const first = fs.readFileSync(path.join(p.root, 'patches', 'cli-name-the-binary-codex-litellm.patch'), 'utf8');
    expect(first).not.toBe(oldFirst);
    expect(first).toContain(' edition = "2021"');
    expect(first).toMatch(/^Subject: cli: name the binary codex-litellm$/m);
    expect(first).toMatch(/^Upstream: no$/m);
    expect(fs.readFileSync(path.join(p.root, 'patches', 'series'), 'utf8')).toBe(
      '# fixture series\ncli-name-the-binary-codex-litellm.patch\nworkspace-add-our-crate.patch\n',
    );
    expect(r.doc.export.changed).toContain('cli-name-the-binary-codex-litellm.patch');
    // The second patch's blob ids changed with upstream's Cargo.toml, its text otherwise the same.
    const second = fs.readFileSync(path.join(p.root, 'patches', 'workspace-add-our-crate.patch'), 'utf8');
    expect(second.replace(/^index .*$/gm, '').replace(/ edition = .*\n/g, '')).toBe(oldSecond.replace(/^index .*$/gm, '').replace(/ edition = .*\n/g, ''));
    // The new pin builds its series with zero fuzz, as the build does.
    const check = json(p, ['patches', 'check']);
    expect(check.status, check.stderr).toBe(0);
    expect(check.doc.tag).toBe(MERGE);
    expect(runBuild(p, ['upstream', 'bump', MERGE]).stderr).toMatch(/already pins rust-v0\.3\.0/);
    expect(runBuild(p, ['upstream', 'bump', CLEAN]).stderr).toMatch(/older than the pinned rust-v0\.3\.0/);
  });

  it('on a conflict leaves a worktree mid `git am` and changes nothing; --continue pins and exports', () => {
    const p = project('bump-conflict');
    const before = repoState(p);
    const r = runBuild(p, ['upstream', 'bump', CONFLICT]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/git am stopped at cli-name-the-binary-codex-litellm\.patch/);
    expect(r.stdout).toMatch(/upstream\.lock and patches\/ are unchanged/);
    expect(r.stdout).toContain(`npx tsx build.ts upstream bump ${CONFLICT} --continue`);
    expect(repoState(p)).toEqual(before);
    const wt = path.join(p.cache, 'worktrees', `${CONFLICT}-${up.tags[CONFLICT]!.slice(0, 12)}`);
    expect(r.stdout).toContain(wt);
    expect(fs.existsSync(path.join(wt, '.git', 'rebase-apply'))).toBe(true);
    const cargo = path.join(wt, 'ws', 'cli', 'Cargo.toml');
    expect(fs.readFileSync(cargo, 'utf8')).toMatch(/^<<<<<<< /m);

    // Not finished yet: --continue refuses.
    const early = runBuild(p, ['upstream', 'bump', CONFLICT, '--continue']);
    expect(early.status).toBe(2);
    expect(early.stderr).toMatch(/git am is still in progress/);

    // The maintainer resolves: upstream's rename of the binary loses to ours.
    const resolved = fs.readFileSync(cargo, 'utf8').replace(/<<<<<<< [^\n]*\n[\s\S]*?=======\n([\s\S]*?)>>>>>>> [^\n]*\n/, '$1');
    expect(resolved).toContain('name = "codex-litellm"');
    fs.writeFileSync(cargo, resolved);
    git(wt, 'add', 'ws/cli/Cargo.toml');
    git(wt, '-c', 'core.editor=true', 'am', '--continue');
    expect(fs.existsSync(path.join(wt, '.git', 'rebase-apply'))).toBe(false);

    const done = json(p, ['upstream', 'bump', CONFLICT, '--continue']);
    expect(done.status, done.stdout + done.stderr).toBe(0);
    expect(done.doc.pinned).toBe(true);
    expect(fs.readFileSync(path.join(p.root, 'upstream.lock'), 'utf8')).toContain(`commit = "${up.tags[CONFLICT]}"`);
    const first = fs.readFileSync(path.join(p.root, 'patches', 'cli-name-the-binary-codex-litellm.patch'), 'utf8');
    expect(first).toContain('-name = "codex-bin"');
    expect(first).toContain('+name = "codex-litellm"');
    const check = json(p, ['patches', 'check']);
    expect(check.status, check.stderr).toBe(0);
    // The same worktree is now the maintainers' default one for the new pin.
    const exp = runBuild(p, ['patches', 'export', '--check']);
    expect(exp.status, exp.stderr).toBe(0);
  });
});

describe('several upstream sources (mirrors that each carry some of the tags)', () => {
  /** A bare mirror of the fixture upstream carrying exactly `tags` (and the history they need). */
  function mirror(name: string, tags: Record<string, string>): string {
    const dir = path.join(base, name);
    git(base, 'init', '-q', '--bare', dir);
    for (const [tag, commit] of Object.entries(tags)) {
      git(dir, 'fetch', '-q', '--no-tags', up.dir, `${commit}:refs/heads/tmp`);
      git(dir, 'tag', '-f', tag, commit);
      git(dir, 'branch', '-D', 'tmp');
    }
    return dir;
  }
  let older: string;
  let newer: string;
  beforeAll(() => {
    older = mirror('mirror-older', { 'rust-v0.1.0': up.commit, [CLEAN]: up.tags[CLEAN]! });
    newer = mirror('mirror-newer', { [MERGE]: up.tags[MERGE]!, [CONFLICT]: up.tags[CONFLICT]! });
  });

  it('drift and try see the tags of every source; each tag is fetched from the one that carries it', () => {
    const p = project('sources');
    const r = json(p, ['upstream', 'drift', '--upstream', older, '--upstream', newer]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.doc.rows.map((x: { tag: string; outcome: string }) => [x.tag, x.outcome])).toEqual([
      ['rust-v0.1.0', 'clean'],
      [CLEAN, 'clean'],
      [MERGE, 'merge'],
      [CONFLICT, 'conflict'],
    ]);
    // One fetch per source for the tags, and the files each source holds from it.
    expect(r.doc.stats).toMatchObject({ tagFetches: 2, tagsFetched: 4 });
    // The same list from the user file, and a tag only the second source has goes in from it.
    fs.writeFileSync(p.env.CODEX_LITELLM_CONFIG!, JSON.stringify({ upstream: [older, newer] }));
    const t = json(p, ['upstream', 'try', MERGE]);
    expect(t.status, t.stderr).toBe(0);
    expect(t.doc.commit).toBe(up.tags[MERGE]);
    // Alone, the first source does not have it, and says so.
    const alone = runBuild(p, ['upstream', 'try', MERGE, '--upstream', older]);
    expect(alone.status).toBe(2);
    expect(alone.stderr).toContain(`upstream source ${older} has no tag ${MERGE}`);
    const none = runBuild(p, ['upstream', 'try', 'rust-v0.9.9']);
    expect(none.stderr).toContain(`none of the upstream sources (${older}, ${newer}) has tag rust-v0.9.9`);
  });

  it('a tag two sources disagree on is refused with both commits named; the build of the pin too', () => {
    const p = project('sources-disagree');
    // A mirror whose rust-v0.3.0 is not upstream's (it points at 0.2.0's commit).
    const wrong = mirror('mirror-wrong', { [MERGE]: up.tags[CLEAN]!, 'rust-v0.1.0': up.commit });
    const r = runBuild(p, ['upstream', 'try', MERGE, '--upstream', newer, '--upstream', wrong]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`the upstream sources disagree on ${MERGE}: ${newer} has ${up.tags[MERGE]}, ${wrong} has ${up.tags[CLEAN]}`);
    const d = runBuild(p, ['upstream', 'drift', '--upstream', older, '--upstream', newer, '--upstream', wrong]);
    expect(d.status).toBe(2);
    expect(d.stderr).toContain(`disagree on ${MERGE}`);
    // The pin itself: a mirror with another commit for the pinned tag stops `patches check`.
    const moved = mirror('mirror-moved-pin', { 'rust-v0.1.0': up.tags[CLEAN]! });
    const c = runBuild(p, ['patches', 'check', '--upstream', older, '--upstream', moved]);
    expect(c.status).toBe(2);
    expect(c.stderr).toContain(`the upstream sources disagree on rust-v0.1.0: ${older} has ${up.commit}, ${moved} has ${up.tags[CLEAN]}`);
  });

  it('the user file takes a list of sources and refuses anything else', () => {
    const p = project('sources-file');
    for (const bad of [[], [''], 7, [older, 3]]) {
      fs.writeFileSync(p.env.CODEX_LITELLM_CONFIG!, JSON.stringify({ upstream: bad }));
      const r = runBuild(p, ['patches', 'check']);
      expect(r.status, JSON.stringify(bad)).toBe(2);
      expect(r.stderr).toContain('`upstream` must be a path or URL, or a non-empty list of them');
    }
    fs.writeFileSync(p.env.CODEX_LITELLM_CONFIG!, JSON.stringify({ upstream: [older, newer] }));
    expect(runBuild(p, ['patches', 'check']).status).toBe(0);
  });
});
