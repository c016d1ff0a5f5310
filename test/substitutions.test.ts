/** Substitutions of git dependencies that cannot be mirrored: asked for, never silent, exact in the lock. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLock } from '../scripts/lib/lockfile.ts';
import { REPO_ROOT } from '../scripts/lib/project.ts';
import {
  availableSubstitutions,
  parseSubstitution,
  requestedSubstitutions,
  resolveSubstitutions,
  substitutionEntries,
  substitutionHint,
} from '../scripts/lib/substitutions.ts';
import { versionInfo } from '../scripts/lib/version.ts';

const PATCHES = path.join(REPO_ROOT, 'patches');

function patchesDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-subst-'));
  fs.mkdirSync(path.join(dir, 'substitutions'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, 'substitutions', name), text);
  return dir;
}

const mail = (trailers: string): string =>
  `From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: a <a@b>\nSubject: x\n\nwhy\n\n${trailers}\n---\ndiff --git a/codex-rs/Cargo.toml b/codex-rs/Cargo.toml\n--- a/codex-rs/Cargo.toml\n+++ b/codex-rs/Cargo.toml\n@@ -1 +1 @@\n-a\n+b\n`;

describe('substitutions', () => {
  it('the repo ships the four the 0.125 pin needs, each naming what it replaces and exactly what the lock may gain', () => {
    const subs = availableSubstitutions(PATCHES);
    expect(subs.map((s) => s.name)).toEqual(['crossterm', 'libwebrtc', 'tokio-tungstenite', 'v8']);
    const [crossterm, libwebrtc, tungstenite, v8] = subs;
    expect(crossterm!.replaces).toEqual({ kind: 'git', url: 'https://github.com/nornagon/crossterm', rev: '87db8bfa6dc99427fd3b071681b07fc31c6ce995' });
    expect(crossterm!.lockAdds).toEqual([{ name: 'crossterm', version: '0.28.1' }]);
    expect(libwebrtc!.replaces).toEqual({ kind: 'git', url: 'https://github.com/juberti-oai/rust-sdks', rev: 'e2d1d1d230c6fc9df171ccb181423f957bb3c1f0' });
    expect(libwebrtc!.lockAdds).toEqual([]);
    // V8 is a crates.io crate whose build downloads a prebuilt library: replaced by a stub, adding nothing to the lock.
    expect(v8!.replaces).toEqual({ kind: 'crate', name: 'v8', version: '146.4.0' });
    expect(v8!.with).toMatch(/no V8/);
    expect(v8!.lockAdds).toEqual([]);
    expect(tungstenite!.replaces).toMatchObject({ url: 'https://github.com/openai-oss-forks/tokio-tungstenite' });
    expect(tungstenite!.lockAdds.map((p) => `${p.name} ${p.version}`)).toEqual(['tokio-tungstenite 0.27.0', 'tokio-tungstenite 0.28.0', 'tungstenite 0.28.0']);
    // They are not part of the series: the lint of patches/ does not see them as unused.
    expect(fs.readFileSync(path.join(PATCHES, 'series'), 'utf8')).not.toMatch(/substitutions/);
  });

  it('is only applied when asked for: flags beat the environment, which beats the user file', () => {
    expect(requestedSubstitutions([], {}, undefined).names).toEqual([]);
    expect(requestedSubstitutions([], {}, ['crossterm'])).toEqual({ names: ['crossterm'], origin: 'the user file (`substitute`)' });
    expect(requestedSubstitutions([], { CODEX_LITELLM_SUBSTITUTE: 'a, b' }, ['crossterm'])).toEqual({ names: ['a', 'b'], origin: 'CODEX_LITELLM_SUBSTITUTE' });
    expect(requestedSubstitutions(['crossterm,tokio-tungstenite'], { CODEX_LITELLM_SUBSTITUTE: 'x' }, undefined).names).toEqual([
      'crossterm',
      'tokio-tungstenite',
    ]);
    expect(resolveSubstitutions(PATCHES, { names: [], origin: '' }, true)).toEqual([]);
  });

  it('names an unknown substitution and lists the known ones', () => {
    expect(() => resolveSubstitutions(PATCHES, { names: ['crosterm'], origin: '--substitute' }, false)).toThrow(
      /--substitute: there is no substitution `crosterm`/,
    );
    try {
      resolveSubstitutions(PATCHES, { names: ['crosterm'], origin: '--substitute' }, false);
    } catch (e) {
      expect((e as { hint?: string }).hint).toMatch(/crossterm \(crossterm 0\.28\.1 from crates\.io.*nornagon\/crossterm/);
    }
  });

  it('is refused by --no-substitute, naming where it was asked for (the release workflow relies on this)', () => {
    expect(() => resolveSubstitutions(PATCHES, { names: ['crossterm'], origin: 'CODEX_LITELLM_SUBSTITUTE' }, true)).toThrow(
      /CODEX_LITELLM_SUBSTITUTE asks for substitution\(s\) crossterm, but --no-substitute forbids them/,
    );
  });

  it('rejects a substitution patch without its trailers', () => {
    const dir = patchesDir({ 'bad.patch': mail('Upstream: no') });
    expect(() => availableSubstitutions(dir)).toThrow(/bad\.patch: no `Substitutes: <git url> <rev>` or `Substitutes: crate <name> <version>` trailer/);
    const dir3 = patchesDir({ 'c.patch': mail('Substitutes: crate v8\nWith: nothing') });
    expect(() => availableSubstitutions(dir3)).toThrow(/c\.patch: no `Substitutes:/);
    const dir2 = patchesDir({ 'x.patch': mail('Substitutes: https://x/y abcdef1\nWith: y 1.0\nLock-Adds: y') });
    expect(() => parseSubstitution(path.join(dir2, 'substitutions', 'x.patch'))).toThrow(/`Lock-Adds: y` is not `<crate> <version>`/);
  });

  it('goes after the series, and says itself in --version and BUILDINFO', () => {
    const subs = resolveSubstitutions(PATCHES, { names: ['tokio-tungstenite', 'crossterm'], origin: '--substitute' }, false);
    expect(substitutionEntries(subs).map((e) => e.name)).toEqual(['substitutions/crossterm.patch', 'substitutions/tokio-tungstenite.patch']);
    const lock = parseLock(
      'repository = "r"\ntag = "rust-v0.115.0"\ncommit = "f028679abb30051cec2434e624cd99975986b41b"\nworkspace = "codex-rs"\nrelease = 1\n',
    );
    const v = versionInfo(lock, 'abcdef012345', subs);
    expect(v.display).toMatch(
      /^0\.115\.0-litellm\.1 \(upstream rust-v0\.115\.0 f028679abb30, series abcdef012345, substituted crossterm \(crossterm 0\.28\.1 from crates\.io/,
    );
    expect(v.substitutions.map((s) => s.replaces)).toEqual([
      'https://github.com/nornagon/crossterm@87db8bfa6dc9',
      'https://github.com/openai-oss-forks/tokio-tungstenite@132f5b39c862',
    ]);
    expect(versionInfo(lock, 'abcdef012345').substitutions).toEqual([]);
  });

  it('is offered when Cargo cannot fetch the fork it replaces', () => {
    const out =
      'error: failed to get `crossterm` as a dependency\n  failed to load source for dependency `crossterm`\n  Unable to update https://github.com/nornagon/crossterm?branch=nornagon%2Fcolor-query';
    expect(substitutionHint(PATCHES, out)).toMatch(/--substitute crossterm/);
    expect(substitutionHint(PATCHES, 'error: could not find `foo` in registry')).toBeUndefined();
    // A crate whose build script cannot download its prebuilt library (V8) offers its stub.
    const v8 = 'error: failed to run custom build command for `v8 v146.4.0`\n  Downloading https://github.com/denoland/rusty_v8/releases/...';
    expect(substitutionHint(PATCHES, v8)).toMatch(/Without what v8 146\.4\.0 downloads, build with --substitute v8 \(no V8/);
  });
});
