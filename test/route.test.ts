/**
 * How this machine builds a target (scripts/lib/route.ts): the std it finds in a toolchain's
 * sysroot (prebuilt, source only, neither), the toolchain named by a directory, the cargo command
 * a build-std cross build runs, and the target libcap built with zig from a pinned tarball.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cargoCommand, rustupRef } from '../scripts/build/cargo.ts';
import { ensureLibcap, LIBCAP, libcapEnv, libcapTarball } from '../scripts/build/cdeps.ts';
import { describeRoute, routeFor, stdIn, zigTriple } from '../scripts/lib/route.ts';
import { chooseToolchain, pathToolchain, planToolchain, settleToolchain, type Toolchain } from '../scripts/lib/toolchain.ts';
import { findProfile } from '../scripts/lib/profiles.ts';
import { findTarget } from '../scripts/lib/targets.ts';
import { hasCommand } from './helpers/tools.ts';
import { makePackageProject } from './helpers/package-fixture.ts';

const tmp = (p: string): string => fs.mkdtempSync(path.join(os.tmpdir(), p));

/** A sysroot with a prebuilt std for `prebuilt` and, if asked, std's source. */
function sysroot(prebuilt: string[], source: boolean): string {
  const root = tmp('cl-sysroot-');
  for (const t of prebuilt) {
    fs.mkdirSync(path.join(root, 'lib', 'rustlib', t, 'lib'), { recursive: true });
    fs.writeFileSync(path.join(root, 'lib', 'rustlib', t, 'lib', 'libstd-0123abcd.rlib'), '');
  }
  if (source) {
    fs.mkdirSync(path.join(root, 'lib', 'rustlib', 'src', 'rust', 'library', 'std', 'src'), { recursive: true });
    fs.writeFileSync(path.join(root, 'lib', 'rustlib', 'src', 'rust', 'library', 'std', 'src', 'lib.rs'), '');
  }
  return root;
}

const toolchain = (root: string): Toolchain => ({
  name: '/opt/rust/bin',
  kind: 'path',
  reason: '--toolchain',
  rustc: 'rustc 1.96.0',
  cargo: '/opt/rust/bin/cargo',
  env: { RUSTC: '/opt/rust/bin/rustc' },
  sysroot: root,
});
const zig = (p: string): boolean => p === 'cargo-zigbuild';
const HOST = 'x86_64-unknown-linux-gnu';

describe('the std a toolchain has for a target', () => {
  it('prebuilt when lib/rustlib/<triple>/lib has libstd, else built from its source, else a clear refusal', () => {
    const both = sysroot(['aarch64-unknown-linux-musl'], true);
    expect(stdIn(both, 'aarch64-unknown-linux-musl')).toMatchObject({ prebuilt: true });
    expect(stdIn(both, 'mipsel-unknown-linux-musl')).toEqual({ prebuilt: false, source: path.join(both, 'lib', 'rustlib', 'src', 'rust', 'library') });

    expect(routeFor(findTarget('linux-arm64-musl'), HOST, toolchain(both), zig)).toMatchObject({ std: 'prebuilt', blocked: undefined });
    // armv7 as it would be without its known blocker (its row says why it does not build today).
    const armv7 = { ...findTarget('linux-armv7-musl'), unbuildable: undefined };
    const fromSource = routeFor(armv7, HOST, toolchain(both), zig);
    expect(fromSource).toMatchObject({ std: 'build-std', blocked: undefined });
    expect(fromSource.stdWhy).toContain('/opt/rust/bin has no prebuilt std for it; built from');
    expect(routeFor({ ...findTarget('linux-mipsel-musl'), unbuildable: undefined }, HOST, toolchain(both), zig).stdWhy).toMatch(
      /^tier 3: Rust ships no prebuilt std/,
    );

    const none = routeFor(armv7, HOST, toolchain(sysroot([], false)), zig);
    expect(none.blocked).toMatch(/standard library for armv7-unknown-linux-musleabihf is not in \/opt\/rust\/bin/);
    expect(none.blocked).toContain('rustup target add armv7-unknown-linux-musleabihf');
    expect(none.blocked).toContain('rustup component add rust-src');
    // The tier-3 row as it would be without its known blocker.
    const tier3 = { ...findTarget('linux-mipsel-musl'), unbuildable: undefined };
    expect(routeFor(tier3, HOST, toolchain(sysroot([], false)), zig).blocked).toMatch(/rustup component add rust-src \(std is built from source, tier 3\)/);
    // ...and as it is: its known blocker comes first, whatever the toolchain.
    expect(routeFor(findTarget('linux-mipsel-musl'), HOST, toolchain(both), zig).blocked).toMatch(/^it does not build: 32-bit MIPS has no 64-bit atomic/);
    expect(describeRoute(fromSource)).toMatch(
      /^tool cargo-zigbuild .*; std built from source .*; C: zig cc -target arm-linux-musleabihf \(cargo-zigbuild\); libcap built for the target; OpenSSL built from source$/,
    );
  });

  it("spells Rust's triples as zig does", () => {
    expect(zigTriple('aarch64-unknown-linux-musl')).toBe('aarch64-linux-musl');
    expect(zigTriple('aarch64-unknown-linux-gnu')).toBe('aarch64-linux-gnu');
    expect(zigTriple('armv7-unknown-linux-musleabihf')).toBe('arm-linux-musleabihf');
    expect(zigTriple('mipsel-unknown-linux-musl')).toBe('mipsel-linux-musleabi');
  });
});

describe('a toolchain named by a directory', () => {
  it('runs its own cargo with RUSTC set and no RUSTUP_TOOLCHAIN; a directory without both programs is refused', () => {
    const dir = tmp('cl-tc-');
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const sysrootDir = sysroot([], true);
    // Stand-ins that answer as rustc does.
    fs.writeFileSync(path.join(bin, 'rustc'), `#!/bin/sh\ncase "$1" in -V) echo 'rustc 1.96.0 (distro)';; --print) echo '${sysrootDir}';; esac\n`, {
      mode: 0o755,
    });
    fs.writeFileSync(path.join(bin, 'cargo'), '#!/bin/sh\n', { mode: 0o755 });
    for (const name of [dir, bin]) {
      const t = pathToolchain(name, '--toolchain');
      expect(t).toMatchObject({
        kind: 'path',
        name: bin,
        rustc: 'rustc 1.96.0 (distro)',
        cargo: path.join(bin, 'cargo'),
        env: { RUSTC: path.join(bin, 'rustc') },
        sysroot: sysrootDir,
      });
    }
    expect(chooseToolchain({ flag: bin }).kind).toBe('path');
    expect(chooseToolchain({ userDefault: dir }).reason).toBe('user config');
    expect(() => pathToolchain(tmp('cl-tc-empty-'), '--toolchain')).toThrow(/holds no cargo and rustc/);
  });

  it('is planned once: an explicit toolchain is the one that builds, whatever upstream pins; one that does not resolve fails the build, not the plan', () => {
    const bin = tmp('cl-tc-plan-');
    const sysrootDir = sysroot([], true);
    fs.writeFileSync(path.join(bin, 'rustc'), `#!/bin/sh\ncase "$1" in -V) echo 'rustc 1.96.0 (distro)';; --print) echo '${sysrootDir}';; esac\n`, {
      mode: 0o755,
    });
    fs.writeFileSync(path.join(bin, 'cargo'), '#!/bin/sh\n', { mode: 0o755 });
    const planned = planToolchain({ flag: bin, env: 'stable' });
    expect(planned).toMatchObject({ explicit: true, label: `${bin} (--toolchain): rustc 1.96.0 (distro)`, toolchain: { kind: 'path', sysroot: sysrootDir } });
    expect(settleToolchain(planned, '1.90.0')).toBe(planned.toolchain);
    const missing = tmp('cl-tc-missing-');
    const unresolved = planToolchain({ userDefault: missing });
    expect(unresolved).toMatchObject({ explicit: true, label: missing, toolchain: undefined });
    expect(() => settleToolchain(unresolved, undefined)).toThrow(/holds no cargo and rustc/);
  });
});

describe('the cargo command of a build-std cross build', () => {
  it('adds -Zbuild-std, RUSTC_BOOTSTRAP, the musl link flag and the target libcap, and runs the toolchain cargo', () => {
    const p = makePackageProject('route', []);
    const t = findTarget('linux-mipsel-musl');
    const route = routeFor(t, HOST, toolchain(sysroot([], true)), zig);
    const cmd = cargoCommand(p.ctx, t, findProfile('dev'), toolchain(sysroot([], true)), route, {
      display: 'x',
      version: '0.0.0',
      upstreamTag: 't',
      upstreamCommit: 'c',
      series: 's',
      substituted: [],
    } as never);
    expect(cmd.program).toBe('/opt/rust/bin/cargo');
    expect(cmd.args.slice(0, 1)).toEqual(['zigbuild']);
    expect(cmd.args).toContain('-Zbuild-std=std,panic_abort');
    expect(cmd.env).toMatchObject({
      RUSTC: '/opt/rust/bin/rustc',
      RUSTC_BOOTSTRAP: '1',
      CARGO_TARGET_MIPSEL_UNKNOWN_LINUX_MUSL_RUSTFLAGS: '-C link-self-contained=no',
      PKG_CONFIG_ALLOW_CROSS: '1',
      PKG_CONFIG_PATH_mipsel_unknown_linux_musl: path.join(p.ctx.cache.cdepsDir, 'mipsel-unknown-linux-musl', `libcap-${LIBCAP.version}`, 'lib', 'pkgconfig'),
    });
    expect(cmd.env.RUSTUP_TOOLCHAIN).toBeUndefined();
    expect(cmd.env.CARGO_INCREMENTAL).toBe('0');
    // The host build is untouched by all of it.
    const host = findTarget('linux-x64');
    const plain = cargoCommand(p.ctx, host, findProfile('dev'), rustupRef('stable'), routeFor(host, HOST, undefined, zig), { display: 'x' } as never);
    expect(plain.program).toBe('cargo');
    expect(plain.args).not.toContain('-Zbuild-std=std,panic_abort');
    expect(Object.keys(plain.env).filter((k) => /BOOTSTRAP|PKG_CONFIG|RUSTFLAGS/.test(k))).toEqual([]);
    expect(plain.env.RUSTUP_TOOLCHAIN).toBe('stable');
    expect(plain.env.CARGO_INCREMENTAL).toBeUndefined();
    expect(plain.args).not.toContain('--features');
    // A glibc row cross-built: OpenSSL from source, as the route says; CI's own build links libssl.
    const arm = findTarget('linux-arm64');
    const armRoute = routeFor(arm, HOST, undefined, zig);
    expect(armRoute.openssl).toMatch(/^built from source \(cross build/);
    const armCmd = cargoCommand(p.ctx, arm, findProfile('dev'), rustupRef('stable'), armRoute, { display: 'x' } as never);
    expect(armCmd.args.slice(-2)).toEqual(['--features', 'codex-litellm-core/vendored-openssl']);
    expect(routeFor(arm, 'aarch64-unknown-linux-gnu', undefined, zig)).toMatchObject({ tool: 'cargo', openssl: 'the system libssl', features: [] });
  });
});

describe('libcap for the target', () => {
  const paths = () => {
    const d = tmp('cl-cdeps-');
    return { sourcesDir: path.join(d, 'sources'), cdepsDir: path.join(d, 'cdeps') };
  };

  it('a local tarball with the wrong SHA-256 is refused, naming both sums, and leaves nothing behind', () => {
    const p = paths();
    const bad = path.join(tmp('cl-bad-'), 'libcap-2.66.tar.xz');
    fs.writeFileSync(bad, 'not libcap');
    expect(() => libcapTarball(p, bad, () => {})).toThrow(new RegExp(`SHA-256 [0-9a-f]{64}, expected ${LIBCAP.sha256}`));
    expect(fs.readdirSync(p.sourcesDir)).toEqual([]);
    const e = (() => {
      try {
        libcapTarball(p, '/nonexistent/libcap.tar.xz', () => {});
      } catch (err) {
        return err as Error & { hint?: string };
      }
    })();
    expect(e?.message).toContain('/nonexistent/libcap.tar.xz: no such file');
    expect(e?.hint).toContain('"sources": {"libcap": "/path/to/it"}');
  });

  it('only the target sees the libcap prefix through pkg-config', () => {
    const env = libcapEnv(paths(), 'aarch64-unknown-linux-musl');
    expect(Object.keys(env).sort()).toEqual([
      'LIBCAP_STATIC',
      'PKG_CONFIG_ALLOW_CROSS',
      'PKG_CONFIG_LIBDIR_aarch64_unknown_linux_musl',
      'PKG_CONFIG_PATH_aarch64_unknown_linux_musl',
    ]);
    // Only our directory: the host's .pc files (its liblzma, say) are not the target's.
    expect(env.PKG_CONFIG_LIBDIR_aarch64_unknown_linux_musl).toBe(env.PKG_CONFIG_PATH_aarch64_unknown_linux_musl);
  });

  // The real build: the pinned tarball (this machine's cached copy, else fetched and checked) compiled with zig.
  const cached = path.join(os.homedir(), '.cache', 'codex-litellm', 'sources', `libcap-${LIBCAP.version}.tar.xz`);
  const source = fs.existsSync(cached) ? cached : undefined;
  const haveZig = spawnSync('python3', ['-m', 'ziglang', 'version'], { stdio: 'ignore' }).status === 0 || hasCommand('zig', ['version']);
  it.skipIf(!haveZig)('builds a static aarch64 libcap.a with zig, once', () => {
    const p = paths();
    const first = ensureLibcap(p, 'aarch64-unknown-linux-musl', source, () => {});
    expect(first.built).toBe(true);
    const lib = path.join(first.prefix, 'lib', 'libcap.a');
    const members = spawnSync('ar', ['t', lib], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    expect(members).toContain('cap_proc.o');
    const obj = path.join(tmp('cl-ar-'), 'cap_proc.o');
    spawnSync('ar', ['x', lib, 'cap_proc.o'], { cwd: path.dirname(obj) });
    expect(fs.readFileSync(obj).readUInt16LE(18)).toBe(183); // EM_AARCH64
    expect(fs.readFileSync(path.join(first.prefix, 'lib', 'pkgconfig', 'libcap.pc'), 'utf8')).toContain(`prefix=${first.prefix}`);
    expect(ensureLibcap(p, 'aarch64-unknown-linux-musl', source, () => {}).built).toBe(false);
    expect(fs.readdirSync(path.dirname(first.prefix))).toEqual([path.basename(first.prefix)]);
  });
});
