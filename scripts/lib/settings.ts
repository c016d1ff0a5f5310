/**
 * Machine-specific settings: where upstream comes from and where Cargo's git dependencies come
 * from. Flags beat environment variables, which beat the user-level file. Nothing here is ever
 * committed: air-gapped users point these at their own mirrors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from './errors.ts';
import { userConfigFile } from './project.ts';

export interface UserConfig {
  /** Upstream's source, or several (mirrors that each carry some of upstream's tags), in the order they are asked. */
  upstream?: string | string[];
  /**
   * A mirror of upstream's `main` branch, for edge pins (a commit of main past the newest tag). Only
   * its branch is read: a fork's own tags never count as upstream's.
   */
  upstreamMain?: string;
  gitMirrors?: Record<string, string>;
  cacheDir?: string;
  toolchain?: string;
  /** Substitutions to apply (patches/substitutions/<name>.patch), for git dependencies that cannot be mirrored. */
  substitute?: string[];
  /**
   * Where prebuilt libraries that crates' build scripts download come from (V8's static library
   * and bindings, as denoland/rusty_v8's releases lay them out): a URL or a directory.
   */
  prebuiltMirror?: string;
  /**
   * Where pinned sources come from, for machines that cannot reach the default ones: `libcap` (a
   * tarball: file or URL), `bionic` and `system-core` (AOSP git repositories: path or URL, holding
   * the pinned commit; for Android builds without the NDK).
   */
  sources?: Record<string, string>;
}

export const KNOWN_SOURCES = ['libcap', 'bionic', 'system-core', 'zlib'];

export function readUserConfig(file = userConfigFile()): UserConfig {
  if (!fs.existsSync(file)) return {};
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(
      `cannot parse ${file}: ${(e as Error).message}`,
      'It is JSON: {"upstream": "/path/to/codex.git", "gitMirrors": {"https://github.com/x/y": "/path/to/y.git"}}',
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new UserError(`${file} must hold a JSON object`, 'e.g. {"upstream": "/srv/mirrors/codex.git"}');
  }
  const o = data as Record<string, unknown>;
  const known = new Set(['upstream', 'upstreamMain', 'gitMirrors', 'cacheDir', 'toolchain', 'substitute', 'sources', 'prebuiltMirror']);
  for (const k of Object.keys(o)) {
    if (!known.has(k)) throw new UserError(`${file}: unknown setting \`${k}\``, `Known settings: ${[...known].join(', ')}.`);
  }
  for (const k of ['cacheDir', 'toolchain', 'prebuiltMirror', 'upstreamMain'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'string') throw new UserError(`${file}: \`${k}\` must be a string`);
  }
  const up = o.upstream;
  if (up !== undefined && typeof up !== 'string' && (!Array.isArray(up) || up.length === 0 || up.some((v) => typeof v !== 'string' || !v))) {
    throw new UserError(
      `${file}: \`upstream\` must be a path or URL, or a non-empty list of them`,
      '{"upstream": ["/srv/mirrors/codex.git", "/srv/mirrors/codex-newer-tags.git"]}: each tag is taken from the sources that carry it, and they must agree on its commit.',
    );
  }
  if (o.substitute !== undefined && (!Array.isArray(o.substitute) || o.substitute.some((v) => typeof v !== 'string'))) {
    throw new UserError(`${file}: \`substitute\` must be a list of names`, '{"substitute": ["crossterm", "tokio-tungstenite"]}');
  }
  if (o.sources !== undefined) {
    const m = o.sources;
    if (typeof m !== 'object' || m === null || Array.isArray(m) || Object.values(m).some((v) => typeof v !== 'string')) {
      throw new UserError(`${file}: \`sources\` must map names to files or URLs`, '{"sources": {"libcap": "/srv/mirrors/libcap-2.66.tar.xz"}}');
    }
    for (const k of Object.keys(m)) {
      if (!KNOWN_SOURCES.includes(k)) throw new UserError(`${file}: unknown source \`${k}\` in \`sources\``, `Known sources: ${KNOWN_SOURCES.join(', ')}.`);
    }
  }
  if (o.gitMirrors !== undefined) {
    const m = o.gitMirrors;
    if (typeof m !== 'object' || m === null || Array.isArray(m) || Object.values(m).some((v) => typeof v !== 'string')) {
      throw new UserError(
        `${file}: \`gitMirrors\` must map URLs to paths or URLs`,
        '{"gitMirrors": {"https://github.com/nornagon/ratatui": "/srv/mirrors/ratatui.git"}}',
      );
    }
  }
  return o as UserConfig;
}

/** Parse one `<url>=<path-or-url>` mirror spec. */
export function parseMirrorSpec(spec: string, origin: string): [string, string] {
  const i = spec.indexOf('=');
  const from = i > 0 ? spec.slice(0, i).trim() : '';
  const to = i > 0 ? spec.slice(i + 1).trim() : '';
  if (!from || !to || !/^[a-z][a-z0-9+.-]*:\/\//i.test(from)) {
    throw new UserError(
      `${origin}: bad git mirror \`${spec}\``,
      'Write <url>=<path-or-url>, e.g. --git-mirror https://github.com/nornagon/ratatui=/srv/mirrors/ratatui.git',
    );
  }
  return [from.replace(/\/+$/, ''), to];
}

/** Merge mirrors: file < env (CODEX_LITELLM_GIT_MIRRORS, ';' or newline separated) < flags. */
export function resolveMirrors(flags: string[], env: NodeJS.ProcessEnv, file: UserConfig, cwd = process.cwd()): Map<string, string> {
  const out = new Map<string, string>();
  const add = (from: string, to: string, origin: string): void => {
    const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(to);
    const target = isUrl ? to : path.resolve(cwd, to);
    if (!isUrl && !fs.existsSync(target)) {
      throw new UserError(
        `${origin}: git mirror for ${from} points at ${target}, which does not exist`,
        'Clone or fetch the mirror there first, or fix the path.',
      );
    }
    out.set(from.replace(/\/+$/, ''), target);
  };
  for (const [from, to] of Object.entries(file.gitMirrors ?? {})) add(from, to, userConfigFile());
  for (const spec of (env.CODEX_LITELLM_GIT_MIRRORS ?? '')
    .split(/[;\n]/)
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [from, to] = parseMirrorSpec(spec, 'CODEX_LITELLM_GIT_MIRRORS');
    add(from, to, 'CODEX_LITELLM_GIT_MIRRORS');
  }
  for (const spec of flags) {
    const [from, to] = parseMirrorSpec(spec, '--git-mirror');
    add(from, to, '--git-mirror');
  }
  return out;
}

/**
 * Git config through the environment (GIT_CONFIG_COUNT/KEY_n/VALUE_n) so that Cargo, fetching with
 * the git CLI, reads git dependencies from the mirrors; Cargo.lock keeps the original URLs.
 * Existing GIT_CONFIG_* entries of the caller are kept.
 */
export function mirrorEnv(mirrors: Map<string, string>, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (mirrors.size === 0) return {};
  const out: Record<string, string> = { CARGO_NET_GIT_FETCH_WITH_CLI: 'true' };
  let n = Number(env.GIT_CONFIG_COUNT ?? 0) || 0;
  for (const [from, to] of mirrors) {
    // Both spellings Cargo may use for the same repository.
    for (const url of [from, `${from}.git`]) {
      out[`GIT_CONFIG_KEY_${n}`] = `url.${to}.insteadOf`;
      out[`GIT_CONFIG_VALUE_${n}`] = url;
      n += 1;
    }
  }
  out.GIT_CONFIG_COUNT = String(n);
  return out;
}

/**
 * Upstream's sources, in order: --upstream (repeatable) > CODEX_LITELLM_UPSTREAM (';'-separated) >
 * the user file (a string or a list) > upstream.lock's repository. Several sources are mirrors that
 * each carry some of upstream's tags (one snapshot up to 0.115, another with 0.122-0.125): a tag is
 * taken from whichever carries it, and sources that carry the same tag must agree on its commit.
 */
export function resolveUpstreamSources(flags: string[], env: NodeJS.ProcessEnv, file: UserConfig, lockRepo: string, cwd = process.cwd()): string[] {
  const split = (v: string): string[] =>
    v
      .split(/[;\n]/)
      .map((s) => s.trim())
      .filter(Boolean);
  let list: string[];
  if (flags.length > 0) list = flags;
  else if (env.CODEX_LITELLM_UPSTREAM?.trim()) list = split(env.CODEX_LITELLM_UPSTREAM);
  else if (file.upstream !== undefined) list = typeof file.upstream === 'string' ? [file.upstream] : file.upstream;
  else list = [lockRepo];
  const norm = (v: string): string => (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) || /^[^/]+@[^:]+:/.test(v) ? v : path.resolve(cwd, v));
  return [...new Set(list.map(norm))];
}

/**
 * The prebuilt-library mirror: --prebuilt-mirror > CODEX_LITELLM_PREBUILT_MIRROR > the user file.
 * It becomes RUSTY_V8_MIRROR (v8's build script reads `<mirror>/v<version>/librusty_v8_<profile>_<triple>.a.gz`
 * and `src_binding_<profile>_<triple>.rs` from a URL or copies them from a directory).
 */
export function resolvePrebuiltMirror(flag: string | undefined, env: NodeJS.ProcessEnv, file: UserConfig, cwd = process.cwd()): string | undefined {
  const v = flag ?? (env.CODEX_LITELLM_PREBUILT_MIRROR || undefined) ?? file.prebuiltMirror;
  if (v === undefined) return undefined;
  if (/^https?:\/\//i.test(v)) return v.replace(/\/+$/, '');
  const dir = path.resolve(cwd, v);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new UserError(
      `the prebuilt mirror ${dir} is not a directory`,
      'Point --prebuilt-mirror (CODEX_LITELLM_PREBUILT_MIRROR, `prebuiltMirror` in the user file) at an http(s) URL or a directory laid out like denoland/rusty_v8 releases: v<version>/librusty_v8_release_<triple>.a.gz and v<version>/src_binding_release_<triple>.rs.',
    );
  }
  return dir;
}

/** The mirror of upstream's main (edge pins): --upstream-main > CODEX_LITELLM_UPSTREAM_MAIN > the user file. */
export function resolveUpstreamMain(flag: string | undefined, env: NodeJS.ProcessEnv, file: UserConfig, cwd = process.cwd()): string | undefined {
  const v = flag ?? (env.CODEX_LITELLM_UPSTREAM_MAIN || undefined) ?? file.upstreamMain;
  if (v === undefined) return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(v) || /^[^/]+@[^:]+:/.test(v) ? v : path.resolve(cwd, v);
}
