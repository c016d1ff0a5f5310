/**
 * Which Rust toolchain builds upstream. Two kinds:
 * - a rustup toolchain by name. Upstream pins one in rust-toolchain.toml; when that exact
 *   toolchain is not installed (it often is not, offline), the installed stable is used instead,
 *   and we say so. RUSTUP_TOOLCHAIN overrides rust-toolchain.toml for every cargo/rustc we start.
 * - a directory holding `cargo` and `rustc` (a distribution's Rust, e.g. Debian's rustc-web in
 *   /usr/bin), chosen explicitly with `--toolchain /usr/bin`. Its cargo is run by path and RUSTC
 *   points at its rustc, so rustup's proxies earlier on PATH are never asked.
 * Either way we read its sysroot, which says whether a target's standard library is prebuilt or
 * must be built from source (route.ts).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from './errors.ts';

export interface Toolchain {
  /** The rustup name (`stable`) or the directory (`/usr/bin`). */
  name: string;
  kind: 'rustup' | 'path';
  /** Why this one: flag, env, pinned, fallback. */
  reason: string;
  /** `rustc -V` of that toolchain. */
  rustc: string;
  /** What runs Cargo: `cargo` (rustup's proxy) or the directory's cargo by path. */
  cargo: string;
  /** Environment every cargo/rustc of this toolchain gets. */
  env: Record<string, string>;
  /** `rustc --print sysroot`: where lib/rustlib/<triple> and lib/rustlib/src live. */
  sysroot: string;
}

export function pinnedChannel(rustToolchainToml: string | undefined): string | undefined {
  if (!rustToolchainToml) return undefined;
  return /^\s*channel\s*=\s*"([^"]+)"/m.exec(rustToolchainToml)?.[1];
}

/** A value names a directory (a path toolchain) rather than a rustup toolchain when it has a slash. */
export function isPathToolchain(value: string): boolean {
  return value.includes('/');
}

function installedToolchains(): string[] | undefined {
  const r = spawnSync('rustup', ['toolchain', 'list'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!.trim())
    .filter(Boolean);
}

function rustcOutput(rustc: string, args: string[], env: Record<string, string>): string | undefined {
  const r = spawnSync(rustc, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function rustupToolchain(name: string | undefined, reason: string): Toolchain {
  const env: Record<string, string> = name ? { RUSTUP_TOOLCHAIN: name } : {};
  const rustc = rustcOutput('rustc', ['-V'], env);
  if (!rustc) {
    throw new UserError(
      name ? `rustc for toolchain \`${name}\` does not run` : 'no Rust toolchain found (rustc does not run)',
      name
        ? 'Check your Rust installation (rustup show).'
        : 'Install Rust with rustup (https://rustup.rs), or name a directory holding cargo and rustc with --toolchain.',
    );
  }
  const sysroot = rustcOutput('rustc', ['--print', 'sysroot'], env) ?? '';
  return { name: name ?? 'stable', kind: 'rustup', reason, rustc, cargo: 'cargo', env, sysroot };
}

/** `dir` may be the bin directory (`/usr/bin`) or its prefix (`/usr`, `~/rust`). */
export function pathToolchain(dir: string, reason: string): Toolchain {
  const abs = path.resolve(dir);
  const bin = [abs, path.join(abs, 'bin')].find((d) => fs.existsSync(path.join(d, 'cargo')) && fs.existsSync(path.join(d, 'rustc')));
  if (!bin) {
    throw new UserError(
      `toolchain directory ${abs} (${reason}) holds no cargo and rustc`,
      'Name the directory with both programs (e.g. --toolchain /usr/bin for Debian rustc-web/cargo-web), or a rustup toolchain by name.',
    );
  }
  const rustcPath = path.join(bin, 'rustc');
  // RUSTC makes Cargo (and cargo-zigbuild, which runs the Cargo in CARGO) use this rustc;
  // RUSTUP_TOOLCHAIN is left out so no rustup proxy on PATH steps in.
  const env = { RUSTC: rustcPath };
  const rustc = rustcOutput(rustcPath, ['-V'], {});
  if (!rustc) throw new UserError(`${rustcPath} does not run`, 'Check that toolchain (run it with -V).');
  const sysroot = rustcOutput(rustcPath, ['--print', 'sysroot'], {}) ?? path.dirname(bin);
  return { name: bin, kind: 'path', reason, rustc, cargo: path.join(bin, 'cargo'), env, sysroot };
}

export function chooseToolchain(opts: { flag?: string; env?: string; pinned?: string; userDefault?: string }): Toolchain {
  const explicit: [string | undefined, string][] = [
    [opts.flag, '--toolchain'],
    [opts.env, 'RUSTUP_TOOLCHAIN'],
    [opts.userDefault, 'user config'],
  ];
  // A directory is never a rustup name, so it is taken before rustup is even asked.
  for (const [value, reason] of explicit) {
    if (value && isPathToolchain(value)) return pathToolchain(value, reason);
    if (value) break;
  }
  const installed = installedToolchains();
  const has = (name: string): boolean => !installed || installed.some((t) => t === name || t.startsWith(`${name}-`));
  const pick = (name: string, reason: string): Toolchain => {
    if (installed && !has(name)) {
      throw new UserError(
        `Rust toolchain \`${name}\` (${reason}) is not installed`,
        `Install it (rustup toolchain install ${name}), choose another with --toolchain (a rustup name, or a directory holding cargo and rustc); installed: ${installed.join(', ') || 'none'}.`,
      );
    }
    return rustupToolchain(name, reason);
  };
  for (const [value, reason] of explicit) if (value) return pick(value, reason);
  if (opts.pinned && has(opts.pinned)) return pick(opts.pinned, "upstream's rust-toolchain.toml");
  if (!installed) return { ...rustupToolchain(undefined, 'no rustup; the rustc on PATH'), name: 'stable', env: {} };
  return pick('stable', opts.pinned ? `upstream pins ${opts.pinned}, which is not installed; using the installed stable` : 'default');
}

/** The explicit choices, strongest first: --toolchain, RUSTUP_TOOLCHAIN, the user file. */
export interface ToolchainChoice {
  flag?: string;
  env?: string;
  userDefault?: string;
}

/** The toolchain as a plan knows it, before upstream (and its rust-toolchain.toml) is there. */
export interface PlannedToolchain {
  choice: ToolchainChoice;
  /**
   * An explicit choice resolved for real, else rustup's stable standing in for "upstream's pin if
   * installed"; undefined when it does not resolve here (the build then says why).
   */
  toolchain: Toolchain | undefined;
  /** What the plan prints. */
  label: string;
  /** Chosen explicitly: it is the one that builds. Otherwise upstream's pin, read at build time, may replace it. */
  explicit: boolean;
}

export function planToolchain(choice: ToolchainChoice): PlannedToolchain {
  const explicit = choice.flag ?? choice.env ?? choice.userDefault;
  const base = { choice, explicit: explicit !== undefined };
  try {
    const toolchain = chooseToolchain(choice);
    return { ...base, toolchain, label: explicit ? `${toolchain.name} (${toolchain.reason}): ${toolchain.rustc}` : "upstream's pin if installed, else stable" };
  } catch {
    return { ...base, toolchain: undefined, label: explicit ?? "upstream's pin if installed, else stable" };
  }
}

/**
 * The toolchain that builds, once upstream's tree is there (`pinned`: its rust-toolchain.toml
 * channel): the planned one when it was chosen explicitly, else upstream's pin if installed, else stable.
 */
export function settleToolchain(planned: PlannedToolchain, pinned: string | undefined): Toolchain {
  if (planned.explicit && planned.toolchain) return planned.toolchain;
  return chooseToolchain({ ...planned.choice, pinned });
}
