/**
 * An Android sysroot made from AOSP's sources, for building the Termux binary where there is no
 * Android NDK (CI has one; this machine and many others do not). What the NDK's sysroot gives a
 * Rust build, and where it comes from here:
 * - bionic's public headers (libc/include), the kernel's UAPI headers as bionic ships them
 *   (libc/kernel/uapi, libc/kernel/android/uapi), liblog's <android/log.h> and zlib's headers;
 * - stub libc.so, libm.so, libdl.so, liblog.so and libz.so for the API level, made from their symbol files
 *   (symbols.ts, as the NDK makes its own): a link against them can only use what a device of
 *   that level has, with the symbol versions (LIBC, LIBC_N, ...) the device's libraries define;
 * - crtbegin_dynamic.o and crtend_android.o compiled from bionic's own arch-common sources (the
 *   program's entry point, which hands main to bionic's __libc_init);
 * - zig as the C compiler and linker driver (it knows the Android ABI, /system/bin/linker64, and
 *   brings compiler-rt, including the emulated TLS Rust's Android target uses, and libunwind).
 *
 * The AOSP repositories are pinned by commit: the source (a URL or a local git mirror, see
 * `sources` in the user file) must hold that commit, and git's object ids make its content the
 * one we pinned. Only the paths we read are fetched (a partial, one-commit clone in the cache).
 * Nothing of AOSP is committed to this repository: the sysroot is made in the cache, in a scratch
 * directory renamed into place, so a half-made sysroot is never used.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../lib/errors.ts';
import { ANDROID_API } from '../../lib/targets.ts';
import { replaceDir, sha256, writeFileAtomic } from '../../lib/fs.ts';
import { gitBytes, gitRaw, gitReason } from '../../lib/git.ts';
import { ensureBare, hasCommit, isUrl } from '../../lib/upstream-cache.ts';
import { zigCommand } from '../cdeps.ts';
import { mapCpu, parseMapFile, selectStubs, stubSource, versionScript, type StubLibrary } from './symbols.ts';

export interface AospSource {
  /** The name in the user file's `sources` and in CODEX_LITELLM_<NAME>_SOURCE. */
  name: 'bionic' | 'system-core' | 'zlib';
  commit: string;
  /** Default places to fetch it from, in order. */
  urls: readonly string[];
  /** The paths read from it. */
  paths: readonly string[];
  why: string;
}

export const AOSP_SOURCES: readonly AospSource[] = [
  {
    name: 'bionic',
    // platform/bionic main of 2025-03-26 ("Fix bionic unit tests with HWASan ..."): its maps know
    // every API level up to 37, and its headers are what current NDKs ship.
    commit: '731631f300090436d7f5df80d50b6275c8c60a93',
    urls: ['https://android.googlesource.com/platform/bionic', 'https://github.com/aosp-mirror/platform_bionic'],
    paths: [
      'libc/include',
      'libc/kernel/uapi',
      'libc/kernel/android/uapi',
      'libc/arch-common/bionic',
      'libc/private',
      'libc/bionic/libc_init_common.h',
      'libc/libc.map.txt',
      'libm/libm.map.txt',
      'libdl/libdl.map.txt',
    ],
    why: "libc, libm and libdl: headers, symbol files, the C runtime's start files",
  },
  {
    name: 'system-core',
    // platform/system/core of 2020-10-08, the last commit before liblog moved to system/logging;
    // the NDK's part of liblog (API 24 and below) has not changed since.
    commit: '83e9bc346a90c77c28d68d7d0e969864dbc7c69b',
    urls: ['https://android.googlesource.com/platform/system/core', 'https://github.com/aosp-mirror/platform_system_core'],
    paths: ['liblog/liblog.map.txt', 'liblog/include/android/log.h'],
    why: "liblog, which Rust's std links on Android: its symbol file and <android/log.h>",
  },
  {
    name: 'zlib',
    // platform/external/zlib main of 2025-03-25: libz.so is an NDK library every Android has, and
    // libz-sys links it on Android (it never builds its own zlib there).
    commit: 'f29fc757b1f27c182f36790eb0ccc6cf8ec27e8e',
    urls: ['https://android.googlesource.com/platform/external/zlib', 'https://github.com/aosp-mirror/platform_external_zlib'],
    paths: ['libz.map.txt', 'zlib.h', 'zconf.h'],
    why: 'the system zlib (libz.so) that libz-sys links on Android: its symbol file and headers',
  },
];

/** The environment variable that names a source (CODEX_LITELLM_BIONIC_SOURCE, CODEX_LITELLM_SYSTEM_CORE_SOURCE). */
export function sourceEnvVar(s: AospSource): string {
  return `CODEX_LITELLM_${s.name.toUpperCase().replace(/-/g, '_')}_SOURCE`;
}

/** The libraries the NDK links by name, each from its symbol file. */
const STUBS = [
  { lib: 'libc', source: 'bionic', map: 'libc/libc.map.txt' },
  { lib: 'libm', source: 'bionic', map: 'libm/libm.map.txt' },
  { lib: 'libdl', source: 'bionic', map: 'libdl/libdl.map.txt' },
  { lib: 'liblog', source: 'system-core', map: 'liblog/liblog.map.txt' },
  { lib: 'libz', source: 'zlib', map: 'libz.map.txt' },
] as const;

/**
 * The libraries a binary linked against this sysroot may need at run time: bionic's own (libc,
 * libm, libdl), liblog and zlib, NDK libraries that every Android device has.
 */
export const ANDROID_LIBRARIES = STUBS.map((s) => `${s.lib}.so`);

export interface SysrootPaths {
  sourcesDir: string;
  /** ~/.cache/codex-litellm/sysroots */
  sysrootsDir: string;
}

/** Zig's spelling of the target with its API level: `aarch64-linux-android.24`. */
export function zigAndroidTarget(triple: string, api = ANDROID_API): string {
  const arch = triple.split('-')[0]!;
  return `${arch === 'armv7' ? 'arm' : arch}-linux-android${arch.startsWith('arm') && arch !== 'aarch64' ? 'eabi' : ''}.${api}`;
}

/** Where the sysroot of a target lives; the name changes with anything that changes its content. */
export function sysrootDir(p: SysrootPaths, triple: string, api = ANDROID_API): string {
  const key = sha256(JSON.stringify({ v: 1, sources: AOSP_SOURCES.map((s) => [s.name, s.commit]) })).slice(0, 12);
  return path.join(p.sysrootsDir, `${triple}-${api}-${key}`);
}

/** What the build runs: the C compiler, the C++ compiler, the linker and the archiver wrappers. */
export interface SysrootTools {
  dir: string;
  cc: string;
  cxx: string;
  linker: string;
  ar: string;
  /** The directory of the stub libraries and the start files. */
  libDir: string;
}

export function sysrootTools(dir: string, triple: string, api = ANDROID_API): SysrootTools {
  const bin = path.join(dir, 'bin');
  // The linker's name must not end in `ld` or be `link`: rustc picks the linker's flavour from
  // its name, and this one is driven like cc (-Wl,...).
  return {
    dir,
    cc: path.join(bin, `${triple}${api}-cc`),
    cxx: path.join(bin, `${triple}${api}-c++`),
    linker: path.join(bin, `${triple}${api}-link-cc`),
    ar: path.join(bin, `${triple}-ar`),
    libDir: path.join(dir, 'usr', 'lib', triple, String(api)),
  };
}

/** Cargo's and cc-rs's variables for a build against the sysroot. */
export function sysrootEnv(dir: string, triple: string, api = ANDROID_API): Record<string, string> {
  const t = sysrootTools(dir, triple, api);
  const u = triple.replace(/-/g, '_');
  return {
    [`CARGO_TARGET_${u.toUpperCase()}_LINKER`]: t.linker,
    [`CC_${u}`]: t.cc,
    [`CXX_${u}`]: t.cxx,
    [`AR_${u}`]: t.ar,
  };
}

/** Where a source comes from this run: the setting (env beats the user file), else the default URLs. */
export function sourceLocations(s: AospSource, configured: Record<string, string> | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const v = env[sourceEnvVar(s)] ?? configured?.[s.name];
  return v ? [v] : [...s.urls];
}

function git(args: string[], what: string): string {
  const r = gitRaw(args);
  if (r.status !== 0) throw new UserError(`${what}: ${gitReason(r.stderr)}`);
  return r.stdout;
}

/**
 * A git directory that has the pinned commit and the blobs of its paths. A local repository that
 * has them is read in place (a snapshot with gaps elsewhere in its tree is fine); otherwise a
 * partial one-commit clone in the cache is fetched from the locations, in order.
 */
export function ensureAospSource(s: AospSource, p: SysrootPaths, locations: string[], log: (line: string) => void): string {
  const tried: string[] = [];
  for (const loc of locations) {
    if (!isUrl(loc)) {
      const dir = path.resolve(loc);
      const gitDir = fs.existsSync(path.join(dir, '.git')) ? path.join(dir, '.git') : dir;
      if (!fs.existsSync(gitDir)) {
        tried.push(`${loc}: no such directory`);
        continue;
      }
      if (hasCommit(gitDir, s.commit) && missingBlobs(gitDir, s).length === 0) return gitDir;
      if (!hasCommit(gitDir, s.commit)) {
        tried.push(`${loc}: has no commit ${s.commit}`);
        continue;
      }
    }
    // A URL, or a local repository without the blobs (a partial clone itself): fetch into the cache.
    const cache = path.join(p.sourcesDir, `aosp-${s.name}.git`);
    ensureBare(cache);
    configureSource(cache, loc);
    if (!hasCommit(cache, s.commit)) {
      log(`fetch ${s.name} ${s.commit.slice(0, 12)} from ${loc}`);
      const r = gitRaw(['--git-dir', cache, 'fetch', '--quiet', '--no-tags', '--depth', '1', '--filter=blob:none', 'origin', s.commit]);
      if (r.status !== 0) {
        tried.push(`${loc}: ${gitReason(r.stderr)}`);
        continue;
      }
    }
    const missing = missingBlobs(cache, s);
    if (missing.length) {
      const r = gitRaw(['--git-dir', cache, 'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--filter=blob:none', 'origin', ...missing]);
      if (r.status !== 0 || missingBlobs(cache, s).length) {
        tried.push(`${loc}: cannot fetch the ${missing.length} files needed: ${gitReason(r.stderr)}`);
        continue;
      }
    }
    return cache;
  }
  throw new UserError(
    `cannot get AOSP's ${s.name} at ${s.commit} (${s.why}):\n  - ${tried.join('\n  - ')}`,
    `Name a git repository that has that commit (a mirror or clone of ${s.urls[0]}) with "sources": {"${s.name}": "/path/to/it"} in the user file, or ${sourceEnvVar(s)}; or install the Android NDK and set ANDROID_NDK_HOME.`,
  );
}

/** The cache's one remote: a partial clone of `loc` that may fetch objects by id (a local mirror is not a server). */
function configureSource(gitDir: string, loc: string): void {
  const url = isUrl(loc) ? loc : `file://${path.resolve(loc)}`;
  const set = (k: string, v: string): void => void git(['--git-dir', gitDir, 'config', k, v], `cannot configure ${gitDir}`);
  set('remote.origin.url', url);
  set('remote.origin.promisor', 'true');
  set('remote.origin.partialclonefilter', 'blob:none');
  set('extensions.partialclone', 'origin');
  set('gc.auto', '0');
  if (url.startsWith('file://')) set('remote.origin.uploadpack', 'git -c uploadpack.allowFilter=true -c uploadpack.allowAnySHA1InWant=true upload-pack');
  else gitRaw(['--git-dir', gitDir, 'config', '--unset', 'remote.origin.uploadpack']);
}

function missingBlobs(gitDir: string, s: AospSource): string[] {
  const out: string[] = [];
  for (const p of s.paths) {
    const r = gitRaw(['--git-dir', gitDir, 'rev-list', '--objects', '--missing=print', `${s.commit}:${p}`]);
    if (r.status !== 0) {
      // A single file is a blob, not a tree: ask for its id.
      const id = gitRaw(['--git-dir', gitDir, 'rev-parse', '--verify', '--quiet', `${s.commit}:${p}`]);
      if (id.status !== 0)
        throw new UserError(`AOSP ${s.name} at ${s.commit} has no \`${p}\``, 'The pinned commit is wrong; this is a bug in scripts/build/android/sysroot.ts.');
      if (gitRaw(['--git-dir', gitDir, 'cat-file', '-e', id.stdout.trim()]).status !== 0) out.push(id.stdout.trim());
      continue;
    }
    for (const l of r.stdout.split('\n')) if (l.startsWith('?')) out.push(l.slice(1).trim());
  }
  return out;
}

/** Write the pinned paths of a source under `dest` (as `git archive` gives them). */
function extract(gitDir: string, s: AospSource, dest: string): void {
  fs.mkdirSync(dest, { recursive: true });
  const tar = gitBytes(['--git-dir', gitDir, 'archive', '--format=tar', s.commit, '--', ...s.paths]);
  if (tar.status !== 0) throw new UserError(`cannot read ${s.name} ${s.commit}: ${gitReason(tar.stderr)}`);
  const r = spawnSync('tar', ['-x', '-C', dest], { input: tar.stdout });
  if (r.status !== 0) throw new UserError(`cannot unpack ${s.name}: ${r.stderr?.toString() ?? r.error?.message}`);
}

function copyTree(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true, force: false, errorOnExist: false });
}

/** The headers as the NDK lays them out: usr/include plus the CPU's asm/ under usr/include/<triple>/. */
export function layHeaders(bionic: string, systemCore: string, zlib: string, include: string, triple: string): void {
  const uapi = path.join(bionic, 'libc', 'kernel', 'uapi');
  fs.mkdirSync(path.join(include, triple), { recursive: true });
  copyTree(path.join(bionic, 'libc', 'include'), include);
  const asmDir = { arm64: 'asm-arm64', arm: 'asm-arm', x86: 'asm-x86', x86_64: 'asm-x86', riscv64: 'asm-riscv' }[mapCpu(triple)];
  for (const e of fs.readdirSync(uapi)) {
    if (e.startsWith('asm-') && e !== 'asm-generic') continue;
    copyTree(path.join(uapi, e), path.join(include, e));
  }
  copyTree(path.join(uapi, asmDir, 'asm'), path.join(include, triple, 'asm'));
  copyTree(path.join(bionic, 'libc', 'kernel', 'android', 'uapi'), include);
  copyTree(path.join(systemCore, 'liblog', 'include', 'android'), path.join(include, 'android'));
  for (const h of ['zlib.h', 'zconf.h']) fs.copyFileSync(path.join(zlib, h), path.join(include, h));
}

/**
 * A compiler wrapper. Callers' own target flags are dropped: cc-rs adds `--target=<triple>` for a
 * clang-like compiler (and zig is one), which zig would take with its default API level instead
 * of ours, compiling against headers of a newer Android than the stubs.
 */
function wrapper(file: string, zig: string[], args: string[], env: Record<string, string>): void {
  const q = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;
  const exports = Object.entries(env).map(([k, v]) => `${k}=${q(v)}`);
  const text = [
    '#!/bin/sh',
    '# Generated by codex-litellm (scripts/build/android/sysroot.ts).',
    'skip=',
    'for a do',
    '  shift',
    '  if [ -n "$skip" ]; then skip=; continue; fi',
    '  case $a in',
    '    --target=*) continue ;;',
    '    -target|--target) skip=1; continue ;;',
    '  esac',
    '  set -- "$@" "$a"',
    'done',
    `${exports.length ? `${exports.join(' ')} ` : ''}exec ${[...zig, ...args].map(q).join(' ')} "$@"`,
    '',
  ].join('\n');
  writeFileAtomic(file, text, 0o755);
}

function run(cmd: string[], what: string, env: Record<string, string> = {}): void {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`.trim().split('\n').slice(-20).join('\n');
    throw new UserError(
      `making the Android sysroot failed at ${what}:\n${out}`,
      'Check the zig installation (pip install ziglang), or use the Android NDK (ANDROID_NDK_HOME).',
    );
  }
}

export interface SysrootResult {
  dir: string;
  built: boolean;
  /** The stub libraries' exported symbol count, by library. */
  stubs?: Record<string, number>;
}

/** The stub libraries for a CPU and API level, from the extracted sources. */
export function stubLibraries(sources: Record<AospSource['name'], string>, triple: string, api: number): { lib: string; stubs: StubLibrary }[] {
  return STUBS.map((st) => {
    const file = path.join(sources[st.source], st.map);
    return { lib: st.lib, stubs: selectStubs(parseMapFile(fs.readFileSync(file, 'utf8'), st.map), mapCpu(triple), api) };
  });
}

/** Make the sysroot of `triple` unless it is there; returns its directory. */
export function ensureSysroot(
  p: SysrootPaths,
  triple: string,
  configured: Record<string, string> | undefined,
  log: (line: string) => void,
  api = ANDROID_API,
): SysrootResult {
  const dir = sysrootDir(p, triple, api);
  if (fs.existsSync(path.join(dir, '.complete'))) return { dir, built: false };
  const zig = zigCommand();
  const gitDirs = Object.fromEntries(AOSP_SOURCES.map((s) => [s.name, ensureAospSource(s, p, sourceLocations(s, configured), log)])) as Record<
    AospSource['name'],
    string
  >;
  const counts: Record<string, number> = {};
  replaceDir(dir, (tmp) => {
    const src = path.join(tmp, 'src');
    const srcs = {} as Record<AospSource['name'], string>;
    for (const s of AOSP_SOURCES) {
      srcs[s.name] = path.join(src, s.name);
      extract(gitDirs[s.name], s, srcs[s.name]);
    }
    const include = path.join(tmp, 'usr', 'include');
    layHeaders(srcs.bionic, srcs['system-core'], srcs.zlib, include, triple);
    // Paths inside the wrappers and libc.txt are the final ones (the scratch dir is renamed).
    const final = sysrootTools(dir, triple, api);
    const here = sysrootTools(tmp, triple, api);
    fs.mkdirSync(here.libDir, { recursive: true });
    fs.mkdirSync(path.dirname(here.cc), { recursive: true });
    const libc = (root: string): string =>
      [
        `include_dir=${path.join(root, 'usr', 'include')}`,
        `sys_include_dir=${path.join(root, 'usr', 'include', triple)}`,
        `crt_dir=${sysrootTools(root, triple, api).libDir}`,
        `cc_dir=${sysrootTools(root, triple, api).libDir}`,
        'msvc_lib_dir=',
        'kernel32_lib_dir=',
        'darwin_sdk_dir=',
        '',
      ].join('\n');
    writeFileAtomic(path.join(tmp, 'libc.txt'), libc(dir));
    const scratchLibc = path.join(tmp, 'libc-scratch.txt');
    writeFileAtomic(scratchLibc, libc(tmp));
    const zt = zigAndroidTarget(triple, api);
    const zenv = { ZIG_LIBC: scratchLibc };
    const obj = path.join(tmp, 'obj');
    fs.mkdirSync(obj, { recursive: true });
    // Stub libraries: one empty definition per symbol, the symbol file's versions, the library's soname.
    for (const { lib, stubs } of stubLibraries(srcs, triple, api)) {
      counts[lib] = stubs.symbols.length;
      const c = path.join(obj, `${lib}.c`);
      const map = path.join(obj, `${lib}.map`);
      fs.writeFileSync(c, stubSource(stubs));
      fs.writeFileSync(map, versionScript(stubs));
      const o = path.join(obj, `${lib}.o`);
      run([...zig, 'cc', '-target', zt, '-fPIC', '-fno-builtin', '-w', '-O0', '-c', c, '-o', o], `${lib}.c`, zenv);
      run(
        [...zig, 'ld.lld', '-shared', '--hash-style=both', `--version-script=${map}`, '-soname', `${lib}.so`, o, '-o', path.join(here.libDir, `${lib}.so`)],
        `${lib}.so`,
      );
    }
    // The start files of a dynamic executable, from bionic's sources as the NDK builds them:
    // crtbegin_dynamic.o = crtbrand.S (the Android ABI note with the API level) + crtbegin.c.
    const common = path.join(srcs.bionic, 'libc', 'arch-common', 'bionic');
    const inc = ['-I', path.join(srcs.bionic, 'libc')];
    const asm = ['-D__ASSEMBLY__', `-DPLATFORM_SDK_VERSION=${api}`];
    const cc = (file: string, out: string, extra: string[]): void =>
      run([...zig, 'cc', '-target', zt, '-fPIC', '-O2', '-fno-sanitize=all', ...inc, ...extra, '-c', path.join(common, file), '-o', out], file, zenv);
    cc('crtbrand.S', path.join(obj, 'crtbrand.o'), asm);
    cc('crtbegin.c', path.join(obj, 'crtbegin.o'), []);
    cc('crtend.S', path.join(here.libDir, 'crtend_android.o'), asm);
    run(
      [...zig, 'ld.lld', '-r', path.join(obj, 'crtbrand.o'), path.join(obj, 'crtbegin.o'), '-o', path.join(here.libDir, 'crtbegin_dynamic.o')],
      'crtbegin_dynamic.o',
    );
    // Shared objects (a cdylib, a build of ours never makes one, but a dependency might ask zig
    // for one in a test): crtbegin_so.c + crtbrand.S, crtend_so.S.
    cc('crtbegin_so.c', path.join(obj, 'crtbegin_so1.o'), []);
    run(
      [...zig, 'ld.lld', '-r', path.join(obj, 'crtbrand.o'), path.join(obj, 'crtbegin_so1.o'), '-o', path.join(here.libDir, 'crtbegin_so.o')],
      'crtbegin_so.o',
    );
    cc('crtend_so.S', path.join(here.libDir, 'crtend_so.o'), asm);
    // The compilers and the linker: zig with the target and API level and our libc file; the
    // linker also searches the stubs (Rust passes -lc -lm -ldl -llog -lunwind with
    // -nodefaultlibs; zig supplies libunwind and compiler-rt itself).
    const wenv = { ZIG_LIBC: path.join(dir, 'libc.txt') };
    wrapper(here.cc, zig, ['cc', '-target', zt], wenv);
    wrapper(here.cxx, zig, ['c++', '-target', zt], wenv);
    wrapper(here.linker, zig, ['cc', '-target', zt, `-L${final.libDir}`], wenv);
    wrapper(here.ar, zig, ['ar'], {});
    fs.rmSync(scratchLibc);
    fs.rmSync(src, { recursive: true, force: true });
    writeFileAtomic(
      path.join(tmp, 'SOURCES.json'),
      `${JSON.stringify({ triple, api, zigTarget: zt, sources: AOSP_SOURCES.map((s) => ({ name: s.name, commit: s.commit, paths: s.paths })), stubs: counts }, null, 2)}\n`,
    );
    fs.writeFileSync(path.join(tmp, '.complete'), `${api}\n`);
  });
  return { dir, built: true, stubs: counts };
}
