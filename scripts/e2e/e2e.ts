/**
 * `npm run e2e`: the heavy check. The pinned upstream (from a local mirror: --upstream or the
 * user file), our series, a real host build through the orchestrator, and the real binary
 * against a real LiteLLM proxy in front of the project's fake OpenAI-compatible backend.
 *
 *   npm run e2e                               dev profile, sources from ~/.config/codex-litellm/build.json
 *   npm run e2e -- --upstream /srv/codex.git --git-mirror https://github.com/nornagon/ratatui=/srv/ratatui.git
 *   npm run e2e -- --no-substitute            build with the real crossterm / tokio-tungstenite forks
 *   npm run e2e -- --target aarch64-unknown-linux-musl --toolchain /usr/bin
 *                                             one release target, cross-built, run under qemu, packaged (target.ts)
 *
 * Upstream Codex speaks only the Responses API, so every model call is a POST /v1/responses to
 * LiteLLM. The proxy serves two routes to the fake backend: `fake-model` through `custom_openai/`
 * (LiteLLM bridges Responses onto the backend's chat completions) and `fake-native` through
 * `openai/` (native /v1/responses pass-through); the agent checks run on both.
 *
 * Faults in the middle of a session (a revoked key, rate limits, server errors, the proxy gone or
 * killed mid-answer, an unreadable event, a renamed model, the session budget) run against a
 * LiteLLM of their own, in exec and in the TUI: see e2e-faults.ts.
 *
 * Prints one line per check and a closing `N passed, N failed` line; exits non-zero on failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describePin, readLock } from '../lib/lockfile.ts';
import { versionInfo } from '../lib/version.ts';
import { lineReporter, outputMode } from '../lib/progress.ts';
import { projectPaths, REPO_ROOT } from '../lib/project.ts';
import { hostTriple } from '../lib/host.ts';
import {
  CREATED_ANSWER,
  HELLO_FILE,
  HELLO_LINE,
  PARIS_ANSWER,
  shellCall,
  startFakeBackend,
  type FakeBackend,
  type RecordedRequest,
  type ToolInfo,
} from './fake-backend.ts';
import { ensureLitellm, startCountingForwarder, startLitellm, type CountingForwarder, type LitellmModel, type LitellmProxy } from './litellm-proxy.ts';
import { startRedis } from './redis.ts';
import { faultChecks } from './e2e-faults.ts';
import { runTargetE2E, splitTargetArgs } from './target.ts';
import { COMPOSER, screenWith, START_SCREEN, Tui } from './tui.ts';

export interface Outcome {
  name: string;
  ok: boolean;
  ms: number;
  detail?: string;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run the binary with a timeout; never through a shell. */
export function runBinary(bin: string, args: string[], opts: { env: Record<string, string>; cwd: string; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** A clean environment for the binary: no keys or endpoints of the caller leak in. */
export function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  // RUST_BACKTRACE is kept on purpose: errors meant for users must read cleanly even with it set.
  for (const k of ['PATH', 'HOME', 'LANG', 'TERM', 'TMPDIR', 'RUST_BACKTRACE']) if (process.env[k]) env[k] = process.env[k]!;
  return { ...env, RUST_LOG: 'error', ...extra };
}

export function codexHome(config: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-e2e-home-'));
  fs.writeFileSync(path.join(dir, 'config.toml'), config);
  return dir;
}

/** JSONL events of `exec --json`. */
export function events(stdout: string): Array<Record<string, any>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, any>;
      } catch {
        return {};
      }
    });
}

export function agentText(evs: Array<Record<string, any>>): string {
  return evs
    .filter((e) => e.type === 'item.completed' && e.item?.type === 'agent_message')
    .map((e) => String(e.item.text))
    .join('\n');
}

export function turnUsage(evs: Array<Record<string, any>>): { input_tokens: number; output_tokens: number; cached_input_tokens: number } | undefined {
  return evs
    .filter((e) => e.type === 'turn.completed')
    .map((e) => e.usage)
    .pop();
}

// biome-ignore lint/suspicious/noConfusingVoidType: a check returns a detail line or nothing at all
export type Check = (name: string, fn: () => Promise<string | void>) => Promise<void>;
export type Assert = (cond: unknown, msg: string) => void;

/**
 * The proxy's models (both proxies serve the same list). `fake-model` and `fake-native` are the
 * two routes every agent check runs on; `fake-tools` is the setup wizard's pick; `fake-cached` is
 * the one whose backend reports cached prompt tokens (CACHED_TOKENS), priced explicitly.
 */
export const E2E_MODELS: readonly LitellmModel[] = [
  { name: 'fake-model', backendModel: 'fake-model', provider: 'custom_openai' },
  { name: 'fake-native', provider: 'openai' },
  { name: 'fake-tools', provider: 'openai' },
  { name: 'fake-cached', provider: 'openai', inputCostPerToken: 1e-6, outputCostPerToken: 2e-6, cacheReadInputTokenCost: 5e-7 },
];
/** Cached prompt tokens the backend reports for `fake-cached` (capped at the prompt's tokens). */
export const CACHED_TOKENS = 2000;

/** The two ways LiteLLM serves /v1/responses, and the backend path each one reaches. */
export const ROUTES = [
  { model: 'fake-model', via: 'custom_openai/', backendPath: '/v1/chat/completions' },
  { model: 'fake-native', via: 'openai/', backendPath: '/v1/responses' },
] as const;

/** What codex-litellm says about `wire_api = "chat"` (see litellm/crates/core/src/config.rs). */
const WIRE_API_GONE = 'the chat-completions wire API is gone';
/** Tool types (and names) that must never reach a backend behind LiteLLM. */
const FOREIGN_TOOLS = ['custom', 'web_search', 'tool_search'];

interface SessionLine {
  session_id: string;
  model: string;
  status: string;
  cache_tier: string | null;
  tokens_in: number;
  tokens_cached: number;
  tokens_out: number;
  cost_usd: number | null;
  cost_source?: string;
  tier0_key: string;
  error: string | null;
}

function sessionLines(dir: string): SessionLine[] {
  const file = path.join(dir, 'sessions.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SessionLine);
}

function dirBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
}

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The model calls the backend received (LiteLLM also GETs /v1/models on its own). */
function posts(backend: FakeBackend): RecordedRequest[] {
  return backend.requests.filter((q) => q.method === 'POST');
}

function randomAlnum(n: number): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(n)].map((b) => chars[b % chars.length]).join('');
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

/** `exec --json` with every approval and the sandbox off, in `work`. */
function execArgs(work: string): string[] {
  return ['exec', '--json', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', '-C', work];
}

/**
 * The agent on one route: a plain answer, the shell tool, an apply_patch edit, and the usage of
 * every model request in the session JSONL. The binary talks to the proxy through the counting
 * forwarder, which sees the tools exactly as Codex offered them (the bridge would turn a freeform
 * `custom` tool into a function tool before the backend could tell).
 */
async function routeChecks(
  check: Check,
  assert: Assert,
  bin: string,
  backend: FakeBackend,
  fwd: CountingForwarder,
  masterKey: string,
  route: (typeof ROUTES)[number],
): Promise<void> {
  const tag = `[${route.model} via ${route.via}]`;
  const tdir = tmp('cl-e2e-tel-');
  const home = codexHome(`[litellm]\napi_base = "${fwd.url}"\nmodel = "${route.model}"\n\n[telemetry]\ndir = "${tdir}"\n`);
  const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
  const work = tmp('cl-e2e-work-');
  const marker = `only-here-${Math.random().toString(36).slice(2, 8)}.txt`;
  fs.writeFileSync(path.join(work, marker), 'x\n');
  let modelCalls = 0;

  await check(`${tag} "What is the capital of France?" prints the scripted answer with usage; the backend saw ${route.backendPath}`, async () => {
    backend.reset();
    fwd.reset();
    const r = await runBinary(bin, [...execArgs(work), 'What is the capital of France?'], { env, cwd: work });
    modelCalls += posts(backend).length;
    const evs = events(r.stdout);
    assert(r.status === 0, `exit ${r.status}: ${r.stderr.slice(-800)}`);
    assert(agentText(evs).includes(PARIS_ANSWER), `answer was ${JSON.stringify(agentText(evs))}`);
    const usage = turnUsage(evs);
    assert(usage && usage.input_tokens > 0 && usage.output_tokens > 0, `no token usage in turn.completed: ${JSON.stringify(usage)}`);
    const seen = posts(backend).map((q) => q.path);
    assert(seen.length > 0 && seen.every((p) => p === route.backendPath), `the backend saw ${seen.join(', ') || 'nothing'}, expected ${route.backendPath}`);
    const sent = fwd.requests.filter((q) => q.method === 'POST').map((q) => q.path);
    assert(sent.length > 0 && sent.every((p) => p === '/v1/responses'), `Codex sent ${sent.join(', ') || 'nothing'} to LiteLLM, expected only /v1/responses`);
    return `usage in=${usage!.input_tokens} out=${usage!.output_tokens}, backend ${route.backendPath}`;
  });

  await check(`${tag} "List files in current directory" runs the shell tool and names a file only the workspace has`, async () => {
    backend.reset();
    const r = await runBinary(bin, [...execArgs(work), 'List files in current directory'], { env, cwd: work });
    modelCalls += posts(backend).length;
    const evs = events(r.stdout);
    assert(r.status === 0, `exit ${r.status}: ${r.stderr.slice(-800)}`);
    assert(
      evs.some((e) => e.type === 'item.completed' && e.item?.type === 'command_execution'),
      `no command was executed; events: ${evs.map((e) => e.item?.type ?? e.type).join(', ')}`,
    );
    assert(agentText(evs).includes(marker), `final answer does not name ${marker}: ${JSON.stringify(agentText(evs))}`);
    const calls = posts(backend);
    assert(calls.length >= 2, `expected a tool call and a follow-up, saw ${calls.length} request(s)`);
    assert(JSON.stringify(calls[calls.length - 1]!.body).includes(marker), 'the tool output did not travel back through LiteLLM');
    const usage = turnUsage(evs);
    assert(usage && usage.input_tokens > 0, `no token usage in turn.completed: ${JSON.stringify(usage)}`);
    return `${shellCall(calls[0]!.tools).name} tool, ${calls.length} model calls, usage in=${usage!.input_tokens}`;
  });

  await check(`${tag} "Create hello.txt" makes an apply_patch edit; Codex offers and the backend gets only function tools`, async () => {
    backend.reset();
    fwd.reset();
    const target = path.join(work, HELLO_FILE);
    fs.rmSync(target, { force: true });
    const r = await runBinary(bin, [...execArgs(work), `Create ${HELLO_FILE} saying hello`], { env, cwd: work });
    modelCalls += posts(backend).length;
    const evs = events(r.stdout);
    assert(r.status === 0, `exit ${r.status}: ${r.stderr.slice(-800)}`);
    const calls = posts(backend);
    const foreign = (tools: ToolInfo[]): string[] => [
      ...new Set(tools.filter((t) => t.type !== 'function' || FOREIGN_TOOLS.includes(t.name ?? '')).map((t) => JSON.stringify(t))),
    ];
    const offered = fwd.requests.filter((q) => q.method === 'POST').flatMap((q) => q.tools);
    assert(offered.length > 0, 'the forwarder saw no tools offered to LiteLLM');
    assert(foreign(offered).length === 0, `Codex offered non-function tools to LiteLLM: ${foreign(offered).join(', ')}`);
    const tools = calls.flatMap((q) => q.tools);
    assert(foreign(tools).length === 0, `non-function tools reached the backend: ${foreign(tools).join(', ')}`);
    assert(fs.existsSync(target), `${HELLO_FILE} was not created; answer: ${JSON.stringify(agentText(evs))}`);
    const content = fs.readFileSync(target, 'utf8');
    assert(content === `${HELLO_LINE}\n` || content.trim() === HELLO_LINE, `${HELLO_FILE} holds ${JSON.stringify(content)}`);
    assert(agentText(evs).includes(CREATED_ANSWER), `final answer was ${JSON.stringify(agentText(evs))}`);
    const names = [...new Set(tools.map((t) => t.name))];
    const change = evs.some((e) => e.type === 'item.completed' && e.item?.type === 'file_change') ? 'a file_change item' : 'no file_change item';
    return `${calls.length} model calls, ${change}; tools offered: ${names.join(', ')}`;
  });

  await check(`${tag} every model request is in the session JSONL with its usage`, async () => {
    const lines = sessionLines(tdir);
    assert(lines.length === modelCalls, `${lines.length} session record(s) for ${modelCalls} backend call(s)`);
    const bad = lines.filter((l) => l.status !== 'ok' || l.model !== route.model || !(l.tokens_in > 0) || !(l.tokens_out > 0));
    assert(bad.length === 0, `records without usage or of another model: ${JSON.stringify(bad).slice(0, 800)}`);
    return `${lines.length} records, ${lines.reduce((n, l) => n + l.tokens_in, 0)} tokens in, ${lines.reduce((n, l) => n + l.tokens_out, 0)} out`;
  });
}

/**
 * Against the proxy WITHOUT a response cache: the local tier-0 cache answers a repeat with no
 * request to LiteLLM at all (counted by a forwarder in front of it); the debug telemetry never
 * holds a planted key; and a request whose backend reports cached tokens is priced right.
 */
async function plainProxyChecks(
  check: Check,
  assert: Assert,
  bin: string,
  backend: FakeBackend,
  proxyUrl: string,
  fwd: CountingForwarder,
  masterKey: string,
): Promise<void> {
  await check('[litellm.cache.local] answers a repeat with 0 requests to LiteLLM and 0 to the backend (proxy without a cache)', async () => {
    const tdir = tmp('cl-e2e-tel-');
    const home = codexHome(
      `[litellm]\napi_base = "${fwd.url}"\nmodel = "fake-model"\n\n[litellm.cache.local]\nenabled = true\n\n[telemetry]\ndir = "${tdir}"\n`,
    );
    const work = tmp('cl-e2e-work-');
    const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
    const args = [...execArgs(work), 'What is the capital of France? (tier-0 probe)'];
    backend.reset();
    fwd.reset();
    const first = await runBinary(bin, args, { env, cwd: work });
    assert(first.status === 0, `first run: exit ${first.status}: ${first.stderr.slice(-500)}`);
    const firstCalls = fwd.posts('/v1/responses');
    assert(
      firstCalls >= 1 && posts(backend).length >= 1,
      `the first run did not go through the forwarder to the backend (${firstCalls} via the forwarder, ${posts(backend).length} at the backend)`,
    );
    backend.reset();
    fwd.reset();
    const second = await runBinary(bin, args, { env, cwd: work });
    assert(second.status === 0, `second run: exit ${second.status}: ${second.stderr.slice(-500)}`);
    assert(agentText(events(second.stdout)).includes(PARIS_ANSWER), `the tier-0 answer is not the scripted one: ${second.stdout.slice(-500)}`);
    assert(fwd.posts('/v1/responses') === 0, `LiteLLM got ${fwd.posts('/v1/responses')} model request(s)`);
    assert(posts(backend).length === 0, `the backend got ${posts(backend).length} model request(s)`);
    const lines = sessionLines(tdir);
    assert(lines[lines.length - 1]?.cache_tier === 'tier0', `tiers: ${lines.map((l) => l.cache_tier).join(', ')}`);
    return `first run: ${firstCalls} model request(s) to LiteLLM; second: none (${fwd.requests.length} other request(s) to the proxy)`;
  });

  await check('a second exec within the discovery TTL asks the proxy nothing but the model request', async () => {
    const home = codexHome(`[litellm]\napi_base = "${fwd.url}"\nmodel = "fake-model"\n`);
    const work = tmp('cl-e2e-work-');
    const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
    const args = [...execArgs(work), 'What is the capital of France? (discovery probe)'];
    fwd.reset();
    const first = await runBinary(bin, args, { env, cwd: work });
    assert(first.status === 0, `first run: exit ${first.status}: ${first.stderr.slice(-500)}`);
    const gets = (): string[] => fwd.requests.filter((q) => q.method === 'GET').map((q) => q.path);
    const firstGets = gets();
    assert(firstGets.includes('/v1/models') && firstGets.includes('/model/info'), `the first run did not discover: ${firstGets.join(', ')}`);
    assert(fs.existsSync(path.join(home, 'litellm', 'models.json')), 'no discovery cache was written');
    fwd.reset();
    const second = await runBinary(bin, args, { env, cwd: work });
    assert(second.status === 0, `second run: exit ${second.status}: ${second.stderr.slice(-500)}`);
    assert(gets().length === 0, `the second run asked the proxy: ${gets().join(', ')}`);
    assert(fwd.posts('/v1/responses') >= 1, 'the second run made no model request');
    // A model the cache does not know makes the next start ask again (and then refuse it clearly).
    fwd.reset();
    const renamed = await runBinary(bin, [...execArgs(work), '-m', 'fake-renamed', 'hi'], { env, cwd: work });
    assert(
      renamed.status !== 0 && /fake-renamed/.test(renamed.stderr) && gets().includes('/v1/models'),
      `unknown model: exit ${renamed.status}, asked ${gets().join(', ')}: ${renamed.stderr.slice(-300)}`,
    );
    return `first run: ${firstGets.join(' + ')}; second run: no discovery request; an unknown model re-asks`;
  });

  await check('debug telemetry redacts a key planted in the prompt and in tool output, and never holds the master key', async () => {
    const tdir = tmp('cl-e2e-tel-');
    const home = codexHome(
      `[litellm]\napi_base = "${proxyUrl}"\nmodel = "fake-model"\n\n[telemetry]\ndir = "${tdir}"\n\n[telemetry.logs.debug]\nenabled = true\n`,
    );
    const work = tmp('cl-e2e-work-');
    const secret = `sk-live-${randomAlnum(32)}`;
    fs.writeFileSync(path.join(work, secret), 'x\n'); // `ls` prints it: the tool output carries the key
    const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
    backend.reset();
    const r = await runBinary(bin, [...execArgs(work), `List files in current directory. My key is ${secret}, keep it safe.`], { env, cwd: work });
    assert(r.status === 0, `exit ${r.status}: ${r.stderr.slice(-800)}`);
    const calls = posts(backend);
    assert(
      calls.length >= 2 && count(JSON.stringify(calls[calls.length - 1]!.body), secret) >= 2,
      'the key did not travel in both the prompt and the tool output (the check would prove nothing)',
    );
    const files = filesUnder(tdir);
    assert(
      files.some((f) => path.basename(f) === 'debug.jsonl'),
      `no debug log was written: ${files.map((f) => path.relative(tdir, f)).join(', ')}`,
    );
    let redacted = 0;
    for (const f of files) {
      const text = fs.readFileSync(f, 'utf8');
      assert(!text.includes(secret), `${path.relative(tdir, f)} holds the planted key`);
      assert(!text.includes(masterKey), `${path.relative(tdir, f)} holds the master key`);
      redacted += count(text, '[REDACTED]');
    }
    assert(redacted > 0, 'no [REDACTED] mark anywhere: the key-shaped text was not recognised');
    return `${files.length} file(s), ${redacted} [REDACTED] mark(s), neither key present`;
  });

  await check('a request with cached tokens is recorded with tokens_cached > 0, a cost_source, and its cost', async () => {
    const tdir = tmp('cl-e2e-tel-');
    const home = codexHome(`[litellm]\napi_base = "${fwd.url}"\nmodel = "fake-cached"\n\n[telemetry]\ndir = "${tdir}"\n`);
    const work = tmp('cl-e2e-work-');
    const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
    fwd.reset();
    const r = await runBinary(bin, [...execArgs(work), 'What is the capital of France? (cached cost probe)'], { env, cwd: work });
    assert(r.status === 0, `exit ${r.status}: ${r.stderr.slice(-800)}`);
    const line = sessionLines(tdir).pop();
    assert(line, 'no session record');
    assert(line!.tokens_cached > 0, `tokens_cached ${line!.tokens_cached} (the backend reported up to ${CACHED_TOKENS}): ${JSON.stringify(line)}`);
    assert(typeof line!.cost_source === 'string' && line!.cost_source !== 'none', `cost_source ${JSON.stringify(line!.cost_source)}`);
    assert(typeof line!.cost_usd === 'number', `no cost: ${JSON.stringify(line)}`);
    const cost = line!.cost_usd!;
    const prices = (line!.tokens_in - line!.tokens_cached) * 1e-6 + line!.tokens_cached * 5e-7 + line!.tokens_out * 2e-6;
    const answer = fwd.requests.filter((q) => q.method === 'POST' && q.path === '/v1/responses').pop();
    const litellm = line!.cost_source === 'header' ? answer?.headerCost : line!.cost_source === 'usage' ? answer?.usageCost : undefined;
    const tokens = `${line!.tokens_cached} of ${line!.tokens_in} in cached, ${line!.tokens_out} out`;
    if (line!.cost_source === 'prices') {
      assert(Math.abs(cost - prices) < 1e-9, `cost ${cost} != ${prices} from tokens x prices (${tokens})`);
      return `cost_source prices: $${cost} = tokens x prices (${tokens})`;
    }
    assert(
      litellm !== undefined,
      `cost_source ${line!.cost_source}, but LiteLLM's answer carried no such figure (header ${answer?.headerCost}, usage.cost ${answer?.usageCost})`,
    );
    assert(Math.abs(cost - litellm!) < 1e-9, `cost ${cost} != LiteLLM's ${litellm} (${line!.cost_source}); tokens x prices would be ${prices}`);
    return `cost_source ${line!.cost_source}: $${cost} = LiteLLM's figure $${litellm}; tokens x prices $${prices} (${Math.abs(prices - cost) < 1e-9 ? 'agrees' : 'differs'}; ${tokens})`;
  });
}

/**
 * Against a LiteLLM proxy with a Redis cache: a repeated exec is a LiteLLM cache hit (tier 1)
 * recorded in the session JSONL; `status` reports usage, hit rates and cost at the fake
 * backend's prices; the telemetry directory stays under its cap through a long run.
 */
async function cachingChecks(check: Check, assert: Assert, bin: string, backend: FakeBackend, litellmBin: string, masterKey: string): Promise<void> {
  const redis = await startRedis();
  let cached: LitellmProxy | undefined;
  try {
    cached = await startLitellm({
      backendUrl: backend.url,
      masterKey,
      litellmBin,
      numRetries: 0,
      models: E2E_MODELS,
      cache: { type: 'redis', redisPort: redis.port },
    });
    const url = cached.url;
    // The native route: LiteLLM marks its cache hits there with x-litellm-cache-key (a bridged
    // hit carries no such header; see test/litellm-proxy.test.ts).
    await check('[fake-native] the same exec twice is a LiteLLM (Redis) cache hit, recorded in the session JSONL', async () => {
      const tdir = tmp('cl-e2e-tel-');
      const home = codexHome(`[litellm]\napi_base = "${url}"\nmodel = "fake-native"\n\n[telemetry]\ndir = "${tdir}"\n`);
      const work = tmp('cl-e2e-work-');
      const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
      const args = [...execArgs(work), 'What is the capital of France? (Redis cache probe)'];
      backend.reset();
      const first = await runBinary(bin, args, { env, cwd: work });
      assert(first.status === 0, `first run: exit ${first.status}: ${first.stderr.slice(-500)}`);
      const calls = backend.stats.completions;
      const second = await runBinary(bin, args, { env, cwd: work });
      assert(second.status === 0, `second run: exit ${second.status}: ${second.stderr.slice(-500)}`);
      assert(agentText(events(second.stdout)).includes(PARIS_ANSWER), 'the cached answer is not the scripted one');
      assert(backend.stats.completions === calls, `the backend was called again (${calls} -> ${backend.stats.completions})`);
      const lines = sessionLines(tdir);
      assert(lines.length === 2, `expected 2 session records, got ${lines.length}`);
      assert(lines[0]!.cache_tier !== 'litellm' && lines[1]!.cache_tier === 'litellm', `tiers: ${lines.map((l) => l.cache_tier).join(', ')}`);
      assert(lines[0]!.tier0_key === lines[1]!.tier0_key, 'the two requests got different exact-match keys');
      assert(lines[1]!.cost_usd === 0, `a cache hit should cost nothing, got ${JSON.stringify(lines[1])}`);
      return `keys equal, second answered by LiteLLM's cache`;
    });

    await check('status shows health, usage, hit rates and cost at the backend prices', async () => {
      const tdir = tmp('cl-e2e-tel-');
      const home = codexHome(`[litellm]\napi_base = "${url}"\nmodel = "fake-model"\n\n[litellm.cache]\nno-cache = true\n\n[telemetry]\ndir = "${tdir}"\n`);
      const work = tmp('cl-e2e-work-');
      const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
      const r = await runBinary(bin, [...execArgs(work), 'What is the capital of France? (cost probe)'], { env, cwd: work });
      assert(r.status === 0, `exec: exit ${r.status}: ${r.stderr.slice(-500)}`);
      const line = sessionLines(tdir).pop()!;
      const expected = (line.tokens_in - line.tokens_cached) * 1e-6 + line.tokens_cached * 5e-7 + line.tokens_out * 2e-6;
      assert(line.cost_usd !== null && Math.abs(line.cost_usd - expected) < 1e-9, `cost ${line.cost_usd} != ${expected} from tokens`);
      const st = await runBinary(bin, ['status', '--json'], { env, cwd: work });
      assert(st.status === 0, `status: exit ${st.status}: ${st.stderr}`);
      const doc = JSON.parse(st.stdout);
      assert(doc.healthy === true, `not healthy: ${st.stdout}`);
      assert(doc.session?.requests >= 1 && Math.abs(doc.session.cost_usd - expected) < 1e-9, `session: ${JSON.stringify(doc.session)}`);
      assert(doc.session.hit_rates && 'tier0' in doc.session.hit_rates, `no hit rates: ${JSON.stringify(doc.session)}`);
      const text = await runBinary(bin, ['status'], { env, cwd: work });
      assert(/Cost:/.test(text.stdout) && /Cache hits:/.test(text.stdout), text.stdout);
      return `cost $${expected.toFixed(6)} = tokens x prices (cost_source ${line.cost_source ?? 'absent'})`;
    });

    await check('the telemetry directory stays under max_total_bytes through a long run', async () => {
      const tdir = tmp('cl-e2e-tel-');
      const cap = 6000;
      const home = codexHome(
        `[litellm]\napi_base = "${url}"\nmodel = "fake-model"\n\n[litellm.cache]\nno-cache = true\n\n[telemetry]\ndir = "${tdir}"\nmax_total_bytes = ${cap}\n\n[telemetry.logs.debug]\nenabled = true\n`,
      );
      const work = tmp('cl-e2e-work-');
      const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
      let max = 0;
      for (let i = 0; i < 12; i += 1) {
        const r = await runBinary(bin, ['exec', '--skip-git-repo-check', '-C', work, `Say something ${i}`], { env, cwd: work });
        assert(r.status === 0, `run ${i}: exit ${r.status}: ${r.stderr.slice(-300)}`);
        max = Math.max(max, dirBytes(tdir));
      }
      assert(max <= cap, `the directory reached ${max} bytes (cap ${cap})`);
      const files = fs.readdirSync(tdir);
      assert(
        files.some((f) => /sessions\.jsonl\.\d+$/.test(f)),
        `no rotation happened: ${files.join(', ')}`,
      );
      for (const f of files) assert((fs.statSync(path.join(tdir, f)).mode & 0o777) === 0o600, `${f} is not 0600`);
      const all = files.map((f) => fs.readFileSync(path.join(tdir, f), 'utf8')).join('');
      assert(!all.includes(masterKey), 'the API key reached the telemetry files');
      return `max ${max} bytes of ${cap}, files: ${files.length}`;
    });
  } finally {
    await cached?.stop();
    await redis.stop();
  }
}

interface TuiStep {
  text?: string;
  keys: string[];
  waitFor: RegExp;
}

/** Drive the TUI in tmux as a person would: type, press keys, read the screen. Returns the screen after each step. */
async function tuiSession(bin: string, cwd: string, env: Record<string, string>, steps: TuiStep[]): Promise<string[]> {
  const tui = await Tui.start(bin, cwd, env);
  const screens: string[] = [];
  try {
    for (const step of steps) {
      if (step.text) tui.type(step.text);
      await new Promise((r) => setTimeout(r, 300));
      tui.press(...step.keys);
      screens.push(await tui.waitFor(step.waitFor, String(step.waitFor)));
    }
    return screens;
  } finally {
    tui.close();
  }
}

/**
 * The build's arguments: the caller's. Substitutions are the user's own choice, as for any build
 * (--substitute, CODEX_LITELLM_SUBSTITUTE or `substitute` in ~/.config/codex-litellm/build.json):
 * where the forks are reachable (GitHub CI) the e2e must build the real thing; on a machine that
 * cannot mirror nornagon/crossterm and openai-oss-forks/tokio-tungstenite the user file says so
 * once, and --version then names what was substituted.
 */
export function buildArgs(extraArgs: string[]): string[] {
  return extraArgs;
}

function build(extraArgs: string[]): string {
  const profile = process.env.E2E_PROFILE ?? 'dev';
  const tsx = path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const r = spawnSync(process.execPath, [tsx, path.join(REPO_ROOT, 'build.ts'), '--profile', profile, ...buildArgs(extraArgs)], {
    stdio: 'inherit',
    env: { ...process.env, CI: '1' },
  });
  if (r.status !== 0) throw new Error(`the build failed (exit ${r.status}); see its output above`);
  return path.join(REPO_ROOT, 'dist', hostTriple(), 'codex-litellm');
}

/** One check of a run: its line (`ok`/`FAIL`, time, detail) printed and its outcome kept in `outcomes`. */
export function checker(outcomes: Outcome[]) {
  // biome-ignore lint/suspicious/noConfusingVoidType: as Check above
  return async (name: string, fn: () => Promise<string | void> | string | void): Promise<void> => {
    const t = performance.now();
    try {
      const detail = await fn();
      outcomes.push({ name, ok: true, ms: performance.now() - t, detail: detail || undefined });
      console.log(`  ok    ${name} (${((performance.now() - t) / 1000).toFixed(1)} s)${detail ? `: ${detail}` : ''}`);
    } catch (e) {
      outcomes.push({ name, ok: false, ms: performance.now() - t, detail: (e as Error).message });
      console.log(`  FAIL  ${name}: ${(e as Error).message}`);
    }
  };
}

export function assert(cond: unknown, msg: string): void {
  if (!cond) throw new Error(msg);
}

export async function runE2E(extraArgs: string[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const check = checker(outcomes);

  let t = performance.now();
  const bin = build(extraArgs);
  console.log(`built ${bin} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  // pip takes a minute or more on a fresh machine: show where it is (a live line on a terminal, else a line now and then).
  const venvProgress = lineReporter(outputMode(false, process.stderr), 'LiteLLM venv', { fields: { stage: 'litellm-venv' } });
  const install = await ensureLitellm({ progress: venvProgress }).finally(() => venvProgress.done());
  console.log(`LiteLLM ${install.version} ready in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const backend: FakeBackend = await startFakeBackend({ cachedTokensByModel: { 'fake-cached': CACHED_TOKENS } });
  const masterKey = `sk-e2e-${Math.random().toString(36).slice(2)}`;
  let proxy: LitellmProxy | undefined;
  let fwd: CountingForwarder | undefined;
  try {
    t = performance.now();
    proxy = await startLitellm({ backendUrl: backend.url, masterKey, litellmBin: install.litellmBin, numRetries: 0, models: E2E_MODELS });
    fwd = await startCountingForwarder(proxy.url);
    console.log(`LiteLLM proxy on ${proxy.url} (counting forwarder ${fwd.url}) in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
    const px = proxy;
    /** A CODEX_HOME of its own, so the discovery cache (CODEX_HOME/litellm/models.json) is cold and start-up probes the proxy. */
    const freshHome = (extra = ''): string => codexHome(`[litellm]\napi_base = "${px.url}"\nmodel = "fake-model"\n${extra}`);

    const version = await runBinary(bin, ['--version'], { env: cleanEnv({}), cwd: os.tmpdir() });
    await check('--version names upstream tag, commit, series and any substitution', async () => {
      // What upstream.lock pins, not a literal: the check moves with the pin.
      const lock = readLock(projectPaths().lockFile);
      const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const re = new RegExp(
        `^codex-litellm ${esc(versionInfo(lock, '').version)} \\(upstream ${esc(describePin(lock))}, series [0-9a-f]{12}(, substituted .*)?\\)$`,
      );
      assert(re.test(version.stdout.trim()), `got ${JSON.stringify(version.stdout)}, wanted ${re}`);
      return version.stdout.trim();
    });

    for (const route of ROUTES) await routeChecks(check, assert, bin, backend, fwd, masterKey, route);

    await check('wire_api = "chat" in config.toml stops with the documented error naming [litellm].wire_api', async () => {
      backend.reset();
      const r = await runBinary(bin, ['exec', '--skip-git-repo-check', 'hi'], {
        env: cleanEnv({ CODEX_HOME: freshHome('wire_api = "chat"\n'), LITELLM_API_KEY: masterKey }),
        cwd: os.tmpdir(),
      });
      assert(r.status !== 0, 'exit 0');
      assert(r.stderr.includes(WIRE_API_GONE) && r.stderr.includes('[litellm].wire_api'), `stderr: ${r.stderr.slice(-600)}`);
      assert(!/backtrace|panicked/i.test(r.stderr), 'a backtrace reached the user');
      assert(posts(backend).length === 0, 'a model request was made anyway');
      return r.stderr
        .split('\n')
        .find((l) => l.includes(WIRE_API_GONE))
        ?.trim()
        .slice(0, 120);
    });
    await check('LITELLM_WIRE_API=chat stops with the documented error naming LITELLM_WIRE_API', async () => {
      backend.reset();
      const r = await runBinary(bin, ['exec', '--skip-git-repo-check', 'hi'], {
        env: cleanEnv({ CODEX_HOME: freshHome(), LITELLM_API_KEY: masterKey, LITELLM_WIRE_API: 'chat' }),
        cwd: os.tmpdir(),
      });
      assert(r.status !== 0, 'exit 0');
      assert(r.stderr.includes(WIRE_API_GONE) && r.stderr.includes('LITELLM_WIRE_API'), `stderr: ${r.stderr.slice(-600)}`);
      assert(!/backtrace|panicked/i.test(r.stderr), 'a backtrace reached the user');
      assert(posts(backend).length === 0, 'a model request was made anyway');
    });

    const home = freshHome();
    await check('the TUI answers through the proxy, /model lists the proxy models, /status shows routing and cost', async () => {
      const work = tmp('cl-e2e-tui-');
      const screens = await tuiSession(bin, work, { CODEX_HOME: home, LITELLM_API_KEY: masterKey }, [
        { keys: [], waitFor: START_SCREEN },
        // answers the folder-trust question (harmless without it); the composer's footer says "N% left"
        { keys: ['Enter'], waitFor: COMPOSER },
        // the answer, and the turn over (no "esc to interrupt"): /model is refused while a task runs
        { text: 'What is the capital of France', keys: ['Enter'], waitFor: screenWith([PARIS_ANSWER], ['to interrupt']) },
        { text: '/model', keys: ['Enter'], waitFor: screenWith(['fake-model', 'fake-native']) },
        { keys: ['Escape'], waitFor: screenWith([], ['fake-native']) }, // the picker is closed
        { text: '/status', keys: ['Enter'], waitFor: screenWith(['Routed to', 'Cost']) },
      ]);
      const screen = screens[3]!;
      const title = screen.search(/Select Model/);
      const picker = title >= 0 ? screen.slice(title) : screen; // the picker, not the history above it
      assert(!/gpt-5/i.test(picker), `the picker offers a built-in OpenAI preset:\n${screen}`);
      const status = screens[screens.length - 1]!;
      const routed = status.split('\n').find((l) => l.includes('Routed to'))!;
      assert(!/Routed to\W*\?/.test(routed), `routing unknown: ${routed}`);
      const tidy = (l: string | undefined): string | undefined => l?.replace(/[│\s]+/g, ' ').trim();
      return `${tidy(routed)}; ${tidy(status.split('\n').find((l) => /\bCost\b/.test(l)))}`;
    });
    await check('first run in a terminal: the setup wizard probes the proxy and saves settings and a 0600 key file', async () => {
      const fresh = codexHome('# my settings\n');
      const work = tmp('cl-e2e-setup-');
      const screens = await tuiSession(bin, work, { CODEX_HOME: fresh }, [
        { keys: [], waitFor: /LiteLLM proxy URL/ },
        { text: px.url, keys: ['Enter'], waitFor: /API key/ },
        { text: masterKey, keys: ['Enter'], waitFor: /Default model/ },
        // The TUI may clear the wizard's last lines as it starts; the files below are the proof.
        { text: 'fake-tools', keys: ['Enter'], waitFor: /Saved .*config\.toml|Welcome to Codex|trust the contents/ },
      ]);
      // The key is typed masked: no screen of the wizard shows it.
      assert(!screens.some((sc) => sc.includes(masterKey)), `the API key was echoed on screen:\n${screens[2]}`);
      const config = fs.readFileSync(path.join(fresh, 'config.toml'), 'utf8');
      assert(config.includes('# my settings'), `the existing comment was lost:\n${config}`);
      assert(config.includes(`api_base = "${px.url}/v1"`) || config.includes(`api_base = "${px.url}"`), `no api_base:\n${config}`);
      assert(/model = "fake-tools"/.test(config), config);
      assert(!/wire_api/.test(config), `the wizard wrote a wire_api:\n${config}`);
      assert(!config.includes(masterKey), 'the key was written into config.toml');
      const keyFile = path.join(fresh, 'litellm', 'api_key');
      const mode = fs.statSync(keyFile).mode & 0o777;
      assert(mode === 0o600, `key file mode ${mode.toString(8)}`);
      assert(fs.readFileSync(keyFile, 'utf8').trim() === masterKey, 'key file does not hold the key');
      return `config.toml + ${keyFile.replace(fresh, 'CODEX_HOME')} (0600)`;
    });
    await check('models lists the proxy models with context window and prices', async () => {
      const r = await runBinary(bin, ['models'], { env: cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey }), cwd: os.tmpdir() });
      assert(r.status === 0, `exit ${r.status}: ${r.stderr}`);
      for (const m of E2E_MODELS) assert(r.stdout.includes(m.name), `${m.name} is missing:\n${r.stdout}`);
      assert(/32(\.0)?k|32,?000/i.test(r.stdout), `no context window in ${r.stdout}`);
      return r.stdout.trim().split('\n').length + ' lines';
    });
    await check('status shows a healthy proxy and the model', async () => {
      const r = await runBinary(bin, ['status'], { env: cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey }), cwd: os.tmpdir() });
      assert(r.status === 0, `exit ${r.status}: ${r.stderr}`);
      assert(/Health:\s+alive/.test(r.stdout) && /Model:\s+fake-model/.test(r.stdout), r.stdout);
    });
    await check('a wrong key gives the documented error and a non-zero exit', async () => {
      const r = await runBinary(bin, ['exec', '--skip-git-repo-check', 'hi'], {
        env: cleanEnv({ CODEX_HOME: freshHome(), LITELLM_API_KEY: 'sk-wrong' }),
        cwd: os.tmpdir(),
      });
      assert(r.status !== 0, 'exit 0');
      assert(/rejected the API key/.test(r.stderr), `stderr: ${r.stderr.slice(-600)}`);
      assert(!r.stderr.includes(masterKey) && !r.stderr.includes('sk-wrong'), 'a key reached the output');
      assert(!/backtrace/i.test(r.stderr), 'a backtrace reached the user');
    });
    await check('an unknown model is refused with the known ones, nearest first', async () => {
      const r = await runBinary(bin, ['exec', '--skip-git-repo-check', '-m', 'fake-modle', 'hi'], {
        env: cleanEnv({ CODEX_HOME: freshHome(), LITELLM_API_KEY: masterKey }),
        cwd: os.tmpdir(),
      });
      assert(r.status !== 0, 'exit 0');
      assert(/fake-modle/.test(r.stderr) && /nearest first\):\s*fake-model\b/.test(r.stderr), `stderr: ${r.stderr.slice(-600)}`);
    });
    await check('an https URL against the plain-http proxy suggests http://', async () => {
      const https = px.url.replace(/^http:/, 'https:');
      const r = await runBinary(bin, ['exec', '--skip-git-repo-check', 'hi'], {
        env: cleanEnv({ CODEX_HOME: freshHome(), LITELLM_API_KEY: masterKey, LITELLM_BASE_URL: https }),
        cwd: os.tmpdir(),
      });
      assert(r.status !== 0, 'exit 0');
      assert(/plain HTTP/.test(r.stderr) && r.stderr.includes(px.url), `stderr: ${r.stderr.slice(-600)}`);
    });
    await check('nothing configured, non-interactive: says exactly what to set', async () => {
      const r = await runBinary(bin, ['exec', '--skip-git-repo-check', 'hi'], { env: cleanEnv({ CODEX_HOME: codexHome('') }), cwd: os.tmpdir() });
      assert(r.status !== 0, 'exit 0');
      assert(/LITELLM_BASE_URL/.test(r.stderr) && /\[litellm\]/.test(r.stderr), `stderr: ${r.stderr.slice(-600)}`);
    });
    await plainProxyChecks(check, assert, bin, backend, px.url, fwd, masterKey);
    await cachingChecks(check, assert, bin, backend, install.litellmBin, masterKey);
    await faultChecks({ check, assert, bin, backend, litellmBin: install.litellmBin });

    const proxyUrl = px.url;
    await px.stop();
    proxy = undefined;
    await check('a stopped proxy gives the documented error and a non-zero exit', async () => {
      const r = await runBinary(bin, ['exec', '--skip-git-repo-check', 'hi'], {
        env: cleanEnv({ CODEX_HOME: freshHome(), LITELLM_API_KEY: masterKey, LITELLM_BASE_URL: proxyUrl }),
        cwd: os.tmpdir(),
      });
      assert(r.status !== 0, 'exit 0');
      assert(/could not connect to the LiteLLM proxy/.test(r.stderr), `stderr: ${r.stderr.slice(-600)}`);
    });
  } finally {
    await fwd?.close();
    await proxy?.stop();
    await backend.close();
  }
  return outcomes;
}

async function main(): Promise<void> {
  const started = performance.now();
  let outcomes: Outcome[];
  try {
    // --target <triple>: one release target, cross-built and run under qemu (target.ts).
    const { target, rest } = splitTargetArgs(process.argv.slice(2));
    outcomes = target ? await runTargetE2E(target, rest) : await runE2E(rest);
  } catch (e) {
    console.error(`e2e could not run: ${(e as Error).message}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  const passed = outcomes.filter((o) => o.ok).length;
  const failed = outcomes.length - passed;
  console.log(`\ne2e finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
