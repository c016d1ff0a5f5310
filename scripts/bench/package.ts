/**
 * Packaging cost: every format for this machine's target (release archive, npm platform and main
 * packages, .deb; Termux and OpenWrt formats belong to other targets) from the real binary in
 * dist/, against plain `gzip -9` of the same binary (goal: within 1.5x), plus each package's size
 * against gzip -9's. Runs alternate so load from other processes hits both sides alike.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeContext } from '../lib/context.ts';
import { makePlan, type Plan } from '../lib/plan.ts';
import { packageTargets, type PackageResult } from '../package/command.ts';
import { median, type BenchRow } from './row.ts';

const RUNS = 3;

function gzip9(file: string): { ms: number; bytes: number } {
  const t = performance.now();
  const r = spawnSync('sh', ['-c', 'gzip -9 -c "$1" | wc -c', 'sh', file], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`gzip -9 failed: ${r.stderr}`);
  return { ms, bytes: Number(r.stdout.trim()) };
}

const mib = (n: number): string => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

export async function packageBench(): Promise<BenchRow[] | string> {
  const ctx = makeContext({ gitMirror: [], offline: true });
  // This machine's row, as `package` with no --target takes it (or why there is none).
  let plan: Plan;
  try {
    plan = makePlan(ctx, {});
  } catch (e) {
    return (e as Error).message;
  }
  const { target: host, binary: bin } = plan.targets[0]!;
  if (!fs.existsSync(bin)) return `no binary at ${bin}; build it first (npx tsx build.ts --profile dev)`;
  if (spawnSync('gzip', ['--version']).status !== 0) return 'gzip is not installed';
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-bench-package-'));
  const env = { ...process.env, SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH ?? '1767225600' };
  try {
    const ours: number[] = [];
    const theirs: number[] = [];
    let gz = { ms: 0, bytes: 0 };
    let last: PackageResult | undefined;
    for (let i = 0; i < RUNS; i += 1) {
      gz = gzip9(bin);
      theirs.push(gz.ms);
      const t = performance.now();
      last = await packageTargets(ctx, plan, { outDir: out, env });
      ours.push(performance.now() - t);
    }
    const r = last!;
    const ratio = median(ours) / median(theirs);
    const formats = r.artifacts.filter((a) => a.kind !== 'sums');
    const rows: BenchRow[] = [
      { name: `binary ${path.relative(process.cwd(), bin)}`, value: mib(fs.statSync(bin).size) },
      { name: `gzip -9 of the binary (median of ${RUNS})`, value: `${(median(theirs) / 1000).toFixed(2)} s, ${mib(gz.bytes)}` },
      { name: `package: ${formats.length} files for ${host.alias} (median of ${RUNS})`, value: `${(median(ours) / 1000).toFixed(2)} s` },
      { name: 'ratio package (all formats) / gzip -9', value: `${ratio.toFixed(2)}x`, goal: 'within 1.5x', met: ratio <= 1.5 },
      ...Object.entries(r.timings).map(([phase, ms]) => ({ name: `  last run: ${phase}`, value: `${(ms / 1000).toFixed(2)} s` })),
    ];
    for (const a of formats) rows.push({ name: `size ${a.name}`, value: `${mib(a.bytes)} (${(a.bytes / gz.bytes).toFixed(3)}x gzip -9)` });
    return rows;
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}
