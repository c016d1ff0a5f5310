/**
 * The cargo invocation for one target: which tool, which arguments, which environment. Kept pure
 * so `--dry-run` prints exactly what a real run executes.
 */
import * as path from 'node:path';
import type { Context } from '../lib/context.ts';
import { mirrorEnv } from '../lib/settings.ts';
import type { Profile } from '../lib/profiles.ts';
import { UPSTREAM_FACTS } from '../lib/project.ts';
import type { Target } from '../lib/targets.ts';
import { versionEnv, type VersionInfo } from '../lib/version.ts';

export interface CargoCommand {
  cwd: string;
  program: string;
  args: string[];
  /** Only what we add to the caller's environment. */
  env: Record<string, string>;
  /** Where Cargo leaves the binary. */
  output: string;
}

export function cargoCommand(ctx: Context, target: Target, profile: Profile, toolchain: string, version: VersionInfo): CargoCommand {
  const program = target.tool === 'cross' ? 'cross' : 'cargo';
  const sub = target.tool === 'cargo-zigbuild' ? 'zigbuild' : 'build';
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
  ];
  const env: Record<string, string> = {
    // Overrides upstream's rust-toolchain.toml pin (see toolchain.ts).
    RUSTUP_TOOLCHAIN: toolchain,
    CARGO_TARGET_DIR: ctx.cache.targetDir,
    ...profile.env,
    ...target.env,
    ...mirrorEnv(ctx.mirrors),
    ...versionEnv(version),
  };
  return {
    cwd: path.join(ctx.treeDir, ctx.lock.workspace),
    program,
    args,
    env,
    output: path.join(ctx.cache.targetDir, target.triple, profile.outDir, `${UPSTREAM_FACTS.binName}${target.exe}`),
  };
}

/** A shell-ready rendering, for plans and logs. Secrets never appear here: we add none. */
export function renderCommand(c: CargoCommand): string {
  const q = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const env = Object.entries(c.env).map(([k, v]) => `${k}=${q(v)}`);
  return [...env, c.program, ...c.args.map(q)].join(' ');
}
