/**
 * How this machine builds one target: the route. Computed once per target from the target row,
 * the host and the chosen toolchain, then read by the cargo command, the dry run, the log and
 * BUILDINFO.json, so all of them say the same thing.
 *
 * - tool: the row's own tool on the hosts it names (CI's runners); from any other Linux or macOS
 *   host, rows that allow it are cross-built with cargo-zigbuild (zig is the C compiler and the
 *   linker, for musl and for glibc).
 * - std: the toolchain's prebuilt standard library for the target when it has one, else the
 *   toolchain's std source built with `-Zbuild-std` (RUSTC_BOOTSTRAP=1 lets a stable or
 *   distribution rustc accept it). Tier-3 targets (mipsel) have no prebuilt std anywhere.
 * - C dependencies: upstream's vendored bubblewrap needs libcap through pkg-config; a cross build
 *   cannot use the host's, so a static libcap is built for the target (cdeps.ts).
 * - Android: the NDK that ANDROID_NDK_HOME or ANDROID_NDK_LATEST_HOME names (CI's runners have
 *   one); with none, zig and a bionic sysroot made from AOSP's sources (build/android/sysroot.ts).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findNdk, NDK_VARS } from './android-ndk.ts';
import { ANDROID_API, type BuildTool, type Target } from './targets.ts';
import type { Toolchain } from './toolchain.ts';

export type StdSource = 'prebuilt' | 'build-std';

export interface Route {
  /** The target is this machine's own (no cross build). */
  native: boolean;
  tool: BuildTool;
  /** Why that tool, in words. */
  toolWhy: string;
  std: StdSource;
  stdWhy: string;
  /** The C compiler and linker, in words. */
  cc: string;
  /** Target C libraries (or, for Android without an NDK, the whole sysroot) made here before Cargo runs. */
  cdeps: ('libcap' | 'android-sysroot')[];
  /** The Android NDK this route builds with (tool `android-ndk`). */
  ndk?: string;
  /** How OpenSSL gets in on this route, in words (a cross build of a glibc row cannot link the target's system libssl). */
  openssl: string;
  /** Cargo features the route adds (`--features`). */
  features: string[];
  /** Why the route cannot work on this machine, or undefined. */
  blocked?: string;
}

function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.split('-');
  const h = host.split('-');
  return p.length === h.length && p.every((part, i) => part === '*' || part === h[i]);
}

/** Why `host` cannot build `target` with the row's own tool at all (zig and missing tools are the route's business), or undefined. */
export function hostCannotBuild(target: Target, host: string): string | undefined {
  if (target.triple === host || target.hosts.some((p) => hostMatches(p, host))) return undefined;
  return `${target.tool} builds it only on ${target.hosts.join(' or ')}; this machine is ${host}`;
}

/** Rust's target triple in zig's spelling (`aarch64-unknown-linux-musl` -> `aarch64-linux-musl`). */
export function zigTriple(triple: string): string {
  const [arch, , os, env] = triple.split('-');
  const zigArch = arch!.startsWith('armv7') ? 'arm' : arch!;
  // Rust's 32-bit MIPS musl targets are soft-float, as OpenWrt's are; zig names that ABI musleabi.
  const zigEnv = zigArch.startsWith('mips') && env === 'musl' ? 'musleabi' : env;
  return `${zigArch}-${os}-${zigEnv}`;
}

/** The std of `triple` in `sysroot`: prebuilt, source only, or neither. */
export function stdIn(sysroot: string, triple: string): { prebuilt: boolean; source: string | undefined } {
  const lib = path.join(sysroot, 'lib', 'rustlib', triple, 'lib');
  const prebuilt = fs.existsSync(lib) && fs.readdirSync(lib).some((f) => f.startsWith('libstd-'));
  const src = path.join(sysroot, 'lib', 'rustlib', 'src', 'rust', 'library');
  return { prebuilt, source: fs.existsSync(path.join(src, 'std', 'src', 'lib.rs')) ? src : undefined };
}

function onPath(program: string): boolean {
  // zig on PATH, else the ziglang Python package (as cargo-zigbuild and build/cdeps.ts find it).
  if (program === 'zig') {
    return (
      spawnSync('zig', ['version'], { stdio: 'ignore' }).status === 0 || spawnSync('python3', ['-m', 'ziglang', 'version'], { stdio: 'ignore' }).status === 0
    );
  }
  return spawnSync(program, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** How the host builds the target with this toolchain (`toolchain` undefined: plan only, std not checked). */
export function routeFor(
  target: Target,
  host: string,
  toolchain: Toolchain | undefined,
  probe: (p: string) => boolean = onPath,
  env: NodeJS.ProcessEnv = process.env,
): Route {
  const native = target.triple === host;
  let tool: BuildTool = target.tool;
  let toolWhy = native ? 'this machine is the target' : `the release row's tool (${target.runner} in CI)`;
  let blocked: string | undefined = target.unbuildable ? `it does not build: ${target.unbuildable}` : undefined;
  const hostProblem = native ? undefined : hostCannotBuild(target, host);
  let ndk: string | undefined;
  if (!blocked && tool === 'android-ndk' && !native) {
    const found = findNdk(target.triple, ANDROID_API, env);
    if (found.problem) blocked = found.problem;
    else if (found.ndk && !hostProblem) {
      ndk = found.ndk.dir;
      toolWhy = `the Android NDK${found.ndk.revision ? ` ${found.ndk.revision}` : ''} at ${ndk} (${found.ndk.from})`;
    } else if (/-(unknown-linux-(gnu|musl)|apple-darwin)$/.test(host) && probe('zig')) {
      tool = 'zig-android';
      toolWhy = `no Android NDK here (${NDK_VARS.join(', ')} unset): zig with a bionic sysroot made from AOSP's sources, API ${ANDROID_API} (CI builds it with the NDK on ${target.runner})`;
    } else {
      blocked =
        `it needs the Android NDK: set ANDROID_NDK_HOME to one (GitHub's Ubuntu runners name theirs in ANDROID_NDK_LATEST_HOME), ` +
        `or install zig (pip install ziglang) to build against a bionic sysroot made from AOSP's sources`;
    }
  }
  if (hostProblem && !blocked && tool === 'android-ndk') blocked = hostProblem;
  if (hostProblem && !blocked && tool !== 'zig-android') {
    if (target.zigCross && /-(unknown-linux-(gnu|musl)|apple-darwin)$/.test(host)) {
      tool = 'cargo-zigbuild';
      toolWhy = `cross-built from ${host}: zig is the C compiler and the linker (CI builds it with ${target.tool} on ${target.runner})`;
    } else blocked = hostProblem;
  }
  if (!blocked && (tool === 'cross' || tool === 'cargo-zigbuild') && !probe(tool)) {
    blocked = `it is built with ${tool}, which is not installed here${tool === 'cargo-zigbuild' ? ' (pip install ziglang cargo-zigbuild)' : ''}`;
  }
  let std: StdSource = 'prebuilt';
  let stdWhy = 'the toolchain has it';
  if (toolchain && !native) {
    const have = stdIn(toolchain.sysroot, target.triple);
    if (have.prebuilt) stdWhy = `prebuilt in ${toolchain.sysroot}/lib/rustlib/${target.triple}`;
    else if (have.source) {
      std = 'build-std';
      stdWhy = `${target.tier3 ? 'tier 3: Rust ships no prebuilt std for it' : `${toolchain.name} has no prebuilt std for it`}; built from ${have.source}`;
    } else if (!blocked) {
      blocked =
        `the Rust standard library for ${target.triple} is not in ${toolchain.name} (${toolchain.sysroot}), nor its source to build it from: ` +
        (target.tier3
          ? 'rustup component add rust-src (std is built from source, tier 3)'
          : `rustup target add ${target.triple}, or rustup component add rust-src to build it from source; offline, a distribution's rustc with its std source works too (--toolchain /usr/bin with Debian's rustc-web, cargo-web and rust-web-src)`);
    }
  } else if (target.tier3) {
    std = 'build-std';
    stdWhy = 'tier 3: Rust ships no prebuilt std for it';
  }
  const cross = !native && /-linux-/.test(target.triple);
  const cc =
    tool === 'cargo-zigbuild'
      ? `zig cc -target ${zigTriple(target.triple)} (cargo-zigbuild)`
      : tool === 'android-ndk'
        ? `the NDK's clang (API ${ANDROID_API})`
        : tool === 'zig-android'
          ? `zig cc -target ${target.triple.split('-')[0]}-linux-android.${ANDROID_API} against a bionic sysroot generated from AOSP (headers, libc/libm/libdl/liblog/libz stubs from their symbol files, crtbegin)`
          : tool === 'cross'
            ? "cross's container toolchain"
            : 'the system C compiler';
  // A glibc row links the system's libssl when built on its own CPU (CI); cross-built, this
  // machine has no libssl of the target's CPU, so OpenSSL is compiled from source with zig as
  // for the musl rows (codex-litellm-core's `vendored-openssl` feature).
  const vendorHere = cross && tool === 'cargo-zigbuild' && target.openssl === 'system';
  const openssl = vendorHere
    ? 'built from source (cross build: no libssl of the target here; CI links the system libssl)'
    : { system: 'the system libssl', vendored: 'built from source', native: "the platform's TLS" }[target.openssl];
  return {
    native,
    tool,
    toolWhy,
    std,
    stdWhy,
    cc,
    cdeps: cross && tool === 'cargo-zigbuild' ? ['libcap'] : tool === 'zig-android' ? ['android-sysroot'] : [],
    ...(ndk ? { ndk } : {}),
    openssl,
    features: vendorHere ? ['codex-litellm-core/vendored-openssl'] : [],
    blocked,
  };
}

/** One line for plans and logs. */
export function describeRoute(r: Route): string {
  const deps = r.cdeps.length ? `; ${r.cdeps.join(', ')} built for the target` : '';
  return `tool ${r.tool} (${r.toolWhy}); std ${r.std === 'build-std' ? 'built from source' : 'prebuilt'} (${r.stdWhy}); C: ${r.cc}${deps}; OpenSSL ${r.openssl}`;
}
