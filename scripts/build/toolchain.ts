/**
 * Which Rust toolchain builds upstream. Upstream pins one in rust-toolchain.toml; when that exact
 * toolchain is not installed (it often is not, offline), the installed stable is used instead, and
 * we say so. RUSTUP_TOOLCHAIN overrides rust-toolchain.toml for every cargo/rustc we start.
 */
import { spawnSync } from 'node:child_process';
import { UserError } from '../lib/errors.ts';

export interface Toolchain {
  name: string;
  /** Why this one: flag, env, pinned, fallback. */
  reason: string;
  /** `rustc -V` of that toolchain. */
  rustc: string;
}

export function pinnedChannel(rustToolchainToml: string | undefined): string | undefined {
  if (!rustToolchainToml) return undefined;
  return /^\s*channel\s*=\s*"([^"]+)"/m.exec(rustToolchainToml)?.[1];
}

function installedToolchains(): string[] | undefined {
  const r = spawnSync('rustup', ['toolchain', 'list'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!.trim())
    .filter(Boolean);
}

function rustcVersion(toolchain: string | undefined): string | undefined {
  const env = { ...process.env };
  if (toolchain) env.RUSTUP_TOOLCHAIN = toolchain;
  const r = spawnSync('rustc', ['-V'], { encoding: 'utf8', env });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function chooseToolchain(opts: { flag?: string; env?: string; pinned?: string; userDefault?: string }): Toolchain {
  const installed = installedToolchains();
  const has = (name: string): boolean => !installed || installed.some((t) => t === name || t.startsWith(`${name}-`));
  const pick = (name: string, reason: string): Toolchain => {
    if (installed && !has(name)) {
      throw new UserError(
        `Rust toolchain \`${name}\` (${reason}) is not installed`,
        `Install it (rustup toolchain install ${name}) or choose another with --toolchain; installed: ${installed.join(', ') || 'none'}.`,
      );
    }
    const rustc = rustcVersion(name);
    if (!rustc) throw new UserError(`rustc for toolchain \`${name}\` does not run`, 'Check your Rust installation (rustup show).');
    return { name, reason, rustc };
  };
  if (opts.flag) return pick(opts.flag, '--toolchain');
  if (opts.env) return pick(opts.env, 'RUSTUP_TOOLCHAIN');
  if (opts.userDefault) return pick(opts.userDefault, 'user config');
  if (opts.pinned && has(opts.pinned)) return pick(opts.pinned, "upstream's rust-toolchain.toml");
  if (!installed) {
    const rustc = rustcVersion(undefined);
    if (!rustc) throw new UserError('no Rust toolchain found (rustc does not run)', 'Install Rust with rustup: https://rustup.rs');
    return { name: 'stable', reason: 'no rustup; the rustc on PATH', rustc };
  }
  return pick('stable', opts.pinned ? `upstream pins ${opts.pinned}, which is not installed; using the installed stable` : 'default');
}
