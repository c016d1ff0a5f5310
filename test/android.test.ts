/**
 * The Android (Termux) row: Android's symbol files read as the NDK reads them, the route (the NDK
 * that ANDROID_NDK_HOME or ANDROID_NDK_LATEST_HOME names, else zig with a sysroot made from AOSP's
 * sources, else a refusal naming both), and, with AOSP's real bionic, the sysroot itself: a program
 * compiled and linked against it is an AArch64 PIE for /system/bin/linker64 that needs only
 * bionic's libraries and only symbols bionic's symbol files give at API 24.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkAndroidElf, exportsOfDir, exportsOfStub } from '../scripts/build/android/check.ts';
import { findNdk } from '../scripts/lib/android-ndk.ts';
import { MapFileError, parseMapFile, selectStubs, stubSource, versionScript } from '../scripts/build/android/symbols.ts';
import {
  AOSP_SOURCES,
  ANDROID_LIBRARIES,
  ensureSysroot,
  sourceLocations,
  stubLibraries,
  sysrootEnv,
  sysrootTools,
  zigAndroidTarget,
} from '../scripts/build/android/sysroot.ts';
import { cargoCommand } from '../scripts/build/cargo.ts';
import { describeRoute, routeFor, stdIn } from '../scripts/lib/route.ts';
import { readElfDeps } from '../scripts/package/elf.ts';
import { findProfile } from '../scripts/lib/profiles.ts';
import { readUserConfig } from '../scripts/lib/settings.ts';
import { findTarget } from '../scripts/lib/targets.ts';
import { fakeNdk } from './helpers/android.ts';
import { runBuild } from './helpers/fixture.ts';
import { hasCommand } from './helpers/tools.ts';
import { makePackageProject } from './helpers/package-fixture.ts';

const tmp = (p: string): string => fs.mkdtempSync(path.join(os.tmpdir(), p));
const HOST = 'x86_64-unknown-linux-gnu';
const android = findTarget('aarch64-linux-android');

// Written for these tests in the symbol-file format (docs/map_files.md in AOSP's build/soong).
const MAP = `# comment lines are not tags
LIBX {
  global:
    always;
    only_arm64; # arm64
    only_arm; # arm x86
    from23; # introduced=23
    from26; # introduced=O
    arm64_late; # introduced=21 introduced-arm64=28
    platform_thing; # apex llndk
    counter; # var
    soft; # weak
    old_unversioned; # introduced=24 versioned=29
    futuristic; # future
  local:
    *;
};

LIBX_N { # introduced=24
  global:
    n_sym;
} LIBX;

LIBX_O { # introduced=26
  global:
    o_sym;
} LIBX_N;

LIBX_EMPTY_HERE {
  global:
    p_only; # introduced=28
} LIBX_O;

LIBX_LATER {
  global:
    later;
} LIBX_EMPTY_HERE;

LIBX_PRIVATE {
  global:
    secret;
} LIBX;

LIBX_ARM { # arm platform-only
  global:
    arm_compat;
};
`;

describe("Android's symbol files", () => {
  const versions = parseMapFile(MAP, 'test.map.txt');

  it('parses version blocks, their bases, tags and global symbols only', () => {
    expect(versions.map((v) => [v.name, v.base])).toEqual([
      ['LIBX', undefined],
      ['LIBX_N', 'LIBX'],
      ['LIBX_O', 'LIBX_N'],
      ['LIBX_EMPTY_HERE', 'LIBX_O'],
      ['LIBX_LATER', 'LIBX_EMPTY_HERE'],
      ['LIBX_PRIVATE', 'LIBX'],
      ['LIBX_ARM', undefined],
    ]);
    expect(versions[0]!.symbols.find((s) => s.name === 'arm64_late')!.tags).toEqual(['introduced=21', 'introduced-arm64=28']);
    expect(versions[1]!.tags).toEqual(['introduced=24']);
  });

  it('keeps what an app of that CPU and API level may use, as the NDK stubs do', () => {
    const at24 = selectStubs(versions, 'arm64', 24);
    const names = at24.symbols.map((s) => s.name);
    expect(names).toEqual(['always', 'only_arm64', 'from23', 'counter', 'soft', 'old_unversioned', 'n_sym', 'later']);
    // CPU tags, introduced= (code names too), arch-specific introduced- winning, platform modes, private and platform-only blocks.
    expect(selectStubs(versions, 'arm', 24).symbols.map((s) => s.name)).toContain('only_arm');
    expect(selectStubs(versions, 'arm', 24).symbols.map((s) => s.name)).toContain('arm64_late');
    expect(selectStubs(versions, 'arm64', 28).symbols.map((s) => s.name)).toEqual(
      expect.arrayContaining(['arm64_late', 'from26', 'o_sym', 'p_only', 'old_unversioned']),
    );
    expect(selectStubs(versions, 'arm64', 21).symbols.map((s) => s.name)).toEqual(['always', 'only_arm64', 'counter', 'soft', 'later']);
    expect(at24.symbols.find((s) => s.name === 'counter')).toMatchObject({ data: true, weak: false, version: 'LIBX' });
    expect(at24.symbols.find((s) => s.name === 'soft')).toMatchObject({ data: false, weak: true });
    // versioned=29: below it the symbol is there but unversioned (it was private on older devices).
    expect(at24.symbols.find((s) => s.name === 'old_unversioned')!.version).toBeUndefined();
    expect(selectStubs(versions, 'arm64', 29).symbols.find((s) => s.name === 'old_unversioned')!.version).toBe('LIBX');
    expect(selectStubs(versions, 'arm64', 10000).symbols.map((s) => s.name)).toContain('futuristic');
  });

  it('writes a stub source and a version script whose bases skip the blocks left out', () => {
    const at24 = selectStubs(versions, 'arm64', 24);
    // LIBX_O and LIBX_EMPTY_HERE have nothing at 24, so LIBX_LATER hangs from LIBX_N.
    expect(at24.versions.map((v) => [v.name, v.base])).toEqual([
      ['LIBX', undefined],
      ['LIBX_N', 'LIBX'],
      ['LIBX_LATER', 'LIBX_N'],
    ]);
    const script = versionScript(at24);
    expect(script).toContain('LIBX_N {\n  global:\n    n_sym;\n} LIBX;');
    expect(script).not.toContain('old_unversioned');
    const c = stubSource(at24);
    expect(c).toContain('void always(void) {}');
    expect(c).toContain('int counter = 0;');
    expect(c).toContain('__attribute__((weak)) void soft(void) {}');
    expect(c).toContain('void old_unversioned(void) {}');
    expect(exportsOfStub(at24)).toEqual(
      new Set([
        'always',
        'always@LIBX',
        'only_arm64',
        'only_arm64@LIBX',
        'from23',
        'from23@LIBX',
        'counter',
        'counter@LIBX',
        'soft',
        'soft@LIBX',
        'old_unversioned',
        'n_sym',
        'n_sym@LIBX_N',
        'later',
        'later@LIBX_LATER',
      ]),
    );
  });

  it('refuses what it cannot read, naming the file and line', () => {
    expect(() => parseMapFile('LIBX {\n  global:\n    a\n};\n', 'x.map.txt')).toThrow(new MapFileError('x.map.txt:3: expected `;` after symbol `a`'));
    expect(() => parseMapFile('LIBX {\n  global:\n    a*;\n};\n', 'x.map.txt')).toThrow(/wildcards are not allowed/);
    expect(() => parseMapFile('LIBX {\n  global:\n    a;\n', 'x.map.txt')).toThrow(/x\.map\.txt:\d+: version block LIBX is not closed/);
    expect(() => parseMapFile('a;\n', 'x.map.txt')).toThrow(/x\.map\.txt:1: expected a version block/);
    expect(() => selectStubs(parseMapFile('A {\n global:\n  a; # introduced=Z\n};\n'), 'arm64', 24)).toThrow(/unknown API level `Z`/);
    expect(() => selectStubs(parseMapFile('A {\n global:\n  a;\n};\nB {\n global:\n  a;\n} A;\n'), 'arm64', 24)).toThrow(/a is in both A and B/);
  });
});

describe('the Android route', () => {
  const zig = (p: string): boolean => p === 'zig';
  const none = (): boolean => false;

  it('takes the NDK ANDROID_NDK_HOME names, else the runner ANDROID_NDK_LATEST_HOME names', () => {
    const home = fakeNdk('27.2.12479018');
    const latest = fakeNdk('28.0.13004108');
    const r = routeFor(android, HOST, undefined, zig, { ANDROID_NDK_HOME: home, ANDROID_NDK_LATEST_HOME: latest });
    expect(r).toMatchObject({ tool: 'android-ndk', ndk: home, cdeps: [], blocked: undefined });
    expect(r.toolWhy).toBe(`the Android NDK 27.2.12479018 at ${home} (ANDROID_NDK_HOME)`);
    const ci = routeFor(android, HOST, undefined, zig, { ANDROID_NDK_LATEST_HOME: latest });
    expect(ci).toMatchObject({ tool: 'android-ndk', ndk: latest });
    expect(ci.toolWhy).toContain('(ANDROID_NDK_LATEST_HOME)');
    // The build's environment points at the NDK that was found, whichever variable named it.
    const p = makePackageProject('android-ndk-env', []);
    const cmd = cargoCommand(p.ctx, android, findProfile('release'), { name: 'stable', cargo: 'cargo', env: {} }, ci, { display: 'x' } as never);
    expect(cmd.env.CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER).toBe(`${latest}/toolchains/llvm/prebuilt/linux-x86_64/bin/aarch64-linux-android24-clang`);
    expect(cmd.env.AR_aarch64_linux_android).toBe(`${latest}/toolchains/llvm/prebuilt/linux-x86_64/bin/llvm-ar`);
    expect(cmd.program).toBe('cargo');
  });

  it('refuses a variable that names something that is not an NDK rather than falling back', () => {
    const r = routeFor(android, HOST, undefined, zig, { ANDROID_NDK_HOME: '/nonexistent/ndk' });
    expect(r.blocked).toBe(
      'ANDROID_NDK_HOME=/nonexistent/ndk is not an Android NDK for this host: toolchains/llvm/prebuilt/linux-x86_64/bin/aarch64-linux-android24-clang is missing there',
    );
    expect(findNdk('aarch64-linux-android', 24, {})).toEqual({});
  });

  it('without an NDK: zig and the generated bionic sysroot; without zig either: an error naming both variables', () => {
    const r = routeFor(android, HOST, undefined, zig, {});
    expect(r).toMatchObject({ tool: 'zig-android', cdeps: ['android-sysroot'], blocked: undefined });
    expect(describeRoute(r)).toMatch(
      /^tool zig-android \(no Android NDK here \(ANDROID_NDK_HOME, ANDROID_NDK_LATEST_HOME unset\).*; C: zig cc -target aarch64-linux-android\.24 against a bionic sysroot/,
    );
    // macOS and musl hosts too: zig cross-compiles from any of them.
    expect(routeFor(android, 'aarch64-apple-darwin', undefined, zig, {}).tool).toBe('zig-android');
    const blocked = routeFor(android, HOST, undefined, none, {}).blocked!;
    expect(blocked).toContain('set ANDROID_NDK_HOME');
    expect(blocked).toContain('ANDROID_NDK_LATEST_HOME');
    expect(blocked).toContain('pip install ziglang');
    const p = makePackageProject('android-zig-env', []);
    const cmd = cargoCommand(p.ctx, android, findProfile('release'), { name: 'stable', cargo: 'cargo', env: {} }, r, { display: 'x' } as never);
    const tools = sysrootTools(
      path.join(p.ctx.cache.sysrootsDir, path.basename(path.dirname(path.dirname(cmd.env.CC_aarch64_linux_android!)))),
      android.triple,
    );
    expect(cmd.env).toMatchObject({
      CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER: tools.linker,
      CC_aarch64_linux_android: tools.cc,
      AR_aarch64_linux_android: tools.ar,
    });
    expect(tools.cc.startsWith(p.ctx.cache.sysrootsDir)).toBe(true);
    // rustc picks a linker's flavour from its name: ours must read as a cc, never as ld or link.
    expect(path.basename(tools.linker)).not.toMatch(/(^|-)ld$|^link$/);
    expect(zigAndroidTarget('aarch64-linux-android')).toBe('aarch64-linux-android.24');
  });

  const haveZigHere = hasCommand('zig', ['version']);
  it.skipIf(!haveZigHere)('the dry run without an NDK shows the sysroot step, the wrappers in the cargo command and the ELF check', () => {
    const p = makePackageProject('android-dry', []);
    const env: Record<string, string> = { ...p.env };
    const r = runBuild({ root: p.root, cache: path.join(p.root, '.cache'), env }, ['--dry-run', '--target', 'android-arm64', '--profile', 'dev'], {
      ANDROID_NDK_HOME: '',
      ANDROID_NDK_LATEST_HOME: '',
      // The default locations, whatever this run was pointed at.
      CODEX_LITELLM_BIONIC_SOURCE: '',
      CODEX_LITELLM_SYSTEM_CORE_SOURCE: '',
      CODEX_LITELLM_ZLIB_SOURCE: '',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Targets: aarch64-linux-android \(zig-android\); profile dev/);
    expect(r.stdout).toContain('Android sysroot for aarch64-linux-android (API 24, no NDK here)');
    expect(r.stdout).toMatch(
      /source: AOSP bionic 731631f30009 from https:\/\/android\.googlesource\.com\/platform\/bionic or https:\/\/github\.com\/aosp-mirror\/platform_bionic/,
    );
    expect(r.stdout).toMatch(
      /CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER=\S*\/sysroots\/aarch64-linux-android-24-[0-9a-f]{12}\/bin\/aarch64-linux-android24-link-cc/,
    );
    expect(r.stdout).toContain('Check the Android binary (API 24)');
    expect(fs.existsSync(path.join(p.root, '.cache'))).toBe(false);
  });

  it('names each AOSP source by commit, and the user file or the environment can point it elsewhere', () => {
    const bionic = AOSP_SOURCES.find((s) => s.name === 'bionic')!;
    expect(bionic.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(sourceLocations(bionic, undefined, {})).toEqual([...bionic.urls]);
    expect(sourceLocations(bionic, { bionic: '/srv/mirrors/bionic.git' }, {})).toEqual(['/srv/mirrors/bionic.git']);
    expect(sourceLocations(bionic, { bionic: '/srv/a' }, { CODEX_LITELLM_BIONIC_SOURCE: '/srv/b' })).toEqual(['/srv/b']);
  });
});

/**
 * With AOSP's real sources: from CODEX_LITELLM_BIONIC_SOURCE / CODEX_LITELLM_SYSTEM_CORE_SOURCE or
 * `sources` in the user file (a mirror), else the default URLs. A machine that reaches none of them
 * (CI here reaches package registries only) skips these with a warning, as for apk-tools; the build
 * itself checks every Android binary it makes the same way (build/command.ts).
 */
describe('the bionic sysroot, for real', () => {
  let sysroot: string | undefined;
  let skipped: string | undefined;
  const cache = { sourcesDir: '', sysrootsDir: '' };
  const haveZig =
    spawnSync('zig', ['version'], { stdio: 'ignore' }).status === 0 || spawnSync('python3', ['-m', 'ziglang', 'version'], { stdio: 'ignore' }).status === 0;

  beforeAll(() => {
    if (!haveZig) {
      if (process.env.CI) throw new Error('zig is not installed, and under CI no test is skipped for a missing tool (.ci/run installs it)');
      skipped = 'zig is not installed';
      return;
    }
    const dir = tmp('cl-android-');
    cache.sourcesDir = path.join(dir, 'sources');
    cache.sysrootsDir = path.join(dir, 'sysroots');
    try {
      sysroot = ensureSysroot(cache, 'aarch64-linux-android', readUserConfig().sources, () => {}).dir;
    } catch (e) {
      if (!/cannot get AOSP's/.test((e as Error).message)) throw e;
      skipped = (e as Error).message.split('\n').slice(0, 2).join(' ');
      console.warn(
        `\n!!! AOSP's sources are not reachable here: the real bionic sysroot tests are SKIPPED (${skipped}).\n!!! Point CODEX_LITELLM_BIONIC_SOURCE and CODEX_LITELLM_SYSTEM_CORE_SOURCE (or "sources" in the user file) at mirrors to run them.\n`,
      );
    }
  }, 300_000);

  it('lays out headers, API 24 stubs of the five libraries and the start files, and is kept for the next build', (ctx) => {
    if (!sysroot) return ctx.skip();
    const t = sysrootTools(sysroot, 'aarch64-linux-android');
    expect(fs.readdirSync(t.libDir).sort()).toEqual([
      'crtbegin_dynamic.o',
      'crtbegin_so.o',
      'crtend_android.o',
      'crtend_so.o',
      'libc.so',
      'libdl.so',
      'liblog.so',
      'libm.so',
      'libz.so',
    ]);
    for (const h of ['stdio.h', 'linux/types.h', 'asm-generic/types.h', 'android/log.h', 'aarch64-linux-android/asm/unistd.h', 'zlib.h', 'zconf.h']) {
      expect(fs.existsSync(path.join(sysroot, 'usr', 'include', h)), h).toBe(true);
    }
    // The stubs export exactly what the symbol files give arm64 at API 24, with their versions.
    const libc = readElfDeps(fs.readFileSync(path.join(t.libDir, 'libc.so')))!;
    expect(libc.soname).toBe('libc.so');
    const fopen = libc.dynamic.find((s) => s.name === 'fopen')!;
    expect(fopen).toMatchObject({ undefined: false, version: 'LIBC' });
    expect(libc.dynamic.some((s) => s.name === 'getrandom')).toBe(false); // API 28
    expect(libc.dynamic.find((s) => s.name === 'pthread_barrier_init')?.version).toBe('LIBC_N'); // API 24
    expect(ensureSysroot(cache, 'aarch64-linux-android', readUserConfig().sources, () => {}).built).toBe(false);
  });

  it('links a C program into an AArch64 PIE for /system/bin/linker64 whose every undefined symbol bionic gives at API 24', (ctx) => {
    if (!sysroot) return ctx.skip();
    const t = sysrootTools(sysroot, 'aarch64-linux-android');
    const dir = tmp('cl-android-c-');
    const src = path.join(dir, 'main.c');
    fs.writeFileSync(
      src,
      [
        '#include <android/log.h>',
        '#include <dlfcn.h>',
        '#include <math.h>',
        '#include <pthread.h>',
        '#include <stdio.h>',
        '#include <zlib.h>',
        'static void *run(void *a) { return a; }',
        'int main(int argc, char **argv) {',
        '  pthread_t t; pthread_create(&t, 0, run, 0); pthread_join(t, 0);',
        '  void *h = dlopen("libc.so", RTLD_NOW);',
        '  __android_log_write(ANDROID_LOG_INFO, "t", argv[0]);',
        '  printf("%f %p %lu\\n", sqrt((double)argc), h, crc32(0, (const Bytef *)argv[0], 1));',
        '  return 0;',
        '}',
        '',
      ].join('\n'),
    );
    const out = path.join(dir, 'main');
    // cc-rs adds --target=<triple> for a clang-like compiler: the wrapper must keep API 24 all the same.
    const cc = spawnSync(t.linker, ['--target=aarch64-linux-android', '-O2', src, '-o', out, '-ldl', '-llog', '-lm', '-lz'], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    const elf = readElfDeps(fs.readFileSync(out))!;
    const check = checkAndroidElf(elf, 'aarch64-linux-android', exportsOfDir(t.libDir, ANDROID_LIBRARIES));
    expect(check.problems).toEqual([]);
    expect(check.interpreter).toBe('/system/bin/linker64');
    expect(elf.machine).toBe(183);
    expect(elf.needed.every((l) => ANDROID_LIBRARIES.includes(l))).toBe(true);
    expect(elf.needed).toEqual(expect.arrayContaining(['libc.so', 'libdl.so', 'liblog.so', 'libz.so']));
    // The same check against the symbol files themselves, not only the stubs made from them.
    const fromMaps = new Map(stubLibraries(extractedMaps(), 'aarch64-linux-android', 24).map(({ lib, stubs }) => [`${lib}.so`, exportsOfStub(stubs)]));
    expect(checkAndroidElf(elf, 'aarch64-linux-android', fromMaps).problems).toEqual([]);
    expect(elf.dynamic.filter((s) => s.undefined).map((s) => `${s.name}@${s.version}`)).toEqual(
      expect.arrayContaining(['pthread_create@LIBC', '__android_log_write@LIBLOG', 'dlopen@LIBC', 'crc32@ZLIB_NDK']),
    );
  });

  it('holds the program to API 24: a newer function is not declared, and a link that forces it fails', (ctx) => {
    if (!sysroot) return ctx.skip();
    const t = sysrootTools(sysroot, 'aarch64-linux-android');
    const dir = tmp('cl-android-api-');
    const src = path.join(dir, 'new.c');
    fs.writeFileSync(src, '#include <sys/random.h>\nint main(void) { char b[4]; return (int)getrandom(b, 4, 0); }\n');
    const declared = spawnSync(t.cc, ['-O2', '-Werror=implicit-function-declaration', '-c', src, '-o', path.join(dir, 'new.o')], { encoding: 'utf8' });
    expect(declared.status).not.toBe(0);
    expect(declared.stderr).toMatch(/getrandom/);
    fs.writeFileSync(src, 'long getrandom(void *, unsigned long, unsigned);\nint main(void) { char b[4]; return (int)getrandom(b, 4, 0); }\n');
    const linked = spawnSync(t.linker, ['-O2', src, '-o', path.join(dir, 'new')], { encoding: 'utf8' });
    expect(linked.status).not.toBe(0);
    expect(linked.stderr).toMatch(/undefined symbol: getrandom/);
  });

  // Rust's std for Android from source (Debian's rustc-web + rust-web-src, or rustup's rust-src), linked by our
  // wrappers: threads, thread-locals (emulated TLS from zig's compiler-rt), a caught panic (zig's libunwind).
  const distRust = ['/usr/bin/rustc', '/usr/bin/cargo'].every((f) => fs.existsSync(f)) && stdIn('/usr', 'aarch64-linux-android').source;
  it.skipIf(!distRust)(
    'links a Rust program with std built from source, and it passes the same check',
    (ctx) => {
      if (!sysroot) return ctx.skip();
      const dir = tmp('cl-android-rust-');
      fs.mkdirSync(path.join(dir, 'src'));
      fs.writeFileSync(path.join(dir, 'Cargo.toml'), '[package]\nname = "probe"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n');
      fs.writeFileSync(
        path.join(dir, 'src', 'main.rs'),
        [
          'use std::cell::Cell;',
          'thread_local! { static N: Cell<u32> = const { Cell::new(1) }; }',
          'fn main() {',
          '    let t = std::thread::spawn(|| N.with(|n| n.get() + 41));',
          '    let caught = std::panic::catch_unwind(|| panic!("boom")).is_err();',
          '    println!("{} {caught} {:?}", t.join().unwrap(), std::env::temp_dir());',
          '}',
          '',
        ].join('\n'),
      );
      const env = {
        ...process.env,
        ...sysrootEnv(sysroot, 'aarch64-linux-android'),
        RUSTC: '/usr/bin/rustc',
        RUSTC_BOOTSTRAP: '1',
        CARGO_TARGET_DIR: path.join(dir, 'target'),
      };
      const r = spawnSync('/usr/bin/cargo', ['build', '--release', '-Zbuild-std=std,panic_abort', '--target', 'aarch64-linux-android'], {
        cwd: dir,
        env,
        encoding: 'utf8',
      });
      expect(r.status, r.stderr.slice(-3000)).toBe(0);
      const elf = readElfDeps(fs.readFileSync(path.join(dir, 'target', 'aarch64-linux-android', 'release', 'probe')))!;
      const check = checkAndroidElf(elf, 'aarch64-linux-android', exportsOfDir(sysrootTools(sysroot, 'aarch64-linux-android').libDir, ANDROID_LIBRARIES));
      expect(check.problems).toEqual([]);
      expect(check.interpreter).toBe('/system/bin/linker64');
      expect(elf.needed.every((l) => ANDROID_LIBRARIES.includes(l))).toBe(true);
    },
    900_000,
  );

  /** The symbol files, read again from the sources for the cross-check (the sysroot keeps none of AOSP's text). */
  function extractedMaps(): Record<'bionic' | 'system-core' | 'zlib', string> {
    const dir = tmp('cl-android-maps-');
    const out = {} as Record<'bionic' | 'system-core' | 'zlib', string>;
    for (const s of AOSP_SOURCES) {
      out[s.name] = path.join(dir, s.name);
      const gitDir = fs.existsSync(path.join(cache.sourcesDir, `aosp-${s.name}.git`))
        ? path.join(cache.sourcesDir, `aosp-${s.name}.git`)
        : sourceLocations(s, readUserConfig().sources)[0]!;
      for (const m of ['libc/libc.map.txt', 'libm/libm.map.txt', 'libdl/libdl.map.txt', 'liblog/liblog.map.txt', 'libz.map.txt'].filter((f) =>
        s.paths.includes(f),
      )) {
        const r = spawnSync('git', ['--git-dir', gitDir, 'show', `${s.commit}:${m}`], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        fs.mkdirSync(path.dirname(path.join(out[s.name], m)), { recursive: true });
        fs.writeFileSync(path.join(out[s.name], m), r.stdout);
      }
    }
    return out;
  }
});
