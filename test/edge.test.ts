/**
 * Edge pins: a commit of upstream main past the newest verifiable tag (lockfile.ts, lib/edge.ts).
 * Against a fixture upstream shaped like the real one (a release tag is a commit of main plus a
 * version bump, on a side branch), with a separate "main mirror" whose own tags must be ignored.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseLock, renderLock } from '../scripts/lib/lockfile.ts';
import { releaseInfo } from '../scripts/release/release.ts';
import { git, makeProject, makeUpstream, runBuild, tmpDir, type Project, type Upstream } from './helpers/fixture.ts';

const EDGE_LOCK =
  'repository = "x"\nbranch = "main"\ncommit = "343074d4207d572809bd8cea15f4be1d09d98e0b"\ndate = "2026-08-22"\nbase = "rust-v0.125.0"\nworkspace = "codex-rs"\nrelease = 1\n';

describe('upstream.lock: an edge pin', () => {
  it('parses, names itself after its branch and commit, and renders back to the same pin', () => {
    const lock = parseLock(EDGE_LOCK);
    expect(lock.tag).toBe('main@343074d4');
    expect(lock.edge).toEqual({ branch: 'main', date: '2026-08-22', base: 'rust-v0.125.0' });
    expect(parseLock(renderLock(lock))).toEqual(lock);
    expect(renderLock(lock)).toContain('EDGE pin');
  });

  it('refuses a pin that is half a release and half an edge, or an edge pin missing its base or date', () => {
    expect(() => parseLock(EDGE_LOCK.replace('branch = "main"', 'tag = "rust-v0.125.0"'))).toThrow(/a pin is a release .* not both/);
    expect(() => parseLock(EDGE_LOCK.replace(/base = .*\n/, ''))).toThrow(/an edge pin needs `branch`, `date` and `base` \(missing base\)/);
    expect(() => parseLock(EDGE_LOCK.replace('2026-08-22', '22.08.2026'))).toThrow(/date `22\.08\.2026` is not YYYY-MM-DD/);
    expect(() =>
      parseLock(
        EDGE_LOCK.replace(/branch = .*\n/, '')
          .replace(/date = .*\n/, '')
          .replace(/base = .*\n/, ''),
      ),
    ).toThrow(/missing `tag`/);
  });

  it('is released only on the edge channel, under npm dist-tag edge, as a prerelease', () => {
    const root = tmpDir('edge-release');
    // The edge channel's pin lives in edge/ (project.ts); the release channel's at the top.
    fs.mkdirSync(path.join(root, 'edge'));
    fs.writeFileSync(path.join(root, 'edge', 'upstream.lock'), EDGE_LOCK);
    fs.writeFileSync(path.join(root, 'upstream.lock'), EDGE_LOCK);
    fs.writeFileSync(path.join(root, 'CHANGELOG.md'), '# Changelog\n\n## [0.125.1-edge.20260822.litellm.1] - 2026-12-04\n\n### Added\n\n- An edge build.\n');
    const tag = 'v0.125.1-edge.20260822.litellm.1';
    expect(() => releaseInfo(root, tag)).toThrow(/pins upstream main @ 343074d4 \(2026-08-22\), an edge commit of upstream main, not a release tag/);
    const info = releaseInfo(root, tag, 'edge');
    expect(info).toMatchObject({ version: '0.125.1-edge.20260822.litellm.1', distTag: 'edge', prerelease: true, upstreamTag: 'main @ 343074d4 (2026-08-22)' });
    fs.writeFileSync(
      path.join(root, 'edge', 'upstream.lock'),
      'repository = "x"\ntag = "rust-v0.125.0"\ncommit = "637f7dd6d737f3961e6bf32fbb3861c4953269c5"\nworkspace = "codex-rs"\nrelease = 1\n',
    );
    expect(() => releaseInfo(root, 'v0.125.0-litellm.1', 'edge')).toThrow(/--channel edge, but upstream.lock pins the release rust-v0\.125\.0/);
  });
});

describe('upstream bump --to <commit of main>', () => {
  let base: string;
  let up: Upstream;
  let mainMirror: string;
  const c: Record<string, string> = {};

  beforeAll(() => {
    base = tmpDir('edge');
    up = makeUpstream(path.join(base, 'upstream'));
    const d = up.dir;
    c.root = up.commit;
    // main moves on; the release is cut beside it as main's commit plus a version bump.
    fs.appendFileSync(path.join(d, 'ws/cli/src/other.rs'), 'pub fn on_main() {}\n');
    git(d, 'commit', '-q', '-am', 'main: work');
    c.m1 = git(d, 'rev-parse', 'HEAD');
    git(d, 'checkout', '-q', '-b', 'release-0.2.0');
    fs.writeFileSync(path.join(d, 'ws/Cargo.toml'), fs.readFileSync(path.join(d, 'ws/Cargo.toml'), 'utf8').replace('version = "0.1.0"', 'version = "0.2.0"'));
    git(d, 'commit', '-q', '-am', 'Release 0.2.0');
    git(d, 'tag', '-a', 'rust-v0.2.0', '-m', 'rust-v0.2.0');
    c.t2 = git(d, 'rev-parse', 'HEAD');
    git(d, 'checkout', '-q', 'main');
    fs.appendFileSync(path.join(d, 'ws/cli/src/other.rs'), 'pub fn later_on_main() {}\n');
    git(d, 'commit', '-q', '-am', 'main: more work');
    c.m2 = git(d, 'rev-parse', 'HEAD');
    // A mirror of main alone, with a tag of its own that must never count as upstream's.
    mainMirror = path.join(base, 'main-mirror.git');
    git(base, 'init', '-q', '--bare', mainMirror);
    git(mainMirror, 'fetch', '-q', '--no-tags', d, '+refs/heads/main:refs/heads/main');
    git(mainMirror, 'tag', 'rust-v0.9.0', c.root);
  });

  function project(name: string): Project {
    const p = makeProject(path.join(base, name), up);
    const lockFile = path.join(p.root, 'upstream.lock');
    fs.writeFileSync(lockFile, fs.readFileSync(lockFile, 'utf8').replace('rust-v0.1.0', 'rust-v0.2.0').replace(up.commit, c.t2!));
    return p;
  }

  it('pins the commit with its branch, date and base; the build and --version say upstream main @ <commit>', () => {
    const p = project('edge-bump');
    const r = runBuild(p, ['upstream', 'bump', '--to', c.m2!.slice(0, 10), '--upstream-main', mainMirror]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const lock = parseLock(fs.readFileSync(path.join(p.root, 'upstream.lock'), 'utf8'));
    expect(lock.commit).toBe(c.m2);
    expect(lock.edge?.branch).toBe('main');
    expect(lock.edge?.base).toBe('rust-v0.2.0');
    expect(lock.edge?.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(lock.release).toBe(1);
    // The build checks the commit again (fresh cache) and applies the re-exported series to it.
    fs.rmSync(p.cache, { recursive: true, force: true });
    const check = runBuild(p, ['patches', 'check', '--upstream-main', mainMirror]);
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toContain(`apply cleanly to main@${c.m2!.slice(0, 8)}`);
    const v = runBuild(p, ['--version', '--upstream-main', mainMirror]);
    expect(v.stdout).toMatch(
      new RegExp(
        `^codex-litellm 0\\.2\\.1-edge\\.\\d{8}\\.litellm\\.1 \\(upstream main @ ${c.m2!.slice(0, 8)} \\(\\d{4}-\\d{2}-\\d{2}\\), series [0-9a-f]{12}\\)`,
      ),
    );
    // Once verified the cache serves it; a fresh cache without a main mirror says what to set.
    expect(runBuild(p, ['patches', 'check']).status).toBe(0);
    fs.rmSync(p.cache, { recursive: true, force: true });
    const none = runBuild(p, ['patches', 'check']);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain("no mirror of upstream's main is configured");
  });

  it("refuses a commit of main that does not descend from the base release's parent, naming both", () => {
    const p = project('edge-old');
    const r = runBuild(p, ['upstream', 'bump', '--to', c.root!, '--upstream-main', mainMirror]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`commit ${c.root} of ${mainMirror} descends from the parent of none of the release tags from rust-v0.2.0 on (rust-v0.2.0)`);
    // A commit the mirror's main does not have, and no main mirror at all.
    const bogus = runBuild(p, ['upstream', 'bump', '--to', 'deadbeefdeadbeef', '--upstream-main', mainMirror]);
    expect(bogus.stderr).toContain(`commit deadbeefdeadbeef is not in the main mirror ${mainMirror}`);
    expect(runBuild(p, ['upstream', 'bump', '--to', c.m2!]).stderr).toContain("no mirror of upstream's main is configured");
    expect(runBuild(p, ['upstream', 'bump', 'rust-v0.2.0', '--to', c.m2!]).stderr).toContain('a tag or --to <commit>, not both');
    // The mirror's own tag never became an upstream release.
    const d = runBuild(p, ['upstream', 'drift', '--json', '--upstream-main', mainMirror]);
    expect(d.stdout).not.toContain('rust-v0.9.0');
  });
});
