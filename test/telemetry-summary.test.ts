/** scripts/telemetry/summary.ts against a generated telemetry directory (rotations, bad lines). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../scripts/lib/errors.ts';
import { configuredLocation, formatSummary, readRecords, run, summarize, type Summary } from '../scripts/telemetry/summary.ts';
import { REPO } from './helpers/fixture.ts';

/** A line as telemetry.rs writes it (all RequestRecord fields). */
function line(r: {
  seq: number;
  session: string;
  ts: string;
  model: string;
  status?: string;
  in?: number;
  cached?: number;
  out?: number;
  reasoning?: number;
  cost?: number | null;
  tier?: string | null;
}): string {
  return JSON.stringify({
    ts: r.ts,
    session_id: r.session,
    seq: r.seq,
    model: r.model,
    wire_api: 'responses',
    litellm_model_id: 'deploy-1',
    api_base: 'https://api.example.com',
    call_id: `call-${r.seq}`,
    latency_ms: 100,
    status: r.status ?? 'ok',
    http_status: r.status === 'error' ? 500 : 200,
    tokens_in: r.in ?? 0,
    tokens_cached: r.cached ?? 0,
    tokens_out: r.out ?? 0,
    tokens_reasoning: r.reasoning ?? 0,
    cost_usd: r.cost ?? null,
    cost_source: r.cost == null ? 'none' : 'header',
    cache_tier: r.tier ?? null,
    tier0_key: 'ab'.repeat(32),
    error: r.status === 'error' ? 'the LiteLLM proxy returned HTTP 500' : null,
  });
}

const R = [
  line({
    seq: 1,
    session: 's-a',
    ts: '2025-01-01T10:00:00.000Z',
    model: 'gpt-4o',
    in: 1000,
    cached: 400,
    out: 100,
    reasoning: 20,
    cost: 0.001,
    tier: 'provider',
  }),
  line({ seq: 2, session: 's-a', ts: '2025-01-01T10:01:00.000Z', model: 'gpt-4o', in: 500, out: 50, cost: 0.0005, tier: 'tier0' }),
  line({ seq: 3, session: 's-a', ts: '2025-01-01T10:02:00.000Z', model: 'claude', status: 'error' }),
  line({ seq: 1, session: 's-b', ts: '2025-01-02T09:00:00.000Z', model: 'claude', in: 2000, cached: 1000, out: 200, cost: 0.004, tier: 'litellm' }),
  line({ seq: 2, session: 's-b', ts: '2025-01-02T09:05:00.000Z', model: 'gpt-4o', in: 100, out: 10 }),
];

let root: string;
let dir: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-telemetry-'));
  dir = path.join(root, 'litellm', 'telemetry');
  fs.mkdirSync(dir, { recursive: true });
  // Oldest in .2, then .1, then the live file; bad lines spread over them.
  fs.writeFileSync(path.join(dir, 'sessions.jsonl.2'), `${R[0]}\n${R[1]}\n`);
  fs.writeFileSync(path.join(dir, 'sessions.jsonl.1'), `${R[2]}\n{oops\n`);
  fs.writeFileSync(
    path.join(dir, 'sessions.jsonl'),
    `${R[3]}\n\n[1,2]\n{"session_id":5,"model":"m"}\n${R[4]}\n{"session_id":"x","model":"m","tokens_in":"many"}\n`,
  );
  // Not part of the session log.
  fs.writeFileSync(path.join(dir, 'sessions.jsonl.tmp'), `${R[0]}\n`);
  fs.writeFileSync(path.join(dir, 'debug.jsonl'), '{"event":"x"}\n');
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('telemetry summary', () => {
  it('reads rotations oldest first and counts bad lines', () => {
    const read = readRecords(dir, 'sessions.jsonl');
    expect(read.files.map((f) => path.basename(f))).toEqual(['sessions.jsonl.2', 'sessions.jsonl.1', 'sessions.jsonl']);
    expect(read.records.map((r) => `${r.session_id}#${r.seq}`)).toEqual(['s-a#1', 's-a#2', 's-a#3', 's-b#1', 's-b#2']);
    expect(read.badLines).toBe(4);
  });

  it('computes sessions, models, cache hit rates and totals', () => {
    const s = summarize(dir, readRecords(dir, 'sessions.jsonl'));
    expect(s.sessions).toHaveLength(2);
    const [a, b] = s.sessions;
    expect(a).toMatchObject({ id: 's-a', first: '2025-01-01T10:00:00.000Z', last: '2025-01-01T10:02:00.000Z', requests: 3, errors: 1 });
    expect(a?.costUsd).toBeCloseTo(0.0015, 12);
    expect(b).toMatchObject({ id: 's-b', first: '2025-01-02T09:00:00.000Z', last: '2025-01-02T09:05:00.000Z', requests: 2, errors: 0 });
    expect(b?.costUsd).toBeCloseTo(0.004, 12);

    expect(s.models.map((m) => m.model)).toEqual(['gpt-4o', 'claude']);
    const [gpt, claude] = s.models;
    expect(gpt).toMatchObject({ requests: 3, errors: 0, tokensIn: 1600, tokensCached: 400, tokensOut: 160, tokensReasoning: 20 });
    expect(gpt?.costUsd).toBeCloseTo(0.0015, 12);
    expect(claude).toMatchObject({ requests: 2, errors: 1, tokensIn: 2000, tokensCached: 1000, tokensOut: 200, tokensReasoning: 0 });
    expect(claude?.costUsd).toBeCloseTo(0.004, 12);

    expect(s.cacheHits).toEqual({ tier0: 1, litellm: 1, provider: 1 });
    expect(s.cacheHitRates).toEqual({ tier0: 20, litellm: 20, provider: 20 });
    expect(s.totals).toMatchObject({
      sessions: 2,
      requests: 5,
      errors: 1,
      tokensIn: 3600,
      tokensCached: 1400,
      tokensOut: 360,
      tokensReasoning: 20,
      uncostedRequests: 1,
    });
    expect(s.totals.costUsd).toBeCloseTo(0.0055, 12);
    expect(s.badLines).toBe(4);
  });

  it('prints a readable report and JSON', () => {
    const text = run(['--dir', dir]);
    expect(text).toContain('(3 files, 5 records)');
    expect(text).toContain('Skipped 4 lines that are not records.');
    expect(text).toContain('Sessions: 2');
    expect(text).toMatch(/s-a\s+2025-01-01T10:00:00.000Z\s+2025-01-01T10:02:00.000Z\s+3\s+1\s+\$0\.001500/);
    expect(text).toMatch(/gpt-4o\s+3\s+0\s+1,600\s+400\s+160\s+\$0\.001500/);
    expect(text).toContain('Cache hits: tier0 20.0% (1), litellm 20.0% (1), provider 20.0% (1)');
    expect(text).toContain('5 requests, 1 error');
    expect(text).toContain('1 request without a known cost');

    const json = JSON.parse(run(['--dir', dir, '--json'])) as Summary;
    expect(json.totals.requests).toBe(5);
    expect(json.cacheHitRates.tier0).toBe(20);
    expect(json.dir).toBe(dir);
  });

  it('finds the directory through CODEX_HOME and config.toml', () => {
    expect(JSON.parse(run(['--json'], { CODEX_HOME: root })).totals.requests).toBe(5);
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-telemetry-home-'));
    try {
      fs.mkdirSync(path.join(home, 'elsewhere'));
      fs.writeFileSync(path.join(home, 'elsewhere', 'mine.jsonl'), `${R[0]}\n`);
      fs.writeFileSync(
        path.join(home, 'config.toml'),
        '[litellm]\napi_base = "http://x"\n\n[telemetry]\ndir = "elsewhere"  # relative to CODEX_HOME\nlogs.session.file = "mine.jsonl"\n',
      );
      const s = JSON.parse(run(['--json'], { CODEX_HOME: home })) as Summary;
      expect(s.totals.requests).toBe(1);
      expect(s.dir).toBe(path.join(home, 'elsewhere'));
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
    expect(configuredLocation('[telemetry.logs.session]\nfile = \'a.jsonl\'\n[telemetry]\ndir = "~/t"\n')).toEqual({ file: 'a.jsonl', dir: '~/t' });
    expect(configuredLocation('[other]\ndir = "no"\n')).toEqual({});
  });

  it('says what to set when the directory is missing', () => {
    const missing = path.join(root, 'nope');
    expect(() => run(['--dir', missing])).toThrow(UserError);
    try {
      run(['--dir', missing]);
    } catch (e) {
      expect((e as UserError).message).toContain(`${missing} does not exist`);
      expect((e as UserError).hint).toMatch(/--dir DIR.*CODEX_HOME/);
    }
    expect(() => run(['--bogus'])).toThrow(/unknown argument/);
    expect(() => run(['--dir'])).toThrow(/needs a value/);
  });

  it('reports an empty directory without failing', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-telemetry-empty-'));
    try {
      const s = summarize(empty, readRecords(empty, 'sessions.jsonl'));
      expect(s.totals.requests).toBe(0);
      expect(s.cacheHitRates).toEqual({ tier0: 0, litellm: 0, provider: 0 });
      expect(formatSummary(s)).toContain('No requests recorded yet.');
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it('runs as a command', () => {
    const tsx = path.join(REPO, 'node_modules', '.bin', 'tsx');
    const script = path.join(REPO, 'scripts', 'telemetry', 'summary.ts');
    const ok = spawnSync(tsx, [script, '--dir', dir, '--json'], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as Summary).totals.requests).toBe(5);
    const missing = spawnSync(tsx, [script, '--dir', path.join(root, 'nope')], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('does not exist');
    expect(missing.stderr).toContain('CODEX_HOME');
  });
});
