/**
 * Where things are. One source of truth for the paths of this repo, the cache outside it and the
 * facts about the upstream tree that the series relies on.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * This repository: the nearest directory above this module that holds build.ts. Found, not
 * counted in `..`s, so the bundled orchestrator (.cache/orchestrator/build.mjs) resolves it too.
 */
export const REPO_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'build.ts')) && fs.existsSync(path.join(dir, 'upstream.lock'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no build.ts above ${from}`);
  }
}

/** Facts about upstream's workspace that our series depends on. */
export const UPSTREAM_FACTS = {
  /** Cargo package whose binary we ship. */
  cargoPackage: 'codex-cli',
  /** The binary name after our series renames it (upstream's is `codex`). */
  binName: 'codex-litellm',
  /** Where our crates land, relative to the workspace dir. The series' Cargo.toml patch names them there. */
  crateDir: 'litellm',
} as const;

export interface ProjectPaths {
  root: string;
  lockFile: string;
  patchesDir: string;
  seriesFile: string;
  /** Our crates (each a subdirectory), copied into <workspace>/<crateDir>/ of the tree. */
  cratesDir: string;
  distDir: string;
}

/**
 * The release channel this process builds: `release` (upstream.lock and patches/ at the top: a
 * release tag) or `edge` (edge/upstream.lock and edge/patches/: a commit of upstream main, see
 * lockfile.ts), from --channel or CODEX_LITELLM_CHANNEL. Both channels share our crates, so a
 * change to them is proven on both pins; their builds go to dist/ and dist/edge/.
 */
export type Channel = 'release' | 'edge';

export function currentChannel(env: NodeJS.ProcessEnv = process.env): Channel {
  const c = env.CODEX_LITELLM_CHANNEL || 'release';
  if (c !== 'release' && c !== 'edge') throw new Error(`CODEX_LITELLM_CHANNEL must be release or edge, not \`${c}\``);
  return c;
}

export function projectPaths(root: string = REPO_ROOT, channel: Channel = currentChannel()): ProjectPaths {
  const pin = channel === 'edge' ? path.join(root, 'edge') : root;
  return {
    root,
    lockFile: path.join(pin, 'upstream.lock'),
    patchesDir: path.join(pin, 'patches'),
    seriesFile: path.join(pin, 'patches', 'series'),
    cratesDir: path.join(root, 'litellm', 'crates'),
    distDir: channel === 'edge' ? path.join(root, 'dist', 'edge') : path.join(root, 'dist'),
  };
}

/**
 * The cache lives outside the clone so that Cargo's target dir survives re-clones, sessions and CI
 * runs on the same machine: a cold codex-rs build is long, a warm one is seconds.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CODEX_LITELLM_CACHE) return path.resolve(env.CODEX_LITELLM_CACHE);
  const base = env.XDG_CACHE_HOME ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'codex-litellm');
}

export interface CachePaths {
  dir: string;
  /** Bare, partial (blob:none) clone of upstream: commits and trees, blobs only where needed. */
  upstreamGit: string;
  /** Patched source trees, one per upstream commit, kept at a stable path so Cargo's fingerprints hold. */
  treesDir: string;
  /** Maintainers' git worktrees with the series as commits (patches apply / export). */
  worktreesDir: string;
  /** CARGO_TARGET_DIR. */
  targetDir: string;
  logsDir: string;
  /** Pinned source tarballs (libcap) a cross build compiles for its target. */
  sourcesDir: string;
  /** Target C libraries built from those (cdeps/<triple>/<name>-<version>/). */
  cdepsDir: string;
  /** Sysroots made from pinned sources for targets with no SDK here (Android without the NDK). */
  sysrootsDir: string;
  /** What the last build of each target and profile took (units, time per unit): the next one's estimate. */
  progressDir: string;
}

export function cachePaths(dir: string): CachePaths {
  return {
    dir,
    upstreamGit: path.join(dir, 'upstream.git'),
    treesDir: path.join(dir, 'trees'),
    worktreesDir: path.join(dir, 'worktrees'),
    targetDir: path.join(dir, 'target'),
    logsDir: path.join(dir, 'logs'),
    sourcesDir: path.join(dir, 'sources'),
    cdepsDir: path.join(dir, 'cdeps'),
    sysrootsDir: path.join(dir, 'sysroots'),
    progressDir: path.join(dir, 'progress'),
  };
}

/** User-level settings file (upstream source, git mirrors) for machines without GitHub. */
export function userConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CODEX_LITELLM_CONFIG) return path.resolve(env.CODEX_LITELLM_CONFIG);
  const base = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return path.join(base, 'codex-litellm', 'build.json');
}
