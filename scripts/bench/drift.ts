/**
 * `upstream drift` speed: the series tried against every upstream release from the pin to the
 * latest, per tag (goal: under 1 s per tag), from a cold cache (an empty cache dir: every tag's
 * commits and trees and the series' files fetched from the upstream source, in one batch each)
 * and from a warm one (everything cached: only the scratch-index applies and merges run).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { makeContext } from '../lib/context.ts';
import { REPO_ROOT } from '../lib/project.ts';
import { drift } from '../upstream/track.ts';
import { listTagsLsRemote } from '../upstream/tags.ts';
import semver from 'semver';
import { median, type BenchRow } from './row.ts';

const TSX = path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

export async function driftBench(): Promise<BenchRow[] | string> {
  const probe = makeContext({ gitMirror: [], offline: false });
  try {
    listTagsLsRemote(probe.upstreamSource);
  } catch (e) {
    return `no upstream available (${(e as Error).message}); set CODEX_LITELLM_UPSTREAM or ~/.config/codex-litellm/build.json`;
  }
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-litellm-bench-drift-'));
  try {
    const ctx = makeContext({ gitMirror: [], offline: false, cacheDir });
    // Right after a bump the pin is the newest release the source has, and one tag measures
    // nothing but start-up: then the range is the releases up to the pin, from the one BENCH_SPAN
    // (30) releases back, so the per-tag figure stays comparable between runs.
    const releases = listTagsLsRemote(ctx.upstreamSource).filter((t) => /^rust-v\d+\.\d+\.\d+$/.test(t.name));
    const byVersion = releases.map((t) => t.name).sort((a, b) => semver.compare(a.slice(6), b.slice(6)));
    const pinAt = byVersion.indexOf(ctx.lock.tag);
    const newer = pinAt >= 0 ? byVersion.length - 1 - pinAt : 0;
    const span = Number(process.env.BENCH_SPAN ?? 30);
    const range = newer >= 10 || pinAt < 0 ? {} : { from: byVersion[Math.max(0, pinAt - span)], to: ctx.lock.tag };
    const cold = drift(ctx, range);
    const tags = cold.rows.length;
    const warm: number[] = [];
    for (let i = 0; i < 3; i += 1) warm.push(drift(ctx, range).totalMs);
    const cli: number[] = [];
    for (let i = 0; i < 2; i += 1) {
      const t = performance.now();
      const r = spawnSync(
        process.execPath,
        [
          TSX,
          path.join(REPO_ROOT, 'build.ts'),
          'upstream',
          'drift',
          '--json',
          '--cache-dir',
          cacheDir,
          ...(range.from ? ['--from', range.from, '--to', range.to!] : []),
        ],
        { encoding: 'utf8', env: { ...process.env, CI: '1' }, maxBuffer: 64 * 1024 * 1024 },
      );
      if (r.status !== 0) throw new Error(`upstream drift failed:\n${r.stderr}`);
      cli.push(performance.now() - t);
    }
    const perTag = (ms: number): number => ms / tags;
    const applies = cold.rows.map((r) => r.ms);
    const counts = { clean: 0, merge: 0, conflict: 0 };
    for (const r of cold.rows) counts[r.outcome] += 1;
    return [
      { name: `tags ${cold.from} .. ${cold.to}`, value: `${tags} (${counts.clean} clean, ${counts.merge} merge, ${counts.conflict} conflict)` },
      {
        name: 'cold cache: fetches',
        value: `${cold.stats.tagFetches} fetch(es) for ${cold.stats.tagsFetched} tag(s), ${cold.stats.blobFetches} for ${cold.stats.blobsFetched} file(s)`,
      },
      { name: 'cold cache: whole drift', value: `${(cold.totalMs / 1000).toFixed(2)} s (fetching and preparing ${(cold.prepareMs / 1000).toFixed(2)} s)` },
      { name: 'cold cache: per tag', value: `${perTag(cold.totalMs).toFixed(0)} ms`, goal: 'under 1 s per tag', met: perTag(cold.totalMs) < 1000 },
      {
        name: 'warm cache: per tag (median of 3)',
        value: `${perTag(median(warm)).toFixed(0)} ms`,
        goal: 'under 1 s per tag',
        met: perTag(median(warm)) < 1000,
      },
      {
        name: 'warm cache: per tag, whole command (median of 2)',
        value: `${perTag(median(cli)).toFixed(0)} ms`,
        goal: 'under 1 s per tag',
        met: perTag(median(cli)) < 1000,
      },
      { name: 'scratch apply per tag: median / max', value: `${median(applies).toFixed(0)} ms / ${Math.max(...applies).toFixed(0)} ms` },
      { name: 'goal / warm per-tag time', value: `${(1000 / perTag(median(warm))).toFixed(1)}x under the goal` },
    ];
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}
