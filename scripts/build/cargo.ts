/**
 * The cargo invocation for one target: which tool, which arguments, which environment. Kept pure
 * so `--dry-run` prints exactly what a real run executes.
 */
import * as path from 'node:path';
import type { Context } from '../lib/context.ts';
import { mirrorEnv } from '../lib/settings.ts';
import type { Profile } from '../lib/profiles.ts';
import { UPSTREAM_FACTS } from '../lib/project.ts';
import { expandEnv, type Target } from '../lib/targets.ts';
import { versionEnv, type VersionInfo } from '../lib/version.ts';
import { sysrootDir, sysrootEnv } from './android/sysroot.ts';
import { libcapEnv } from './cdeps.ts';
import type { Route } from '../lib/route.ts';
import type { Toolchain } from '../lib/toolchain.ts';

export interface CargoCommand {
  cwd: string;
  program: string;
  args: string[];
  /** Only what we add to the caller's environment. */
  env: Record<string, string>;
  /** Where Cargo leaves the binary. */
  output: string;
  /** The toolchain's own cargo, for side commands (`cargo update`) that must not go through cross. */
  cargo: string;
}

/** The part of a toolchain the command needs (a plan may not have resolved the rest). */
export type ToolchainRef = Pick<Toolchain, 'name' | 'cargo' | 'env'>;

/** A rustup toolchain by name, as a plan or a bench names it without asking rustup. */
export function rustupRef(name: string): ToolchainRef {
  return { name, cargo: 'cargo', env: { RUSTUP_TOOLCHAIN: name } };
}

export function cargoCommand(ctx: Context, target: Target, profile: Profile, toolchain: ToolchainRef, route: Route, version: VersionInfo): CargoCommand {
  const program = route.tool === 'cross' ? 'cross' : toolchain.cargo;
  const sub = route.tool === 'cargo-zigbuild' ? 'zigbuild' : 'build';
  const buildStd = route.std === 'build-std';
  const args = [
    sub,
    '--locked',
    '-p',
    UPSTREAM_FACTS.cargoPackage,
    '--bin',
    UPSTREAM_FACTS.binName,
    '--target',
    target.triple,
    '--profile',
    profile.cargoProfile,
    // panic_abort beside std: upstream's profiles may abort on panic, and std needs both to link.
    ...(buildStd ? ['-Zbuild-std=std,panic_abort'] : []),
    ...(route.features.length ? ['--features', route.features.join(',')] : []),
  ];
  const targetVar = target.triple.toUpperCase().replace(/[-.]/g, '_');
  const env: Record<string, string> = {
    // RUSTUP_TOOLCHAIN overrides upstream's rust-toolchain.toml pin; a path toolchain sets RUSTC (see toolchain.ts).
    ...toolchain.env,
    CARGO_TARGET_DIR: ctx.cache.targetDir,
    ...profile.env,
    ...targetEnv(ctx, target, route),
    // -Z flags on a stable or distribution rustc.
    ...(buildStd ? { RUSTC_BOOTSTRAP: '1' } : {}),
    // A std built from source has no self-contained musl CRT objects; zig supplies the C runtime.
    ...(buildStd && route.tool === 'cargo-zigbuild' && target.triple.includes('-musl')
      ? { [`CARGO_TARGET_${targetVar}_RUSTFLAGS`]: '-C link-self-contained=no' }
      : {}),
    ...(route.cdeps.includes('libcap') ? libcapEnv(ctx.cache, target.triple) : {}),
    // Cross builds are for packages, rarely edited in place: incremental state would cost 3-5 GB
    // of disk per target for rebuilds that seldom come.
    ...(route.native ? {} : { CARGO_INCREMENTAL: '0' }),
    ...mirrorEnv(ctx.mirrors),
    // V8's build script downloads its prebuilt library from GitHub unless told where else (code mode).
    ...(ctx.prebuiltMirror ? { RUSTY_V8_MIRROR: ctx.prebuiltMirror } : {}),
    ...versionEnv(version),
  };
  return {
    cwd: path.join(ctx.treeDir, ctx.lock.workspace),
    program,
    args,
    env,
    output: path.join(ctx.cache.targetDir, target.triple, profile.outDir, `${UPSTREAM_FACTS.binName}${target.exe}`),
    cargo: toolchain.cargo,
  };
}

/**
 * The row's build environment on this route: the NDK rows' templates name $ANDROID_NDK_HOME, which
 * is the NDK the route found (it may have come from ANDROID_NDK_LATEST_HOME); without an NDK, the
 * wrappers of the generated sysroot take the NDK's place.
 */
function targetEnv(ctx: Context, target: Target, route: Route): Record<string, string> {
  if (route.tool === 'zig-android') return sysrootEnv(sysrootDir(ctx.cache, target.triple), target.triple);
  if (route.ndk) return expandEnv(target.envTemplate, { ...process.env, ANDROID_NDK_HOME: route.ndk });
  return target.env;
}

/** A shell-ready rendering, for plans and logs. Secrets never appear here: we add none. */
export function renderCommand(c: CargoCommand): string {
  const q = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const env = Object.entries(c.env).map(([k, v]) => `${k}=${q(v)}`);
  return [...env, c.program, ...c.args.map(q)].join(' ');
}
