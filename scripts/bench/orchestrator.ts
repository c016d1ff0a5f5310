/**
 * Orchestrator overhead: a no-op `build.ts` re-run against Cargo's own no-op build of the same
 * tree (goal: within 2x), and `patches check` (goal: under 1 s), on the real upstream.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { cargoCommand, rustupRef } from '../build/cargo.ts';
import { contextVersion, makeContext } from '../lib/context.ts';
import { makeBuildPlan } from '../lib/plan.ts';
import { bundle } from '../bundle.ts';
import { acquire, applyAll } from '../lib/prepare.ts';
import { findProfile } from '../lib/profiles.ts';
import { REPO_ROOT } from '../lib/project.ts';
import { median, type BenchRow } from './row.ts';

const TSX = path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

function build(args: string[], entry: string[] = [TSX, path.join(REPO_ROOT, 'build.ts')]): void {
  const r = spawnSync(process.execPath, [...entry, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
  if (r.status !== 0) throw new Error(`build.ts ${args.join(' ')} failed:\n${r.stderr}`);
}

export async function orchestratorBench(): Promise<BenchRow[] | string> {
  const ctx = makeContext({ gitMirror: [], offline: false });
  try {
    acquire(ctx);
  } catch (e) {
    return `no upstream available (${(e as Error).message}); set CODEX_LITELLM_UPSTREAM or ~/.config/codex-litellm/build.json`;
  }
  const args = ['--profile', 'dev'];
  build(args); // warm: whatever needs building is built now, outside the measurement
  const runs = 3;
  const ours: number[] = [];
  for (let i = 0; i < runs; i += 1) ours.push(timed(() => build(args)));
  // This machine's own row and its route, as the build plans them.
  const { target, route } = makeBuildPlan(ctx, {}).targets[0]!;
  const cmd = cargoCommand(ctx, target, findProfile('dev'), rustupRef(process.env.RUSTUP_TOOLCHAIN || 'stable'), route, contextVersion(ctx));
  const cargo: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    cargo.push(
      timed(() => {
        const r = spawnSync(cmd.program, cmd.args, { cwd: cmd.cwd, env: { ...process.env, ...cmd.env }, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`cargo no-op failed: ${r.stderr}`);
      }),
    );
  }
  const check: number[] = [];
  for (let i = 0; i < 5; i += 1) check.push(timed(() => applyAll(ctx, acquire(ctx))));
  const checkCli: number[] = [];
  for (let i = 0; i < 3; i += 1) checkCli.push(timed(() => build(['patches', 'check'])));
  // The same command from the esbuild bundle (npm run bundle): no tsx, no per-run compilation.
  const bundled = await bundle();
  const checkBundled: number[] = [];
  for (let i = 0; i < 3; i += 1) checkBundled.push(timed(() => build(['patches', 'check'], [bundled])));
  const ratio = median(ours) / median(cargo);
  return [
    { name: 'no-op build.ts re-run (median of 3)', value: `${(median(ours) / 1000).toFixed(2)} s` },
    { name: "Cargo's own no-op build of the same tree (median of 3)", value: `${(median(cargo) / 1000).toFixed(2)} s` },
    { name: 'ratio build.ts / cargo', value: `${ratio.toFixed(2)}x`, goal: 'within 2x', met: ratio <= 2 },
    { name: 'patches check, in process (median of 5)', value: `${median(check).toFixed(0)} ms`, goal: 'under 1 s', met: median(check) < 1000 },
    {
      name: 'patches check, whole command incl. node start (median of 3)',
      value: `${median(checkCli).toFixed(0)} ms`,
      goal: 'under 1 s',
      met: median(checkCli) < 1000,
    },
    {
      name: 'patches check, bundled whole command (median of 3)',
      value: `${median(checkBundled).toFixed(0)} ms`,
      goal: 'under 1 s',
      met: median(checkBundled) < 1000,
    },
  ];
}
