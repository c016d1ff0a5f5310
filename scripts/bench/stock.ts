/**
 * Patched against stock upstream at the same tag, same profile, same toolchain, same target dir:
 * binary size, one-shot `exec` wall time and peak RSS against the same LiteLLM proxy (goal: within
 * 1.05x each), and — only with BENCH_COLD=1, since it is two cold builds of codex-rs (about half
 * an hour on two cores) — the cold build time of each in a fresh target dir of its own.
 *
 * Stock codex reaches the proxy through a hand-written [model_providers] table, which is what a
 * user comparing the two would write. Runs alternate (stock, patched, stock, ...) so drift in the
 * machine's speed hits both; the ratio is taken pair by pair and its median quoted.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cargoCommand, rustupRef } from '../build/cargo.ts';
import { contextVersion, makeContext, type Context } from '../lib/context.ts';
import { hostTriple } from '../lib/host.ts';
import { makeBuildPlan } from '../lib/plan.ts';
import { acquire } from '../lib/prepare.ts';
import { syncStockTree } from '../build/sync.ts';
import { findProfile } from '../lib/profiles.ts';
import { REPO_ROOT } from '../lib/project.ts';
import { mirrorEnv } from '../lib/settings.ts';
import { startFakeBackend } from '../e2e/fake-backend.ts';
import { ensureLitellm, startLitellm } from '../e2e/litellm-proxy.ts';
import { cleanEnv, codexHome } from '../e2e/e2e.ts';
import { median, type BenchRow } from './row.ts';

const PROFILE = 'dev';

/** The stock binary, built like ours (same profile env, toolchain and target dir). */
function buildStock(ctx: Context, targetDir?: string): { bin: string; ms: number } {
  const stockDir = syncStockTree(ctx, acquire(ctx));
  // This machine's own row and its route, as the build plans them.
  const { target, route } = makeBuildPlan(ctx, {}).targets[0]!;
  const ours = cargoCommand(ctx, target, findProfile(PROFILE), rustupRef(process.env.RUSTUP_TOOLCHAIN || 'stable'), route, contextVersion(ctx));
  const dir = targetDir ?? ctx.cache.targetDir;
  const env = { ...process.env, ...ours.env, ...mirrorEnv(ctx.mirrors), CARGO_TARGET_DIR: dir };
  // Upstream's own binary name and no --locked: the substitutions (if any) changed the lock.
  const args = ['build', '-p', 'codex-cli', '--bin', 'codex', '--target', target.triple, '--profile', PROFILE];
  const t = performance.now();
  const r = spawnSync('cargo', args, { cwd: path.join(stockDir, ctx.lock.workspace), env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`stock build failed:\n${r.stderr.slice(-1500)}`);
  return { bin: path.join(dir, target.triple, 'debug', 'codex'), ms: performance.now() - t };
}

/**
 * Wall seconds and peak RSS (KiB) of one run, by /usr/bin/time. Asynchronous: the fake backend
 * answers from this same process, so a synchronous spawn would wait for itself forever.
 */
function timedRun(bin: string, args: string[], env: Record<string, string>, cwd: string): Promise<{ wall: number; rssKiB: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%e %M', bin, ...args], { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${path.basename(bin)} ${args.join(' ')} failed (exit ${code}): ${stderr.slice(-600)}`));
      const last = stderr.trim().split('\n').pop()!.split(' ');
      resolve({ wall: Number(last[0]), rssKiB: Number(last[1]) });
    });
  });
}

function strippedSize(bin: string): number | undefined {
  const out = path.join(os.tmpdir(), `cl-bench-strip-${process.pid}-${path.basename(bin)}`);
  const r = spawnSync('strip', ['-o', out, bin]);
  if (r.status !== 0) return undefined;
  const size = fs.statSync(out).size;
  fs.rmSync(out, { force: true });
  return size;
}

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

export async function stockBench(): Promise<BenchRow[] | string> {
  if (!fs.existsSync('/usr/bin/time')) return '/usr/bin/time is missing (apt-get install time)';
  const ctx = makeContext({ gitMirror: [], offline: false });
  const ours = path.join(REPO_ROOT, 'dist', hostTriple(), 'codex-litellm');
  if (!fs.existsSync(ours)) return `no ${ours} (run npx tsx build.ts --profile ${PROFILE})`;
  const info = JSON.parse(fs.readFileSync(path.join(path.dirname(ours), 'BUILDINFO.json'), 'utf8')) as { profile?: string };
  if (info.profile !== PROFILE) return `dist/ holds a ${info.profile} build; this section compares ${PROFILE} builds (npx tsx build.ts --profile ${PROFILE})`;
  let stock: string;
  try {
    stock = buildStock(ctx).bin;
  } catch (e) {
    return `cannot build stock upstream here: ${(e as Error).message}`;
  }
  const rows: BenchRow[] = [];
  const [a, b] = [fs.statSync(stock).size, fs.statSync(ours).size];
  const [sa, sb] = [strippedSize(stock), strippedSize(ours)];
  rows.push({ name: `binary size, ${PROFILE} (stock -> patched)`, value: `${mib(a)} -> ${mib(b)} = ${(b / a).toFixed(3)}x` });
  if (sa && sb)
    rows.push({ name: 'binary size, stripped', value: `${mib(sa)} -> ${mib(sb)} = ${(sb / sa).toFixed(3)}x`, goal: 'within 1.05x', met: sb / sa <= 1.05 });

  const install = await ensureLitellm();
  const backend = await startFakeBackend();
  const key = `sk-bench-${Math.random().toString(36).slice(2)}`;
  const proxy = await startLitellm({ backendUrl: backend.url, masterKey: key, litellmBin: install.litellmBin, numRetries: 0 });
  try {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-bench-stock-'));
    const stockHome = codexHome(
      `model = "fake-model"\nmodel_provider = "lit"\n\n[model_providers.lit]\nname = "LiteLLM"\nbase_url = "${proxy.url}/v1"\nenv_key = "LITELLM_API_KEY"\nwire_api = "responses"\n`,
    );
    const oursHome = codexHome(`[litellm]\napi_base = "${proxy.url}"\nmodel = "fake-model"\n`);
    const args = ['exec', '--skip-git-repo-check', '-C', work, 'What is the capital of France?'];
    const run = (bin: string, home: string): Promise<{ wall: number; rssKiB: number }> =>
      timedRun(bin, args, cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: key }), work);
    // Warm-up: LiteLLM's router, both binaries' page cache, and our discovery cache (a second
    // start then makes no discovery round trip, as every start within the TTL).
    await run(stock, stockHome);
    await run(ours, oursHome);
    const pairs = 9;
    const wall: number[] = [];
    const rss: number[] = [];
    const ws: number[] = [];
    const wo: number[] = [];
    for (let i = 0; i < pairs; i += 1) {
      const s = await run(stock, stockHome);
      const o = await run(ours, oursHome);
      ws.push(s.wall);
      wo.push(o.wall);
      wall.push(o.wall / s.wall);
      rss.push(o.rssKiB / s.rssKiB);
    }
    rows.push(
      { name: `one-shot exec, stock (median of ${pairs})`, value: `${median(ws).toFixed(2)} s` },
      { name: `one-shot exec, patched (median of ${pairs})`, value: `${median(wo).toFixed(2)} s` },
      {
        name: 'one-shot exec wall time, patched / stock (median of pair ratios)',
        value: `${median(wall).toFixed(3)}x`,
        goal: 'within 1.05x',
        met: median(wall) <= 1.05,
      },
      { name: 'peak RSS, patched / stock (median of pair ratios)', value: `${median(rss).toFixed(3)}x`, goal: 'within 1.05x', met: median(rss) <= 1.05 },
    );
  } finally {
    await proxy.stop();
    await backend.close();
  }

  if (process.env.BENCH_COLD === '1') {
    // Each in an empty target dir of its own, one after the other on the same machine.
    const coldStock = fs.mkdtempSync(path.join(ctx.cache.dir, 'bench-cold-stock-'));
    const coldOurs = fs.mkdtempSync(path.join(ctx.cache.dir, 'bench-cold-ours-'));
    try {
      const s = buildStock(ctx, coldStock).ms;
      // This machine's own row and its route, as the build plans them.
      const { target, route } = makeBuildPlan(ctx, {}).targets[0]!;
      const cmd = cargoCommand(ctx, target, findProfile(PROFILE), rustupRef(process.env.RUSTUP_TOOLCHAIN || 'stable'), route, contextVersion(ctx));
      const t = performance.now();
      const r = spawnSync(cmd.program, cmd.args, { cwd: cmd.cwd, env: { ...process.env, ...cmd.env, CARGO_TARGET_DIR: coldOurs }, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`cold patched build failed: ${r.stderr.slice(-800)}`);
      const o = performance.now() - t;
      rows.push({
        name: `cold build, ${PROFILE} (stock -> patched)`,
        value: `${(s / 60000).toFixed(1)} min -> ${(o / 60000).toFixed(1)} min = ${(o / s).toFixed(3)}x`,
        goal: 'within 1.05x',
        met: o / s <= 1.05,
      });
    } finally {
      fs.rmSync(coldStock, { recursive: true, force: true });
      fs.rmSync(coldOurs, { recursive: true, force: true });
    }
  } else {
    rows.push({ name: 'cold build time', value: 'not measured (BENCH_COLD=1 builds both from empty target dirs, ~30 min)' });
  }
  return rows;
}
