/**
 * The release targets: one table drives builds, packages and CI (as cargo-dist does). Add a row
 * here and the build, the packagers and the release matrix all learn about it.
 */
import { UserError } from './errors.ts';

export type BuildTool = 'cargo' | 'cross' | 'cargo-zigbuild' | 'android-ndk';

export interface Target {
  triple: string;
  alias: string;
  tool: BuildTool;
  /** GitHub Actions runner that builds it. */
  runner: string;
  /** Extra environment for the build (static OpenSSL, NDK linker, lighter LTO on slow runners). */
  env: Record<string, string>;
  archive: 'tar.gz' | 'zip';
  exe: string;
  npm: { pkg: string; os: string; cpu: string; libc?: 'glibc' | 'musl' };
  /** OpenWrt architecture names served by this binary (musl targets only). */
  openwrt: string[];
  termux?: string;
  debian?: string;
}

const VENDORED_OPENSSL = { OPENSSL_STATIC: '1', OPENSSL_VENDORED: '1' };

export const TARGETS: readonly Target[] = [
  {
    triple: 'x86_64-unknown-linux-gnu', alias: 'linux-x64', tool: 'cargo', runner: 'ubuntu-24.04', env: {},
    archive: 'tar.gz', exe: '', npm: { pkg: 'linux-x64', os: 'linux', cpu: 'x64', libc: 'glibc' }, openwrt: [], debian: 'amd64',
  },
  {
    triple: 'aarch64-unknown-linux-gnu', alias: 'linux-arm64', tool: 'cross', runner: 'ubuntu-24.04-arm', env: {},
    archive: 'tar.gz', exe: '', npm: { pkg: 'linux-arm64', os: 'linux', cpu: 'arm64', libc: 'glibc' }, openwrt: [], debian: 'arm64',
  },
  {
    triple: 'x86_64-unknown-linux-musl', alias: 'linux-x64-musl', tool: 'cargo-zigbuild', runner: 'ubuntu-24.04', env: { ...VENDORED_OPENSSL },
    archive: 'tar.gz', exe: '', npm: { pkg: 'linux-x64-musl', os: 'linux', cpu: 'x64', libc: 'musl' }, openwrt: ['x86_64'],
  },
  {
    triple: 'aarch64-unknown-linux-musl', alias: 'linux-arm64-musl', tool: 'cargo-zigbuild', runner: 'ubuntu-24.04', env: { ...VENDORED_OPENSSL },
    archive: 'tar.gz', exe: '', npm: { pkg: 'linux-arm64-musl', os: 'linux', cpu: 'arm64', libc: 'musl' },
    openwrt: ['aarch64_generic', 'aarch64_cortex-a53', 'aarch64_cortex-a72'],
  },
  {
    triple: 'x86_64-apple-darwin', alias: 'darwin-x64', tool: 'cargo', runner: 'macos-13', env: {},
    archive: 'tar.gz', exe: '', npm: { pkg: 'darwin-x64', os: 'darwin', cpu: 'x64' }, openwrt: [],
  },
  {
    triple: 'aarch64-apple-darwin', alias: 'darwin-arm64', tool: 'cargo', runner: 'macos-14', env: {},
    archive: 'tar.gz', exe: '', npm: { pkg: 'darwin-arm64', os: 'darwin', cpu: 'arm64' }, openwrt: [],
  },
  {
    triple: 'x86_64-pc-windows-msvc', alias: 'win32-x64', tool: 'cargo', runner: 'windows-2022', env: {},
    archive: 'zip', exe: '.exe', npm: { pkg: 'win32-x64', os: 'win32', cpu: 'x64' }, openwrt: [],
  },
  {
    triple: 'aarch64-pc-windows-msvc', alias: 'win32-arm64', tool: 'cargo', runner: 'windows-11-arm', env: {},
    archive: 'zip', exe: '.exe', npm: { pkg: 'win32-arm64', os: 'win32', cpu: 'arm64' }, openwrt: [],
  },
  {
    triple: 'x86_64-unknown-freebsd', alias: 'freebsd-x64', tool: 'cross', runner: 'ubuntu-24.04', env: { ...VENDORED_OPENSSL },
    archive: 'tar.gz', exe: '', npm: { pkg: 'freebsd-x64', os: 'freebsd', cpu: 'x64' }, openwrt: [],
  },
  {
    triple: 'x86_64-unknown-illumos', alias: 'illumos-x64', tool: 'cross', runner: 'ubuntu-24.04', env: { ...VENDORED_OPENSSL },
    archive: 'tar.gz', exe: '', npm: { pkg: 'sunos-x64', os: 'sunos', cpu: 'x64' }, openwrt: [],
  },
  {
    triple: 'aarch64-linux-android', alias: 'android-arm64', tool: 'android-ndk', runner: 'ubuntu-24.04',
    env: {
      ...VENDORED_OPENSSL,
      // API 24 is Termux's minimum; the NDK's clang wrapper for it is the linker and C compiler.
      CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER: '$ANDROID_NDK_HOME/toolchains/llvm/prebuilt/linux-x86_64/bin/aarch64-linux-android24-clang',
      CC_aarch64_linux_android: '$ANDROID_NDK_HOME/toolchains/llvm/prebuilt/linux-x86_64/bin/aarch64-linux-android24-clang',
      AR_aarch64_linux_android: '$ANDROID_NDK_HOME/toolchains/llvm/prebuilt/linux-x86_64/bin/llvm-ar',
    },
    archive: 'tar.gz', exe: '', npm: { pkg: 'android-arm64', os: 'android', cpu: 'arm64' }, openwrt: [], termux: 'aarch64',
  },
];

export function findTarget(name: string): Target {
  const t = TARGETS.find((x) => x.triple === name || x.alias === name);
  if (!t) {
    throw new UserError(
      `unknown target \`${name}\``,
      `Known targets (triple or alias): ${TARGETS.map((x) => `${x.triple} (${x.alias})`).join(', ')}.`,
    );
  }
  return t;
}

export function hostTriple(): string {
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  switch (process.platform) {
    case 'linux': {
      // glibc reports its version through process.report; musl does not.
      const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
      return `${arch}-unknown-linux-${report?.header?.glibcVersionRuntime ? 'gnu' : 'musl'}`;
    }
    case 'darwin':
      return `${arch}-apple-darwin`;
    case 'win32':
      return `${arch}-pc-windows-msvc`;
    case 'freebsd':
      return `${arch}-unknown-freebsd`;
    case 'android':
      return `${arch}-linux-android`;
    default:
      return `${arch}-unknown-${process.platform}`;
  }
}
