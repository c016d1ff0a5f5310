/**
 * The patched series in memory: acquire upstream, lint and apply the series, place our crates.
 * Shared by the `build`, `patches` and `upstream-tests` commands (build/sync.ts writes it to disk).
 */
import { applySeries, crateChanges, type AppliedSeries, type FileChange } from './apply.ts';
import type { Context } from './context.ts';
import { UserError } from './errors.ts';
import { UPSTREAM_FACTS } from './project.ts';
import { lintSeries, readSeries } from './series.ts';
import { substitutionEntries } from './substitutions.ts';
import type { GitProgress } from './git.ts';
import type { Reporter } from './progress.ts';
import { acquireUpstream, acquireUpstreamAsync, readAt, type Upstream } from './upstream-cache.ts';

export function acquire(ctx: Context): Upstream {
  return acquireUpstream({ gitDir: ctx.cache.upstreamGit, sources: ctx.upstreamSources, main: ctx.upstreamMain, lock: ctx.lock, offline: ctx.opts.offline });
}

/** What the upstream step shows while git fetches: "tag rust-v0.115.0: receiving objects 45% (1234/2742), 1.20 MiB | 2.40 MiB/s". */
export function fetchText(what: string, p: GitProgress): string {
  if (p.phase === 'Starting') return `${what}: asking the source`;
  const count = p.percent !== undefined ? `${p.percent}% (${p.done}/${p.total})` : `${p.done}`;
  return `${what}: ${p.phase.toLowerCase()} ${count}${p.bytes ? `, ${p.bytes}` : ''}${p.rate ? ` | ${p.rate}` : ''}`;
}

/** acquire, with git's progress meter on the step's display while a fetch runs. */
export function acquireWithProgress(ctx: Context, progress: Reporter): Promise<Upstream> {
  let last: string | undefined;
  return acquireUpstreamAsync(
    { gitDir: ctx.cache.upstreamGit, sources: ctx.upstreamSources, main: ctx.upstreamMain, lock: ctx.lock, offline: ctx.opts.offline },
    (what, p) => {
      progress.update({ text: fetchText(what, p), data: { fetching: what, ...p }, milestone: what !== last });
      last = what;
    },
  );
}

/** Lint problems are fatal for a build: a broken series must not produce a binary. */
export function lintOrThrow(ctx: Context): void {
  const problems = lintSeries(ctx.project.seriesFile, ctx.lock.workspace, UPSTREAM_FACTS.crateDir);
  if (problems.length > 0) {
    throw new UserError(
      `the patch series has ${problems.length} problem(s):\n  - ${problems.map((p) => p.message).join('\n  - ')}`,
      'Fix patches/series or the patches (`npx tsx build.ts patches check` lists the same).',
    );
  }
}

export interface Prepared {
  applied: AppliedSeries;
  changes: Map<string, FileChange>;
}

export function applyAll(ctx: Context, up: Upstream): Prepared {
  // Substitutions (asked for explicitly) go on top of the series.
  const entries = [...readSeries(ctx.project.seriesFile), ...substitutionEntries(ctx.substitutions)];
  const applied = applySeries({ gitDir: up.gitDir, commit: up.commit, entries });
  const changes = new Map(applied.changes);
  for (const [p, c] of crateChanges(ctx.project.cratesDir, ctx.lock.workspace, UPSTREAM_FACTS.crateDir)) {
    if (changes.has(p)) throw new UserError(`${p} is both patched and one of our crates`, 'Crates are placed, not patched: drop the patch hunk.');
    changes.set(p, c);
  }
  return { applied, changes };
}

/** The rust-toolchain.toml the tree will have (patched or upstream's). */
export function treeToolchainFile(ctx: Context, up: Upstream, prepared?: Prepared): string | undefined {
  const p = `${ctx.lock.workspace}/rust-toolchain.toml`;
  const patched = prepared?.changes.get(p);
  if (patched) return patched.content?.toString('utf8');
  return readAt(up.gitDir, up.commit, p)?.toString('utf8');
}
