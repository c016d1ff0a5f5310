/**
 * Our Rust crate's own tests (hermetic: fake HTTP servers), plus its discovery client against the
 * real LiteLLM proxy (LITELLM_TEST_URL), which this suite starts in front of the fake backend.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeBackend, type FakeBackend } from '../scripts/e2e/fake-backend.ts';
import { ensureLitellm, startLitellm, type LitellmProxy } from '../scripts/e2e/litellm-proxy.ts';
import { REPO } from './helpers/fixture.ts';

let backend: FakeBackend;
let proxy: LitellmProxy;
const masterKey = `sk-crate-${Math.random().toString(36).slice(2)}`;

beforeAll(async () => {
  const install = await ensureLitellm();
  backend = await startFakeBackend();
  proxy = await startLitellm({ backendUrl: backend.url, masterKey, litellmBin: install.litellmBin, numRetries: 0 });
});

afterAll(async () => {
  await proxy?.stop();
  await backend?.close();
});

function cargoTest(args: string[], extraEnv: Record<string, string> = {}): { status: number; out: string } {
  const r = spawnSync('cargo', ['test', '--locked', '--color', 'never', ...args], {
    cwd: path.join(REPO, 'litellm'),
    env: Object.fromEntries(Object.entries({ ...process.env, ...extraEnv }).filter(([, v]) => v !== undefined && v !== '')),
    encoding: 'utf8',
    timeout: 1_200_000,
  });
  return { status: r.status ?? 1, out: `${r.stdout}\n${r.stderr}` };
}

describe('codex-litellm-core', () => {
  it('passes its hermetic cargo test suites', () => {
    const r = cargoTest([], { LITELLM_TEST_URL: '' });
    expect(r.status, r.out.slice(-4000)).toBe(0);
    const passed = [...r.out.matchAll(/test result: ok\. (\d+) passed; (\d+) failed/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(passed).toBeGreaterThanOrEqual(60);
  }, 1_200_000);

  it('discovers models, limits and prices from the real LiteLLM proxy', () => {
    const r = cargoTest(['--test', 'live_proxy', '--', '--nocapture'], { LITELLM_TEST_URL: proxy.url, LITELLM_TEST_KEY: masterKey });
    expect(r.status, r.out.slice(-4000)).toBe(0);
    // The live test really talked to the proxy (without the variable it only prints a note).
    expect(r.out).toMatch(/live proxy: status=/);
    expect(r.out).not.toMatch(/skipping the live LiteLLM proxy test/);
  }, 600_000);
});
