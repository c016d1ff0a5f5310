/**
 * One version, spelled for each package manager: a newer release (higher counter, or newer
 * upstream, prereleases included) must sort newer in every spelling. npm is checked with semver,
 * dpkg and opkg (which share dpkg's algorithm) with our comparison and with real dpkg, apk (OpenWrt
 * 25.12+) with real apk-tools when it is installed.
 */
import { spawnSync } from 'node:child_process';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { parseLock } from '../scripts/lib/lockfile.ts';
import {
  apkVersion,
  compareDebianVersions,
  debianVersion,
  isApkVersion,
  npmVersion,
  opkgVersion,
  releaseOf,
  versionInfo,
  type Release,
} from '../scripts/lib/version.ts';
import { hasCommand } from './helpers/package-fixture.ts';
import { apkTools } from './helpers/tools.ts';

const hasDpkg = hasCommand('dpkg', ['--version']);
const APK = apkTools();
const dpkgLt = (a: string, b: string): boolean => spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0;
const dpkgCmp = (a: string, b: string): number =>
  spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0 ? -1 : spawnSync('dpkg', ['--compare-versions', a, 'eq', b]).status === 0 ? 0 : 1;

/** Oldest first. */
const RELEASES: Release[] = [
  { upstream: '0.53.0', release: 1 },
  { upstream: '0.53.0', release: 2 },
  { upstream: '0.53.0', release: 9 },
  { upstream: '0.53.0', release: 10 },
  // Edge builds of main after 0.53.0 (lockfile.ts): above every 0.53.0 release, below 0.53.1's.
  { upstream: '0.53.1', release: 1, edge: '20260101' },
  { upstream: '0.53.1', release: 2, edge: '20260101' },
  { upstream: '0.53.1', release: 1, edge: '20260822' },
  { upstream: '0.53.1', release: 1 },
  { upstream: '0.54.0-alpha', release: 1 },
  { upstream: '0.54.0-alpha.1', release: 1 },
  { upstream: '0.54.0-alpha.1', release: 2 },
  { upstream: '0.54.0-alpha.2', release: 1 },
  { upstream: '0.54.0-alpha.10', release: 1 },
  { upstream: '0.54.0-beta', release: 1 },
  { upstream: '0.54.0-beta.1', release: 1 },
  { upstream: '0.54.0', release: 1 },
  { upstream: '0.54.0', release: 2 },
  { upstream: '0.60.0', release: 1 },
  { upstream: '1.0.0-alpha.1', release: 3 },
  { upstream: '1.0.0', release: 1 },
  { upstream: '10.0.0', release: 1 },
];

describe('version mapping', () => {
  it('keeps one version: upstream.lock -> 0.53.0-litellm.1 everywhere we print it', () => {
    const lock = parseLock(
      'repository = "x"\ntag = "rust-v0.53.0"\ncommit = "ca80bc4902b7ca49112907152e8ed0879eaa0b78"\nworkspace = "codex-rs"\nrelease = 1\n',
    );
    const r = releaseOf(lock);
    expect(r).toEqual({ upstream: '0.53.0', release: 1 });
    expect(versionInfo(lock, 'abc').version).toBe('0.53.0-litellm.1');
    expect(npmVersion(r)).toBe('0.53.0-litellm.1');
    expect(debianVersion(r)).toBe('0.53.0-1');
    expect(opkgVersion(r)).toBe('0.53.0-1');
    expect(apkVersion(r)).toBe('0.53.0-r1');
  });

  it('spells an edge pin as a prerelease of the next patch after its base, so it sorts between them', () => {
    const lock = parseLock(
      'repository = "x"\nbranch = "main"\ncommit = "343074d4207d572809bd8cea15f4be1d09d98e0b"\ndate = "2026-08-22"\nbase = "rust-v0.125.0"\nworkspace = "codex-rs"\nrelease = 1\n',
    );
    const r = releaseOf(lock);
    expect(r).toEqual({ upstream: '0.125.1', release: 1, edge: '20260822' });
    expect(npmVersion(r)).toBe('0.125.1-edge.20260822.litellm.1');
    expect(debianVersion(r)).toBe('0.125.1~edge20260822-1');
    expect(apkVersion(r)).toBe('0.125.1_pre20260822-r1');
    const v = versionInfo(lock, 'abcdef012345');
    expect(v.display).toBe('0.125.1-edge.20260822.litellm.1 (upstream main @ 343074d4 (2026-08-22), series abcdef012345)');
    expect(semver.lt('0.125.0-litellm.9', v.version) && semver.lt(v.version, '0.125.1-litellm.1') && semver.lt(v.version, '0.126.0-litellm.1')).toBe(true);
  });

  it('spells upstream prereleases so they sort before the release', () => {
    expect(npmVersion({ upstream: '0.54.0-alpha.2', release: 3 })).toBe('0.54.0-alpha.2.litellm.3');
    expect(npmVersion({ upstream: '0.54.0-alpha', release: 1 })).toBe('0.54.0-alpha.0.litellm.1');
    expect(debianVersion({ upstream: '0.54.0-alpha.2', release: 3 })).toBe('0.54.0~alpha.2-3');
    expect(apkVersion({ upstream: '0.54.0-alpha.2', release: 3 })).toBe('0.54.0_alpha2-r3');
    expect(apkVersion({ upstream: '0.54.0-alpha', release: 1 })).toBe('0.54.0_alpha-r1');
    expect(apkVersion({ upstream: '0.54.0-rc.1', release: 1 })).toBe('0.54.0_rc1-r1');
  });

  it('refuses an upstream prerelease that would sort above our release spelling', () => {
    expect(() => npmVersion({ upstream: '0.54.0-rc.1', release: 1 })).toThrow(/cannot be mapped to an npm version that sorts below the final release/);
    expect(() => releaseOf({ tag: 'rust-v0.53.0', release: 0 })).toThrow(/release must be a whole number >= 1/);
    expect(() => apkVersion({ upstream: '0.54.0-alpha.2.1', release: 1 })).toThrow(/has no apk spelling/);
    expect(() => apkVersion({ upstream: '0.54.0-nightly.1', release: 1 })).toThrow(/has no apk spelling/);
  });

  it('every spelling is valid for its package manager', () => {
    for (const r of RELEASES) {
      expect(semver.valid(npmVersion(r)), npmVersion(r)).toBe(npmVersion(r));
      expect(debianVersion(r)).toMatch(/^[0-9][A-Za-z0-9.+~]*-[0-9]+$/);
      expect(isApkVersion(apkVersion(r)), apkVersion(r)).toBe(true);
    }
    for (const bad of ['0.53.0-litellm.1', '0.53.0-1', '0.53.0~alpha.2-1', '1.0_foo-r1', '1.0-r', '1.0a.1', 'v1.0']) expect(isApkVersion(bad), bad).toBe(false);
  });

  it.skipIf(!APK)('apk (OpenWrt 25.12+): real apk-tools finds every spelling valid and a newer release newer', () => {
    const all = RELEASES.map(apkVersion);
    const check = spawnSync(APK!, ['version', '--check', ...all, '0.53.0-litellm.1'], { encoding: 'utf8' });
    expect(check.stdout.trim(), 'apk version --check prints the invalid ones').toBe('0.53.0-litellm.1');
    for (let i = 0; i + 1 < all.length; i += 1) {
      const t = spawnSync(APK!, ['version', '--test', all[i]!, all[i + 1]!], { encoding: 'utf8' });
      expect(t.stdout.trim(), `apk: ${all[i]} < ${all[i + 1]}`).toBe('<');
    }
  });

  it('npm: a newer release is a greater semver', () => {
    for (let i = 0; i < RELEASES.length; i += 1) {
      for (let j = i + 1; j < RELEASES.length; j += 1) {
        const [a, b] = [npmVersion(RELEASES[i]!), npmVersion(RELEASES[j]!)];
        expect(semver.lt(a, b), `${a} < ${b}`).toBe(true);
      }
    }
  });

  it('Debian, Termux and opkg: a newer release sorts newer (our dpkg comparison)', () => {
    for (let i = 0; i < RELEASES.length; i += 1) {
      for (let j = i + 1; j < RELEASES.length; j += 1) {
        const [a, b] = [debianVersion(RELEASES[i]!), debianVersion(RELEASES[j]!)];
        expect(compareDebianVersions(a, b), `${a} < ${b}`).toBeLessThan(0);
        expect(compareDebianVersions(b, a), `${b} > ${a}`).toBeGreaterThan(0);
        expect(compareDebianVersions(opkgVersion(RELEASES[i]!), opkgVersion(RELEASES[j]!))).toBeLessThan(0);
      }
    }
  });

  it.skipIf(!hasDpkg)('Debian: real dpkg --compare-versions agrees, release by release', () => {
    for (let i = 0; i + 1 < RELEASES.length; i += 1) {
      const [a, b] = [debianVersion(RELEASES[i]!), debianVersion(RELEASES[i + 1]!)];
      expect(dpkgLt(a, b), `dpkg: ${a} lt ${b}`).toBe(true);
      expect(dpkgLt(b, a), `dpkg: ${b} lt ${a}`).toBe(false);
    }
  });
});

describe('Debian version comparison (Debian policy 5.6.12)', () => {
  const tricky = [
    '1.0~rc1',
    '1.0',
    '1.0-1',
    '1.0-1.1',
    '1.0-2',
    '1.0a',
    '1.0+b1',
    '1.0.1',
    '1:0.1',
    '2:0.0~~',
    '2:0.0~',
    '2:0.0',
    '0.53.0~alpha.2-1',
    '0.53.0-litellm.1',
    '0.53.0-1',
    '1.00',
    '1.0.0',
    '10',
    '9',
    '1.0-a',
  ];

  it('orders the classic examples', () => {
    expect(compareDebianVersions('1.0~rc1', '1.0')).toBeLessThan(0);
    expect(compareDebianVersions('1.0', '1.0-0')).toBe(0);
    expect(compareDebianVersions('1:0.1', '2.0')).toBeGreaterThan(0);
    expect(compareDebianVersions('1.00', '1.0')).toBe(0);
    expect(compareDebianVersions('1.0a', '1.0+')).toBeLessThan(0); // letters sort before other characters
    expect(compareDebianVersions('0.53.0-10', '0.53.0-9')).toBeGreaterThan(0);
    expect(() => compareDebianVersions('x1.0', '1.0')).toThrow(/not a valid Debian version/);
  });

  it.skipIf(!hasDpkg)('agrees with dpkg --compare-versions on every pair', () => {
    for (const a of tricky) {
      for (const b of tricky) {
        expect(Math.sign(compareDebianVersions(a, b)), `${a} vs ${b}`).toBe(dpkgCmp(a, b));
      }
    }
  });
});
