/**
 * The release targets: one table drives builds, packages and CI (as cargo-dist does). Add a row
 * here and the build (`--target`, `--all`), the packagers (`package`) and the release matrix
 * (`matrix`) all learn about it.
 */
import { UserError } from './errors.ts';
import { hostTriple } from './host.ts';

/**
 * `zig-android` is never a row's own tool: it is the route of an `android-ndk` row on a machine
 * with no Android NDK (cargo, with zig and a bionic sysroot made from AOSP's sources; see
 * build/android/sysroot.ts).
 */
export type BuildTool = 'cargo' | 'cross' | 'cargo-zigbuild' | 'android-ndk' | 'zig-android';

export interface Target {
  triple: string;
  alias: string;
  tool: BuildTool;
  /** GitHub Actions runner that builds it. */
  runner: string;
  /**
   * Host triples that can build it with `tool` (`*` matches one dash-separated part). A native
   * `cargo` build of another Linux architecture needs a cross linker, so those rows name only
   * their own architecture; zig and the Apple SDK cross-compile from any of their hosts.
   */
  hosts: readonly string[];
  /**
   * Extra environment for the build (NDK linker, lighter LTO on slow runners), with `$VAR`
   * references expanded from the caller's environment when they are set (Cargo does not
   * expand variables itself). `envTemplate` is the same before expansion, for CI.
   */
  readonly env: Record<string, string>;
  envTemplate: Readonly<Record<string, string>>;
  /** Commands CI runs before the build to get the tool and the standard library. */
  setup: readonly string[];
  /**
   * How OpenSSL gets in: `system` (a shared libssl the package depends on), `vendored` (built
   * from source into the binary: upstream's Cargo.toml asks for openssl-sys/vendored on musl;
   * openssl-sys has no environment switch that turns vendoring on), `native` (the platform's TLS,
   * no OpenSSL).
   */
  openssl: 'system' | 'vendored' | 'native';
  archive: 'tar.gz' | 'zip';
  exe: string;
  /**
   * From a host `hosts` does not name (Linux or macOS), cross-build with cargo-zigbuild instead
   * (zig links glibc and musl targets); CI keeps `tool` on `runner` (see route.ts).
   */
  zigCross?: boolean;
  /** A tier-3 Rust target: no prebuilt std exists, it is always built from source (-Zbuild-std). */
  tier3?: boolean;
  /**
   * npm platform package `@avikalpa/codex-litellm-<pkg>` and the os/cpu/libc npm matches it by;
   * none for CPUs Node.js itself does not run on.
   */
  npm?: { pkg: string; os: string; cpu: string; libc?: 'glibc' | 'musl' };
  /** OpenWrt architecture names served by this binary (musl targets only). */
  openwrt: string[];
  termux?: string;
  debian?: string;
  /** What is known not to work yet, printed by `matrix` and the dry run. */
  notes?: string;
  /**
   * Why this row cannot be built at all today (found by building it), or undefined. Such a row
   * stays in the table, so `--target` and the dry run say why, but it is left out of `--all`, the
   * release matrix, the packages and SHA256SUMS until the reason is gone.
   */
  unbuildable?: string;
}

/** Fat LTO of codex-rs takes upstream's ARM runners past an hour; thin LTO is what upstream uses there. */
const LIGHT_LTO = { CARGO_PROFILE_RELEASE_LTO: 'thin', CARGO_PROFILE_RELEASE_CODEGEN_UNITS: '16' };
const NDK_BIN = '$ANDROID_NDK_HOME/toolchains/llvm/prebuilt/linux-x86_64/bin';
/** The Android API level the Android rows target: 24 (Android 7.0) is Termux's minimum. */
export const ANDROID_API = 24;
const LINUX_OR_MAC = ['*-unknown-linux-*', '*-apple-darwin'];

type Row = Omit<Target, 'env' | 'setup'> & { setup?: readonly string[] };

function row(r: Row): Target {
  const setup = r.setup ?? defaultSetup(r);
  return {
    ...r,
    setup,
    get env(): Record<string, string> {
      return expandEnv(r.envTemplate);
    },
  };
}

function defaultSetup(r: Row): string[] {
  // Tier 3: no prebuilt std to add; its source is what -Zbuild-std compiles.
  const add = r.tier3 ? 'rustup component add rust-src' : `rustup target add ${r.triple}`;
  // Upstream's vendored bubblewrap (the Linux sandbox, since about 0.100) finds libcap through
  // pkg-config on the build machine.
  const libcap = 'sudo apt-get install -y -qq --no-install-recommends libcap-dev';
  switch (r.tool) {
    case 'cargo':
      return r.triple.includes('-linux-gnu') ? [libcap, add] : [add];
    case 'android-ndk':
    case 'zig-android':
      return [add];
    case 'cross':
      return ['cargo install cross --locked'];
    case 'cargo-zigbuild':
      // A venv: Ubuntu 24.04's system pip refuses installs (PEP 668). cargo-zigbuild runs zig as
      // `python3 -m ziglang`, so the venv's bin goes on PATH for the build step.
      return [
        add,
        'python3 -m venv "$HOME/.zigbuild" && "$HOME/.zigbuild/bin/pip" install ziglang cargo-zigbuild && echo "$HOME/.zigbuild/bin" >> "${GITHUB_PATH:-/dev/null}"',
      ];
  }
}

// biome-ignore format: one row per target, read as a table
export const ALL_TARGETS: readonly Target[] = [
  row({
    triple: 'x86_64-unknown-linux-gnu', alias: 'linux-x64', tool: 'cargo', runner: 'ubuntu-24.04', hosts: ['x86_64-unknown-linux-gnu'], zigCross: true,
    envTemplate: {}, openssl: 'system', archive: 'tar.gz', exe: '',
    npm: { pkg: 'linux-x64', os: 'linux', cpu: 'x64', libc: 'glibc' }, openwrt: [], debian: 'amd64',
  }),
  row({
    triple: 'aarch64-unknown-linux-gnu', alias: 'linux-arm64', tool: 'cargo', runner: 'ubuntu-24.04-arm', hosts: ['aarch64-unknown-linux-gnu'], zigCross: true,
    envTemplate: { ...LIGHT_LTO }, openssl: 'system', archive: 'tar.gz', exe: '',
    npm: { pkg: 'linux-arm64', os: 'linux', cpu: 'arm64', libc: 'glibc' }, openwrt: [], debian: 'arm64',
  }),
  row({
    triple: 'x86_64-unknown-linux-musl', alias: 'linux-x64-musl', tool: 'cargo-zigbuild', runner: 'ubuntu-24.04', hosts: LINUX_OR_MAC,
    envTemplate: {}, openssl: 'vendored', archive: 'tar.gz', exe: '',
    npm: { pkg: 'linux-x64-musl', os: 'linux', cpu: 'x64', libc: 'musl' }, openwrt: ['x86_64'],
  }),
  row({
    triple: 'aarch64-unknown-linux-musl', alias: 'linux-arm64-musl', tool: 'cargo-zigbuild', runner: 'ubuntu-24.04', hosts: LINUX_OR_MAC,
    envTemplate: {}, openssl: 'vendored', archive: 'tar.gz', exe: '',
    npm: { pkg: 'linux-arm64-musl', os: 'linux', cpu: 'arm64', libc: 'musl' },
    openwrt: ['aarch64_generic', 'aarch64_cortex-a53', 'aarch64_cortex-a72'],
  }),
  row({
    // Rust's armv7 musl hard-float target uses VFPv3-D16 without NEON, so one binary serves both
    // OpenWrt ARMv7 package architectures (Cortex-A7 with NEON/VFPv4 and Cortex-A9 with VFPv3-D16).
    triple: 'armv7-unknown-linux-musleabihf', alias: 'linux-armv7-musl', tool: 'cargo-zigbuild', runner: 'ubuntu-24.04', hosts: LINUX_OR_MAC,
    envTemplate: { ...LIGHT_LTO }, openssl: 'vendored', archive: 'tar.gz', exe: '',
    npm: { pkg: 'linux-arm-musl', os: 'linux', cpu: 'arm', libc: 'musl' },
    openwrt: ['arm_cortex-a7_neon-vfpv4', 'arm_cortex-a9_vfpv3-d16'],
    // Found by building it (rust-v0.115.0): every dependency compiles, OpenSSL and libcap included;
    // upstream's own sandbox crate does not.
    unbuildable:
      "upstream's Linux sandbox is 64-bit only: codex-linux-sandbox (src/landlock.rs) passes libc::SYS_* numbers, which are i32 on " +
      '32-bit ARM, where it expects i64 (21 type errors), and builds its seccomp filter with seccompiler, whose TargetArch knows only ' +
      'x86_64, aarch64 and riscv64 (upstream calls unimplemented!() for any other CPU). It needs a port of that sandbox, not a dependency switch',
  }),
  row({
    // 32-bit MIPS little-endian, soft-float (MT7621 routers). Tier 3: std is built from source.
    triple: 'mipsel-unknown-linux-musl', alias: 'linux-mipsel-musl', tool: 'cargo-zigbuild', runner: 'ubuntu-24.04', hosts: LINUX_OR_MAC, tier3: true,
    envTemplate: { ...LIGHT_LTO }, openssl: 'vendored', archive: 'tar.gz', exe: '',
    openwrt: ['mipsel_24kc'],
    // Found with `cargo check --keep-going` of the whole binary for this target (rust-v0.115.0):
    // every C dependency builds with zig, and exactly these three crates do not compile.
    unbuildable:
      '32-bit MIPS has no 64-bit atomic instructions, so std has no AtomicU64/AtomicI64 there, and three dependencies use them ' +
      'unconditionally: opentelemetry_sdk 0.31 (src/metrics/internal/mod.rs, through codex-otel), allocative 0.3.4 ' +
      '(src/impls/std/sync.rs, through starlark in codex-execpolicy) and nucleo (helix-editor/nucleo@4253de9, src/boxcar.rs, through ' +
      'codex-file-search). None has a feature or a portable-atomic fallback to turn on; building it needs a patched copy of each',
  }),
  row({
    // Built on Apple silicon like upstream does: the macOS SDK targets both architectures.
    triple: 'x86_64-apple-darwin', alias: 'darwin-x64', tool: 'cargo', runner: 'macos-15', hosts: ['*-apple-darwin'],
    envTemplate: {}, openssl: 'native', archive: 'tar.gz', exe: '',
    npm: { pkg: 'darwin-x64', os: 'darwin', cpu: 'x64' }, openwrt: [],
  }),
  row({
    triple: 'aarch64-apple-darwin', alias: 'darwin-arm64', tool: 'cargo', runner: 'macos-15', hosts: ['*-apple-darwin'],
    envTemplate: {}, openssl: 'native', archive: 'tar.gz', exe: '',
    npm: { pkg: 'darwin-arm64', os: 'darwin', cpu: 'arm64' }, openwrt: [],
  }),
  row({
    triple: 'x86_64-pc-windows-msvc', alias: 'win32-x64', tool: 'cargo', runner: 'windows-2022', hosts: ['*-pc-windows-msvc'],
    envTemplate: {}, openssl: 'native', archive: 'zip', exe: '.exe',
    npm: { pkg: 'win32-x64', os: 'win32', cpu: 'x64' }, openwrt: [],
  }),
  row({
    triple: 'aarch64-pc-windows-msvc', alias: 'win32-arm64', tool: 'cargo', runner: 'windows-11-arm', hosts: ['aarch64-pc-windows-msvc'],
    envTemplate: { ...LIGHT_LTO }, openssl: 'native', archive: 'zip', exe: '.exe',
    npm: { pkg: 'win32-arm64', os: 'win32', cpu: 'arm64' }, openwrt: [],
  }),
  row({
    triple: 'x86_64-unknown-freebsd', alias: 'freebsd-x64', tool: 'cross', runner: 'ubuntu-24.04', hosts: ['x86_64-unknown-linux-gnu'],
    envTemplate: {}, openssl: 'system', archive: 'tar.gz', exe: '',
    npm: { pkg: 'freebsd-x64', os: 'freebsd', cpu: 'x64' }, openwrt: [],
    notes: "links the FreeBSD base system's OpenSSL from cross's sysroot; not yet built in CI",
  }),
  row({
    triple: 'x86_64-unknown-illumos', alias: 'illumos-x64', tool: 'cross', runner: 'ubuntu-24.04', hosts: ['x86_64-unknown-linux-gnu'],
    envTemplate: {}, openssl: 'system', archive: 'tar.gz', exe: '',
    npm: { pkg: 'sunos-x64', os: 'sunos', cpu: 'x64' }, openwrt: [],
    notes: "links OpenSSL from cross's illumos sysroot; not yet built in CI",
  }),
  row({
    triple: 'aarch64-linux-android', alias: 'android-arm64', tool: 'android-ndk', runner: 'ubuntu-24.04', hosts: ['x86_64-unknown-linux-gnu'],
    // API 24 is Termux's minimum; the NDK's clang wrapper for it is the linker and C compiler.
    // $ANDROID_NDK_HOME is the NDK the route found (lib/route.ts: ANDROID_NDK_HOME, else the
    // runner's ANDROID_NDK_LATEST_HOME); without one, zig and a sysroot made from AOSP's bionic.
    envTemplate: {
      CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER: `${NDK_BIN}/aarch64-linux-android24-clang`,
      CC_aarch64_linux_android: `${NDK_BIN}/aarch64-linux-android24-clang`,
      CXX_aarch64_linux_android: `${NDK_BIN}/aarch64-linux-android24-clang++`,
      AR_aarch64_linux_android: `${NDK_BIN}/llvm-ar`,
    },
    openssl: 'vendored', archive: 'tar.gz', exe: '',
    npm: { pkg: 'android-arm64', os: 'android', cpu: 'arm64' }, openwrt: [], termux: 'aarch64',
    notes: 'OpenSSL is built from source (openssl-sys/vendored, enabled by codex-litellm-core for Android); CI uses the runner\'s NDK; without an NDK, zig and a bionic sysroot generated from AOSP sources (API 24)',
  }),
];

/** The rows that can be built: what `--all`, the release matrix and the packages cover. */
export const TARGETS: readonly Target[] = ALL_TARGETS.filter((t) => !t.unbuildable);

export function findTarget(name: string): Target {
  const t = ALL_TARGETS.find((x) => x.triple === name || x.alias === name);
  if (!t) {
    throw new UserError(`unknown target \`${name}\``, `Known targets (triple or alias): ${ALL_TARGETS.map((x) => `${x.triple} (${x.alias})`).join(', ')}.`);
  }
  return t;
}

/** What `--target`/`--all` asked for. */
export interface TargetSelection {
  targets?: readonly string[];
  all?: boolean;
}

/**
 * The targets a command works on: every buildable row with --all, else the --target names (triples
 * or aliases, repeatable, deduplicated), else this machine's own row. `order` is `given` for the
 * build (steps run in the order the user named them), `table` for packages and the CI matrix.
 */
export function selectTargets(sel: TargetSelection, order: 'given' | 'table'): Target[] {
  if (sel.all) return [...TARGETS];
  if (sel.targets && sel.targets.length > 0) {
    const named = [...new Set(sel.targets.map((n) => findTarget(n)))];
    return order === 'given' ? named : ALL_TARGETS.filter((t) => named.includes(t));
  }
  const host = TARGETS.find((t) => t.triple === hostTriple());
  if (!host) throw new UserError(`this machine (${hostTriple()}) is not a release target`, `Pass --target; known: ${TARGETS.map((t) => t.alias).join(', ')}.`);
  return [host];
}

/**
 * `$VAR` and `${VAR}` from env; references to unset variables are left as written, so a plan
 * still shows what is missing (and the route refuses the build before Cargo sees it).
 */
export function expandEnv(values: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) {
    out[k] = v.replace(
      /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g,
      (m, a: string | undefined, b: string | undefined) => env[(a ?? b)!] ?? m,
    );
  }
  return out;
}

export const NPM_SCOPE = '@avikalpa';
export const NPM_MAIN = `${NPM_SCOPE}/codex-litellm`;

export function npmPackageName(t: Target): string {
  if (!t.npm) throw new Error(`internal: ${t.triple} has no npm package`);
  return `${NPM_MAIN}-${t.npm.pkg}`;
}

/** The targets that have an npm platform package. */
export function npmTargets(targets: readonly Target[] = TARGETS): Target[] {
  return targets.filter((t) => t.npm);
}
