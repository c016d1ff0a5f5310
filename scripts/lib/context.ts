/**
 * Everything a command needs, resolved once from flags, environment, the user file and the repo:
 * the lock, the project and cache paths, the upstream source and the git mirrors.
 */
import * as path from 'node:path';
import { readLock, type UpstreamLock } from './lockfile.ts';
import { cachePaths, defaultCacheDir, projectPaths, type CachePaths, type ProjectPaths } from './project.ts';
import { readUserConfig, resolveMirrors, resolvePrebuiltMirror, resolveUpstreamMain, resolveUpstreamSources, type UserConfig } from './settings.ts';
import { requestedSubstitutions, resolveSubstitutions, type Substitution } from './substitutions.ts';
import { seriesHash, versionInfo, type VersionInfo } from './version.ts';

export interface CommonOptions {
  root?: string;
  cacheDir?: string;
  /** --upstream, repeatable: several mirrors that each carry some of upstream's tags. */
  upstream?: string[];
  gitMirror: string[];
  toolchain?: string;
  offline: boolean;
  /** --substitute names (repeatable, comma-separated). */
  substitute?: string[];
  /** --upstream-main: a mirror of upstream's main branch (edge pins). */
  upstreamMain?: string;
  /** --prebuilt-mirror: where V8's prebuilt library comes from (RUSTY_V8_MIRROR). */
  prebuiltMirror?: string;
  /** --no-substitute: refuse every substitution (release builds). */
  noSubstitute?: boolean;
}

export interface Context {
  project: ProjectPaths;
  cache: CachePaths;
  lock: UpstreamLock;
  user: UserConfig;
  /** Where upstream's tags come from, in order (see resolveUpstreamSources); never empty. */
  upstreamSources: string[];
  /** The first of them, for messages that name one source. */
  upstreamSource: string;
  /** Where upstream's main branch comes from (edge pins), if configured. */
  upstreamMain?: string;
  mirrors: Map<string, string>;
  opts: CommonOptions;
  /** The patched source tree for the locked commit (stable path: Cargo fingerprints depend on it). */
  treeDir: string;
  /** RUSTY_V8_MIRROR for Cargo, when a prebuilt mirror is configured. */
  prebuiltMirror?: string;
  /** Git dependencies replaced for this run (asked for explicitly; see substitutions.ts). */
  substitutions: Substitution[];
}

/** What the binary built from this context is: version, series hash (substitutions included) and substitutions. */
export function contextVersion(ctx: Context): VersionInfo {
  return versionInfo(ctx.lock, seriesHash(ctx.project.seriesFile, ctx.project.cratesDir, ctx.substitutions), ctx.substitutions);
}

export function makeContext(opts: CommonOptions, env: NodeJS.ProcessEnv = process.env): Context {
  const project = projectPaths(opts.root ? path.resolve(opts.root) : undefined);
  const lock = readLock(project.lockFile);
  const user = readUserConfig();
  const cacheDir = opts.cacheDir ? path.resolve(opts.cacheDir) : user.cacheDir ? path.resolve(user.cacheDir) : defaultCacheDir(env);
  const cache = cachePaths(cacheDir);
  const upstreamSources = resolveUpstreamSources(opts.upstream ?? [], env, user, lock.repository);
  return {
    project,
    cache,
    lock,
    user,
    upstreamSources,
    upstreamSource: upstreamSources[0]!,
    upstreamMain: resolveUpstreamMain(opts.upstreamMain, env, user),
    mirrors: resolveMirrors(opts.gitMirror, env, user),
    prebuiltMirror: resolvePrebuiltMirror(opts.prebuiltMirror, env, user),
    opts,
    treeDir: path.join(cache.treesDir, `${lock.tag.replace(/[^A-Za-z0-9._-]/g, '_')}-${lock.commit.slice(0, 12)}`),
    substitutions: resolveSubstitutions(project.patchesDir, requestedSubstitutions(opts.substitute ?? [], env, user.substitute), opts.noSubstitute ?? false),
  };
}
