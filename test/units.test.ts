/** Pure pieces of the orchestrator. */
import { describe, expect, it } from 'vitest';
import { newExternalPackages } from '../scripts/build/cargolock.ts';
import { UserError } from '../scripts/lib/errors.ts';
import { parseLock, renderLock, upstreamVersion } from '../scripts/lib/lockfile.ts';
import { findProfile } from '../scripts/lib/profiles.ts';
import { mirrorEnv, parseMirrorSpec } from '../scripts/lib/settings.ts';
import { parsePatchFile, locateHunk } from '../scripts/lib/series.ts';
import { findTarget, TARGETS } from '../scripts/lib/targets.ts';
import { pinnedChannel } from '../scripts/lib/toolchain.ts';
import { versionInfo } from '../scripts/lib/version.ts';
import { patchName } from '../scripts/patches/worktree.ts';

const LOCK =
  'repository = "https://github.com/openai/codex.git"\ntag = "rust-v0.53.0"\ncommit = "ca80bc4902b7ca49112907152e8ed0879eaa0b78"\nworkspace = "codex-rs"\nrelease = 1\n';

describe('upstream.lock', () => {
  it('parses, ignores comments and round-trips through render', () => {
    const lock = parseLock(`# pin\n${LOCK.replace('release = 1', 'release = 1 # counter')}`);
    expect(lock).toEqual({
      repository: 'https://github.com/openai/codex.git',
      tag: 'rust-v0.53.0',
      commit: 'ca80bc4902b7ca49112907152e8ed0879eaa0b78',
      workspace: 'codex-rs',
      release: 1,
    });
    expect(parseLock(renderLock(lock))).toEqual(lock);
  });
  it.each([
    ['unknown key', `${LOCK}colour = "red"\n`, /unknown key `colour`/],
    ['duplicate key', `${LOCK}tag = "x"\n`, /`tag` is set twice/],
    ['absolute workspace', LOCK.replace('"codex-rs"', '"/etc"'), /must be a relative path/],
    ['release as string', LOCK.replace('release = 1', 'release = "1"'), /`release` must be a number/],
  ])('rejects %s', (_n, text, re) => {
    expect(() => parseLock(text)).toThrow(re);
    expect(() => parseLock(text)).toThrow(UserError);
  });
  it('derives the upstream version from the tag', () => {
    expect(upstreamVersion('rust-v0.53.0')).toBe('0.53.0');
    expect(upstreamVersion('rust-v0.54.0-alpha.2')).toBe('0.54.0-alpha.2');
    expect(() => upstreamVersion('nightly')).toThrow(/does not carry a version/);
  });
});

describe('version', () => {
  it('names our version, the tag, the commit and the series', () => {
    const v = versionInfo(parseLock(LOCK), 'abcdef012345');
    expect(v.version).toBe('0.53.0-litellm.1');
    expect(v.display).toBe('0.53.0-litellm.1 (upstream rust-v0.53.0 ca80bc4902b7, series abcdef012345)');
  });
});

describe('git mirrors', () => {
  it('parses url=path specs and rejects anything else', () => {
    expect(parseMirrorSpec('https://github.com/nornagon/ratatui/=/srv/r.git', 'x')).toEqual(['https://github.com/nornagon/ratatui', '/srv/r.git']);
    expect(() => parseMirrorSpec('/srv/r.git', 'x')).toThrow(/bad git mirror/);
    expect(() => parseMirrorSpec('github.com/x=/y', 'x')).toThrow(/bad git mirror/);
  });
  it('becomes git insteadOf config for Cargo, after any the caller already has', () => {
    const env = mirrorEnv(new Map([['https://github.com/nornagon/ratatui', '/srv/r.git']]), { GIT_CONFIG_COUNT: '1' });
    expect(env).toEqual({
      CARGO_NET_GIT_FETCH_WITH_CLI: 'true',
      GIT_CONFIG_KEY_1: 'url./srv/r.git.insteadOf',
      GIT_CONFIG_VALUE_1: 'https://github.com/nornagon/ratatui',
      GIT_CONFIG_KEY_2: 'url./srv/r.git.insteadOf',
      GIT_CONFIG_VALUE_2: 'https://github.com/nornagon/ratatui.git',
      GIT_CONFIG_COUNT: '3',
    });
    expect(mirrorEnv(new Map())).toEqual({});
  });
});

describe('Cargo.lock guard', () => {
  const lock = (extra = ''): string =>
    `version = 4\n\n[[package]]\nname = "codex-cli"\nversion = "0.0.0"\n\n[[package]]\nname = "serde"\nversion = "1.0.228"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n${extra}`;
  it('accepts workspace-only changes', () => {
    expect(newExternalPackages(lock(), lock().replace('"0.0.0"', '"0.53.0"'))).toEqual([]);
  });
  it('names an external package our crates added', () => {
    const added = newExternalPackages(
      lock(),
      lock('\n[[package]]\nname = "leftpad"\nversion = "1.0.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n'),
    );
    expect(added.map((p) => `${p.name} ${p.version}`)).toEqual(['leftpad 1.0.0']);
  });
  it('names a moved version', () => {
    expect(newExternalPackages(lock(), lock().replace('1.0.228', '1.0.229')).map((p) => p.version)).toEqual(['1.0.229']);
  });
});

describe('patches', () => {
  const text =
    'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: M <m@x>\nDate: Tue, 1 Jan 2025 00:00:00 +0000\nSubject: cli: rename\n\nBecause.\n\nUpstream: no\n\ndiff --git a/ws/a.rs b/ws/a.rs\nindex 1..2 100644\n--- a/ws/a.rs\n+++ b/ws/a.rs\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n d\n@@ -10,3 +10,3 @@\n x\n-y\n+z\n w\n';
  it('reads subject, author, why and the Upstream trailer', () => {
    const info = parsePatchFile('p.patch', text);
    expect(info.subject).toBe('cli: rename');
    expect(info.author).toBe('M <m@x>');
    expect(info.upstream).toBe('no');
    expect(info.body).toContain('Because.');
    expect(info.files).toEqual(['ws/a.rs']);
  });
  it("locates the failing hunk from git apply's line", () => {
    const info = parsePatchFile('p.patch', text);
    expect(locateHunk(info, 'ws/a.rs', 10)).toBe('ws/a.rs, hunk #2 (@@ -10,3 +10,3 @@)');
  });
  it('names exported patches from subjects, stably and uniquely', () => {
    const taken = new Set<string>();
    expect(patchName('cli: ship the binary as codex-litellm', taken)).toBe('cli-ship-the-binary-as-codex-litellm.patch');
    expect(patchName('cli: ship the binary as codex-litellm', taken)).toBe('cli-ship-the-binary-as-codex-litellm-2.patch');
    expect(patchName('a'.repeat(50) + ' bbbbbbbbbbbbbbbbbbbb', taken)).toBe(`${'a'.repeat(50)}.patch`);
  });
});

describe('targets and profiles', () => {
  it('finds targets by triple or alias and every row is complete', () => {
    expect(findTarget('android-arm64').triple).toBe('aarch64-linux-android');
    expect(findTarget('x86_64-unknown-linux-musl').openwrt).toEqual(['x86_64']);
    expect(new Set(TARGETS.map((t) => t.triple)).size).toBe(TARGETS.length);
    expect(new Set(TARGETS.map((t) => t.alias)).size).toBe(TARGETS.length);
    for (const t of TARGETS) if (t.npm) expect(t.npm.pkg).toBeTruthy();
  });
  it('maps profiles to cargo profiles and overrides', () => {
    expect(findProfile('release-lite').env).toEqual({ CARGO_PROFILE_RELEASE_LTO: 'thin', CARGO_PROFILE_RELEASE_CODEGEN_UNITS: '16' });
    expect(() => findProfile('fast')).toThrow(/unknown profile `fast`/);
  });
  it('reads the pinned toolchain channel', () => {
    expect(pinnedChannel('[toolchain]\nchannel = "1.90.0"\ncomponents = ["clippy"]\n')).toBe('1.90.0');
    expect(pinnedChannel(undefined)).toBeUndefined();
  });
});
