/**
 * The LiteLLM layer: per-request work our crate adds, measured in-process (goal: under 1 ms at
 * the median), and the two README smoke tests end to end through the real proxy against the same
 * requests sent straight to the fake backend (a ratio: what the proxy hop costs).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../lib/project.ts';
import { hostTriple } from '../lib/host.ts';
import { startFakeBackend } from '../e2e/fake-backend.ts';
import { ensureLitellm, startLitellm } from '../e2e/litellm-proxy.ts';
import { cleanEnv, codexHome, runBinary } from '../e2e/e2e.ts';
import { median, type BenchRow } from './row.ts';

export async function litellmBench(): Promise<BenchRow[] | string> {
  const ex = spawnSync('cargo', ['run', '-q', '--release', '--locked', '--example', 'overhead'], { cwd: path.join(REPO_ROOT, 'litellm'), encoding: 'utf8' });
  if (ex.status !== 0) return `cargo run --example overhead failed: ${ex.stderr.slice(-500)}`;
  const over = JSON.parse(ex.stdout.trim().split('\n').pop()!) as {
    median_ns: number;
    p99_ns: number;
    runs: number;
    tier0_hit_median_ns: number;
    telemetry_median_ns: number;
    telemetry_p99_ns: number;
  };
  const rows: BenchRow[] = [
    {
      name: `per-request layer work, median of ${over.runs} (lookup+headers+usage)`,
      value: `${(over.median_ns / 1000).toFixed(1)} µs (p99 ${(over.p99_ns / 1000).toFixed(1)} µs)`,
      goal: 'under 1 ms',
      met: over.median_ns < 1_000_000,
    },
    {
      name: 'telemetry per request (record + debug line + totals)',
      value: `${(over.telemetry_median_ns / 1000).toFixed(1)} µs (p99 ${(over.telemetry_p99_ns / 1000).toFixed(1)} µs)`,
      goal: 'under 0.5 ms at the median',
      met: over.telemetry_median_ns < 500_000,
    },
  ];
  const bin = path.join(REPO_ROOT, 'dist', hostTriple(), 'codex-litellm');
  if (!fs.existsSync(bin)) {
    rows.push({ name: 'smoke tests through the proxy', value: `skipped: no ${bin} (run npx tsx build.ts --profile dev)` });
    return rows;
  }
  const install = await ensureLitellm();
  const backend = await startFakeBackend();
  const key = `sk-bench-${Math.random().toString(36).slice(2)}`;
  const proxy = await startLitellm({ backendUrl: backend.url, masterKey: key, litellmBin: install.litellmBin, numRetries: 0 });
  try {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-bench-'));
    fs.writeFileSync(path.join(work, 'file.txt'), 'x\n');
    const smoke = async (baseUrl: string): Promise<number> => {
      const home = codexHome(`[litellm]\napi_base = "${baseUrl}"\nmodel = "fake-model"\n`);
      const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: key });
      const t = performance.now();
      for (const prompt of ['What is the capital of France?', 'List files in current directory']) {
        const r = await runBinary(bin, ['exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', '-C', work, prompt], { env, cwd: work });
        if (r.status !== 0) throw new Error(`exec failed against ${baseUrl}: ${r.stderr.slice(-400)}`);
      }
      return performance.now() - t;
    };
    // Tier 0 against a full round trip: the same streamed request through the proxy.
    const body = JSON.stringify({
      model: 'fake-model',
      stream: true,
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What is the capital of France?' }] }],
    });
    const rtt: number[] = [];
    for (let i = 0; i < 21; i += 1) {
      const t = performance.now();
      const r = await fetch(`${proxy.url}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body,
      });
      await r.text();
      if (i > 0) rtt.push(performance.now() - t);
    }
    const hitMs = over.tier0_hit_median_ns / 1e6;
    const speedup = median(rtt) / hitMs;
    rows.push(
      { name: 'tier-0 hit, in process (median of 2000)', value: `${(hitMs * 1000).toFixed(1)} µs` },
      { name: 'same answer, round trip through LiteLLM (median of 20)', value: `${median(rtt).toFixed(1)} ms` },
      { name: 'tier-0 speed-up over the proxy round trip', value: `${speedup.toFixed(0)}x`, goal: '100x faster', met: speedup >= 100 },
    );
    await smoke(proxy.url); // warm both paths (LiteLLM's first request initialises its router)
    await smoke(backend.url);
    const viaProxy: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      viaProxy.push(await smoke(proxy.url));
      direct.push(await smoke(backend.url));
    }
    const ratio = median(viaProxy) / median(direct);
    rows.push(
      { name: 'two smoke tests through LiteLLM (median of 5)', value: `${(median(viaProxy) / 1000).toFixed(2)} s` },
      { name: 'same two, straight to the fake backend (median of 5)', value: `${(median(direct) / 1000).toFixed(2)} s` },
      { name: 'ratio proxy / direct', value: `${ratio.toFixed(2)}x` },
    );
  } finally {
    await proxy.stop();
    await backend.close();
  }
  return rows;
}
