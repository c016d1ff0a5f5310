/**
 * `npm run e2e`: the heavy check. The pinned upstream (from a local mirror: --upstream or the
 * user file), our series, a real host build through the orchestrator, and the real binary
 * against a real LiteLLM proxy in front of the project's fake OpenAI-compatible backend.
 *
 *   npm run e2e                               dev profile, sources from ~/.config/codex-litellm/build.json
 *   npm run e2e -- --upstream /srv/codex.git --git-mirror https://github.com/nornagon/ratatui=/srv/ratatui.git
 *
 * Prints one line per check and a closing `N passed, N failed` line; exits non-zero on failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../project.ts';
import { hostTriple } from '../targets.ts';
import { PARIS_ANSWER, startFakeBackend, type FakeBackend } from './fake-backend.ts';
import { ensureLitellm, startLitellm, type LitellmProxy } from './litellm-proxy.ts';
import { startRedis } from './redis.ts';

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
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => {
    try {
      return JSON.parse(l) as Record<string, any>;
    } catch {
      return {};
    }
  });
}

export function agentText(evs: Array<Record<string, any>>): string {
  return evs.filter((e) => e.type === 'item.completed' && e.item?.type === 'agent_message').map((e) => String(e.item.text)).join('\n');
}

export function turnUsage(evs: Array<Record<string, any>>): { input_tokens: number; output_tokens: number; cached_input_tokens: number } | undefined {
  return evs.filter((e) => e.type === 'turn.completed').map((e) => e.usage).pop();
}

type Check = (name: string, fn: () => Promise<string | void>) => Promise<void>;
type Assert = (cond: unknown, msg: string) => void;

interface SessionLine {
  session_id: string;
  model: string;
  status: string;
  cache_tier: string | null;
  tokens_in: number;
  tokens_cached: number;
  tokens_out: number;
  cost_usd: number | null;
  tier0_key: string;
  error: string | null;
}

function sessionLines(dir: string): SessionLine[] {
  const file = path.join(dir, 'sessions.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as SessionLine);
}

function dirBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
}

/**
 * Caching tiers, cost and telemetry against a LiteLLM proxy with a Redis cache: a repeated exec is
 * a LiteLLM cache hit (tier 1) recorded in the session JSONL; the local tier-0 cache answers a
 * repeat without calling the model; `status` reports usage, hit rates and cost at the fake
 * backend's prices; the telemetry directory stays under its cap through a long run.
 */
async function cachingChecks(check: Check, assert: Assert, bin: string, backend: FakeBackend, litellmBin: string, masterKey: string): Promise<void> {
  const redis = await startRedis();
  let cached: LitellmProxy | undefined;
  try {
    cached = await startLitellm({ backendUrl: backend.url, masterKey, litellmBin, numRetries: 0, cache: { type: 'redis', redisPort: redis.port } });
    const url = cached.url;
    for (const wire of ['responses', 'chat'] as const) {
      await check(`[${wire}] the same exec twice is a LiteLLM (Redis) cache hit, recorded in the session JSONL`, async () => {
        const tdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-e2e-tel-'));
        const home = codexHome(`[litellm]\napi_base = "${url}"\nmodel = "fake-model"\nwire_api = "${wire}"\n\n[telemetry]\ndir = "${tdir}"\n`);
        const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-e2e-work-'));
        const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
        const args = ['exec', '--skip-git-repo-check', '-C', work, `What is the capital of France? (${wire} cache probe)`];
        backend.reset();
        const first = await runBinary(bin, args, { env, cwd: work });
        assert(first.status === 0, `first run: exit ${first.status}: ${first.stderr.slice(-500)}`);
        const calls = backend.stats.completions;
        const second = await runBinary(bin, args, { env, cwd: work });
        assert(second.status === 0, `second run: exit ${second.status}: ${second.stderr.slice(-500)}`);
        assert(second.stdout.includes(PARIS_ANSWER), 'the cached answer is not the scripted one');
        assert(backend.stats.completions === calls, `the backend was called again (${calls} -> ${backend.stats.completions})`);
        const lines = sessionLines(tdir);
        assert(lines.length === 2, `expected 2 session records, got ${lines.length}`);
        assert(lines[0]!.cache_tier !== 'litellm' && lines[1]!.cache_tier === 'litellm', `tiers: ${lines.map((l) => l.cache_tier).join(', ')}`);
        assert(lines[0]!.tier0_key === lines[1]!.tier0_key, 'the two requests got different exact-match keys');
        assert(lines[1]!.cost_usd === 0, `a cache hit should cost nothing, got ${JSON.stringify(lines[1])}`);
        return `keys equal, second answered by LiteLLM's cache`;
      });
    }

    await check('the local tier-0 cache answers a repeat with zero model calls', async () => {
      const tdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-e2e-tel-'));
      const home = codexHome(`[litellm]\napi_base = "${url}"\nmodel = "fake-model"\n\n[litellm.cache.local]\nenabled = true\n\n[litellm.cache]\nno-cache = true\n\n[telemetry]\ndir = "${tdir}"\n`);
      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-e2e-work-'));
      const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
      const args = ['exec', '--skip-git-repo-check', '-C', work, 'What is the capital of France? (tier-0 probe)'];
      const first = await runBinary(bin, args, { env, cwd: work });
      assert(first.status === 0, `first run: exit ${first.status}: ${first.stderr.slice(-500)}`);
      backend.reset();
      const second = await runBinary(bin, args, { env, cwd: work });
      assert(second.status === 0, `second run: exit ${second.status}: ${second.stderr.slice(-500)}`);
      assert(second.stdout.includes(PARIS_ANSWER), 'the tier-0 answer is not the scripted one');
      assert(backend.stats.completions === 0, `the model was called ${backend.stats.completions} time(s)`);
      const lines = sessionLines(tdir);
      assert(lines[lines.length - 1]!.cache_tier === 'tier0', `tiers: ${lines.map((l) => l.cache_tier).join(', ')}`);
      return 'second run made no model call';
    });

    await check('status shows health, usage, hit rates and cost at the backend prices', async () => {
      const tdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-e2e-tel-'));
      const home = codexHome(`[litellm]\napi_base = "${url}"\nmodel = "fake-model"\n\n[litellm.cache]\nno-cache = true\n\n[telemetry]\ndir = "${tdir}"\n`);
      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-e2e-work-'));
      const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
      const r = await runBinary(bin, ['exec', '--skip-git-repo-check', '-C', work, 'What is the capital of France? (cost probe)'], { env, cwd: work });
      assert(r.status === 0, `exec: exit ${r.status}: ${r.stderr.slice(-500)}`);
      const line = sessionLines(tdir).pop()!;
      const expected = ((line.tokens_in - line.tokens_cached) * 1e-6) + line.tokens_cached * 5e-7 + line.tokens_out * 2e-6;
      assert(line.cost_usd !== null && Math.abs(line.cost_usd - expected) < 1e-9, `cost ${line.cost_usd} != ${expected} from tokens`);
      const st = await runBinary(bin, ['status', '--json'], { env, cwd: work });
      assert(st.status === 0, `status: exit ${st.status}: ${st.stderr}`);
      const doc = JSON.parse(st.stdout);
      assert(doc.healthy === true, `not healthy: ${st.stdout}`);
      assert(doc.session?.requests >= 1 && Math.abs(doc.session.cost_usd - expected) < 1e-9, `session: ${JSON.stringify(doc.session)}`);
      assert(doc.session.hit_rates && 'tier0' in doc.session.hit_rates, `no hit rates: ${JSON.stringify(doc.session)}`);
      const text = await runBinary(bin, ['status'], { env, cwd: work });
      assert(/Cost:/.test(text.stdout) && /Cache hits:/.test(text.stdout), text.stdout);
      return `cost $${expected.toFixed(6)} = tokens x prices`;
    });

    await check('the telemetry directory stays under max_total_bytes through a long run', async () => {
      const tdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-e2e-tel-'));
      const cap = 6000;
      const home = codexHome(`[litellm]\napi_base = "${url}"\nmodel = "fake-model"\n\n[litellm.cache]\nno-cache = true\n\n[telemetry]\ndir = "${tdir}"\nmax_total_bytes = ${cap}\n\n[telemetry.logs.debug]\nenabled = true\n`);
      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-e2e-work-'));
      const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
      let max = 0;
      for (let i = 0; i < 12; i += 1) {
        const r = await runBinary(bin, ['exec', '--skip-git-repo-check', '-C', work, `Say something ${i}`], { env, cwd: work });
        assert(r.status === 0, `run ${i}: exit ${r.status}: ${r.stderr.slice(-300)}`);
        max = Math.max(max, dirBytes(tdir));
      }
      assert(max <= cap, `the directory reached ${max} bytes (cap ${cap})`);
      const files = fs.readdirSync(tdir);
      assert(files.some((f) => /sessions\.jsonl\.\d+$/.test(f)), `no rotation happened: ${files.join(', ')}`);
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

/** Drive the TUI in tmux as a person would: type, press keys, read the screen. */
async function tuiSession(bin: string, cwd: string, env: Record<string, string>, steps: TuiStep[]): Promise<string> {
  if (spawnSync('tmux', ['-V']).status !== 0) throw new Error('tmux is not installed (apt-get install tmux)');
  const name = `cl-e2e-${process.pid}`;
  const tmux = (...args: string[]): string => spawnSync('tmux', args, { encoding: 'utf8' }).stdout;
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  spawnSync('tmux', ['new-session', '-d', '-s', name, '-x', '120', '-y', '40', '-c', cwd, 'env', ...vars, bin], { encoding: 'utf8' });
  let screen = '';
  try {
    await new Promise((r) => setTimeout(r, 1500));
    for (const step of steps) {
      if (step.text) tmux('send-keys', '-t', name, '-l', step.text);
      await new Promise((r) => setTimeout(r, 300));
      for (const k of step.keys) tmux('send-keys', '-t', name, k);
      const deadline = Date.now() + 30_000;
      for (;;) {
        screen = tmux('capture-pane', '-p', '-t', name);
        if (step.waitFor.test(screen)) break;
        if (Date.now() > deadline) throw new Error(`the screen never showed ${step.waitFor}; last screen:\n${screen}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    return screen;
  } finally {
    tmux('kill-session', '-t', name);
  }
}

function build(extraArgs: string[]): string {
  const profile = process.env.E2E_PROFILE ?? 'dev';
  const tsx = path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const r = spawnSync(process.execPath, [tsx, path.join(REPO_ROOT, 'build.ts'), '--profile', profile, ...extraArgs], { stdio: 'inherit', env: { ...process.env, CI: '1' } });
  if (r.status !== 0) throw new Error(`the build failed (exit ${r.status}); see its output above`);
  return path.join(REPO_ROOT, 'dist', hostTriple(), 'codex-litellm');
}

export async function runE2E(extraArgs: string[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const check = async (name: string, fn: () => Promise<string | void>): Promise<void> => {
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
  const assert = (cond: unknown, msg: string): void => {
    if (!cond) throw new Error(msg);
  };

  let t = performance.now();
  const bin = build(extraArgs);
  console.log(`built ${bin} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  const install = await ensureLitellm();
  console.log(`LiteLLM ${install.version} ready in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const backend: FakeBackend = await startFakeBackend();
  const masterKey = `sk-e2e-${Math.random().toString(36).slice(2)}`;
  let proxy: LitellmProxy | undefined;
  try {
    t = performance.now();
    proxy = await startLitellm({ backendUrl: backend.url, masterKey, litellmBin: install.litellmBin, numRetries: 0 });
    console.log(`LiteLLM proxy on ${proxy.url} in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
    const px = proxy;

    const version = await runBinary(bin, ['--version'], { env: cleanEnv({}), cwd: os.tmpdir() });
    await check('--version names upstream tag, commit and series', async () => {
      assert(/^codex-litellm 0\.53\.0-litellm\.\d+ \(upstream rust-v0\.53\.0 ca80bc4902b7, series [0-9a-f]{12}\)$/.test(version.stdout.trim()), `got ${JSON.stringify(version.stdout)}`);
      return version.stdout.trim();
    });

    for (const wire of ['responses', 'chat'] as const) {
      const home = codexHome(`[litellm]\napi_base = "${px.url}"\nmodel = "fake-model"\nwire_api = "${wire}"\n`);
      const env = cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey });
      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-e2e-work-'));
      const marker = `only-here-${Math.random().toString(36).slice(2, 8)}.txt`;
      fs.writeFileSync(path.join(work, marker), 'x\n');
      const execArgs = ['exec', '--json', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', '-C', work];

      await check(`[${wire}] exec "What is the capital of France?" prints the scripted answer, with usage`, async () => {
        backend.reset();
        const r = await runBinary(bin, [...execArgs, 'What is the capital of France?'], { env, cwd: work });
        const evs = events(r.stdout);
        assert(r.status === 0, `exit ${r.status}: ${r.stderr.slice(-800)}`);
        assert(agentText(evs).includes(PARIS_ANSWER), `answer was ${JSON.stringify(agentText(evs))}`);
        const usage = turnUsage(evs);
        assert(usage && usage.input_tokens > 0 && usage.output_tokens > 0, `no token usage recorded: ${JSON.stringify(usage)}`);
        const path = wire === 'chat' ? '/v1/chat/completions' : '/v1/responses';
        assert(backend.requests.some((q) => q.path === path), `the backend saw no ${path} (saw ${backend.requests.map((q) => q.path).join(', ')})`);
        return `usage in=${usage!.input_tokens} out=${usage!.output_tokens}`;
      });

      await check(`[${wire}] exec "List files in current directory" runs the shell tool and names a workspace file`, async () => {
        backend.reset();
        const r = await runBinary(bin, [...execArgs, 'List files in current directory'], { env, cwd: work });
        const evs = events(r.stdout);
        assert(r.status === 0, `exit ${r.status}: ${r.stderr.slice(-800)}`);
        assert(evs.some((e) => e.type === 'item.completed' && e.item?.type === 'command_execution'), 'no command was executed');
        assert(agentText(evs).includes(marker), `final answer does not name ${marker}: ${JSON.stringify(agentText(evs))}`);
        const posts = backend.requests.filter((q) => q.method === 'POST');
        assert(posts.length >= 2, `expected a tool call and a follow-up, saw ${posts.length} request(s)`);
        assert(JSON.stringify(posts[posts.length - 1]!.body).includes(marker), 'the tool output did not travel back through LiteLLM');
        const usage = turnUsage(evs);
        assert(usage && usage.input_tokens > 0, `no token usage recorded: ${JSON.stringify(usage)}`);
        return `${posts.length} model calls, usage in=${usage!.input_tokens}`;
      });
    }

    const home = codexHome(`[litellm]\napi_base = "${px.url}"\nmodel = "fake-model"\n`);
    await check('the interactive TUI answers through the proxy and /status shows the discovered context window', async () => {
      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-e2e-tui-'));
      const screen = await tuiSession(bin, work, { CODEX_HOME: home, LITELLM_API_KEY: masterKey }, [
        { keys: ['Enter'], waitFor: /describe a task|To get started/ }, // the folder-trust question
        { text: 'What is the capital of France', keys: ['Enter'], waitFor: new RegExp(PARIS_ANSWER.replace('.', '\\.')) },
        { text: '/status', keys: ['Enter'], waitFor: /Context window:.*\/ 32K/ },
      ]);
      return screen.split('\n').find((l) => l.includes('Context window'))?.replace(/[│\s]+/g, ' ').trim();
    });
    await check('first run in a terminal: the setup wizard probes the proxy and saves settings and a 0600 key file', async () => {
      const fresh = codexHome('# my settings\n');
      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-e2e-setup-'));
      await tuiSession(bin, work, { CODEX_HOME: fresh }, [
        { keys: [], waitFor: /LiteLLM proxy URL/ },
        { text: px.url, keys: ['Enter'], waitFor: /API key/ },
        { text: masterKey, keys: ['Enter'], waitFor: /Default model/ },
        { text: 'fake-tools', keys: ['Enter'], waitFor: /Wire API/ },
        { text: 'chat', keys: ['Enter'], waitFor: /Saved .*config\.toml/ },
      ]);
      const config = fs.readFileSync(path.join(fresh, 'config.toml'), 'utf8');
      assert(config.includes('# my settings'), `the existing comment was lost:\n${config}`);
      assert(config.includes(`api_base = "${px.url}/v1"`) || config.includes(`api_base = "${px.url}"`), `no api_base:\n${config}`);
      assert(/model = "fake-tools"/.test(config) && /wire_api = "chat"/.test(config), config);
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
      assert(/fake-model/.test(r.stdout) && /fake-tools/.test(r.stdout), r.stdout);
      assert(/32(\.0)?k|32,?000/i.test(r.stdout), `no context window in ${r.stdout}`);
      return r.stdout.trim().split('\n').length + ' lines';
    });
    await check('status shows a healthy proxy and the model', async () => {
      const r = await runBinary(bin, ['status'], { env: cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey }), cwd: os.tmpdir() });
      assert(r.status === 0, `exit ${r.status}: ${r.stderr}`);
      assert(/Health:\s+alive/.test(r.stdout) && /Model:\s+fake-model/.test(r.stdout), r.stdout);
    });
    await check('a wrong key gives the documented error and a non-zero exit', async () => {
      const r = await runBinary(bin, ['exec', '--skip-git-repo-check', 'hi'], { env: cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: 'sk-wrong' }), cwd: os.tmpdir() });
      assert(r.status !== 0, 'exit 0');
      assert(/rejected the API key/.test(r.stderr), `stderr: ${r.stderr.slice(-600)}`);
      assert(!r.stderr.includes(masterKey) && !r.stderr.includes('sk-wrong'), 'a key reached the output');
      assert(!/backtrace/i.test(r.stderr), 'a backtrace reached the user');
    });
    await check('an unknown model is refused with the list of known ones', async () => {
      const r = await runBinary(bin, ['exec', '--skip-git-repo-check', '-m', 'fake-modle', 'hi'], { env: cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey }), cwd: os.tmpdir() });
      assert(r.status !== 0, 'exit 0');
      assert(/fake-modle/.test(r.stderr) && /fake-model/.test(r.stderr), `stderr: ${r.stderr.slice(-600)}`);
    });
    await check('an https URL against the plain-http proxy suggests http://', async () => {
      const https = px.url.replace(/^http:/, 'https:');
      const r = await runBinary(bin, ['exec', '--skip-git-repo-check', 'hi'], { env: cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey, LITELLM_BASE_URL: https }), cwd: os.tmpdir() });
      assert(r.status !== 0, 'exit 0');
      assert(/plain HTTP/.test(r.stderr) && r.stderr.includes(px.url), `stderr: ${r.stderr.slice(-600)}`);
    });
    await check('nothing configured, non-interactive: says exactly what to set', async () => {
      const r = await runBinary(bin, ['exec', '--skip-git-repo-check', 'hi'], { env: cleanEnv({ CODEX_HOME: codexHome('') }), cwd: os.tmpdir() });
      assert(r.status !== 0, 'exit 0');
      assert(/LITELLM_BASE_URL/.test(r.stderr) && /\[litellm\]/.test(r.stderr), `stderr: ${r.stderr.slice(-600)}`);
    });
    await cachingChecks(check, assert, bin, backend, install.litellmBin, masterKey);

    const proxyUrl = px.url;
    await px.stop();
    proxy = undefined;
    await check('a stopped proxy gives the documented error and a non-zero exit', async () => {
      const r = await runBinary(bin, ['exec', '--skip-git-repo-check', 'hi'], { env: cleanEnv({ CODEX_HOME: home, LITELLM_API_KEY: masterKey, LITELLM_BASE_URL: proxyUrl }), cwd: os.tmpdir() });
      assert(r.status !== 0, 'exit 0');
      assert(/could not connect to the LiteLLM proxy/.test(r.stderr), `stderr: ${r.stderr.slice(-600)}`);
    });
  } finally {
    await proxy?.stop();
    await backend.close();
  }
  return outcomes;
}

async function main(): Promise<void> {
  const started = performance.now();
  let outcomes: Outcome[];
  try {
    outcomes = await runE2E(process.argv.slice(2));
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
