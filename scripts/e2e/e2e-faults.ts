/**
 * Faults in the middle of a session, against the real LiteLLM proxy: the fake backend fails on
 * purpose (fake-backend.ts `fail`), the proxy is restarted with another key or without the
 * session's model, stopped, or killed in the middle of a streamed answer, and a broken hop in
 * front of it garbles an event (litellm-proxy.ts `mangle`). Each row runs in `exec` (one clear
 * message, a non-zero exit) and in the TUI through tmux (the message on screen, the TUI still
 * answering afterwards); a broken session is resumed.
 *
 * The proxy for these checks runs with cooldowns off, so that one failure does not make LiteLLM
 * refuse the next requests with its own 429 (its default for a failing deployment), and on a
 * fixed port, so that a restart is the same proxy URL to the sessions running against it.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readLock } from '../lib/lockfile.ts';
import { versionInfo } from '../lib/version.ts';
import { projectPaths } from '../lib/project.ts';
import { type Assert, type Check, cleanEnv, codexHome, E2E_MODELS, type RunResult, runBinary } from './e2e.ts';
import { FAULT_SECRET, type FakeBackend, type FaultRule, PARIS_ANSWER } from './fake-backend.ts';
import { freePort, type LitellmModel, type LitellmProxy, startCountingForwarder, startLitellm } from './litellm-proxy.ts';
import { after, COMPOSER, flat, screenWith, START_SCREEN, Tui } from './tui.ts';

/** How often our provider lets upstream retry (STREAM_MAX_RETRIES in the crate's config.rs). */
const RETRIES = 3;
const ATTEMPTS = RETRIES + 1;
/** The session's model was renamed on the proxy to this. */
const RENAMED = 'fake-model-v2';
/** The data a broken hop puts in place of `response.completed`: not JSON, and naming a key. */
const GARBLED = `{"type":"response.completed","response":<<garbled by a broken hop>> key ${FAULT_SECRET}`;

export interface FaultContext {
  check: Check;
  assert: Assert;
  bin: string;
  backend: FakeBackend;
  litellmBin: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tmp = (prefix: string): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

/** The last `ERROR:` line of exec's human output. */
function errorLine(r: RunResult): string {
  return (
    r.stderr
      .split('\n')
      .filter((l) => l.startsWith('ERROR:'))
      .pop()
      ?.slice('ERROR:'.length)
      .trim() ?? ''
  );
}

/** Rollout files (JSONL) of the sessions under a CODEX_HOME. */
function rollouts(home: string): string[] {
  const dir = path.join(home, 'sessions');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => path.join(dir, f));
}

export async function faultChecks(ctx: FaultContext): Promise<void> {
  const { check, assert, bin, backend, litellmBin } = ctx;
  const key = `sk-e2e-faults-${randomBytes(8).toString('hex')}`;
  const rotated = `sk-e2e-rotated-${randomBytes(8).toString('hex')}`;
  const port = await freePort();
  const start = (opts: { masterKey?: string; models?: readonly LitellmModel[] } = {}): Promise<LitellmProxy> =>
    startLitellm({
      backendUrl: backend.url,
      masterKey: opts.masterKey ?? key,
      litellmBin,
      numRetries: 0,
      port,
      models: opts.models ?? E2E_MODELS,
      routerSettings: { disable_cooldowns: true },
    });
  let proxy: LitellmProxy | undefined = await start();
  const url = proxy.url;
  const base = `${url}/v1`;
  const fwd = await startCountingForwarder(url);
  const fbase = `${fwd.url}/v1`;
  const restart = async (opts: { masterKey?: string; models?: readonly LitellmModel[] } = {}): Promise<void> => {
    await proxy?.stop();
    proxy = undefined;
    proxy = await start(opts);
  };
  const home = (opts: { model?: string; api?: string; extra?: string } = {}): string =>
    codexHome(`[litellm]\napi_base = "${opts.api ?? url}"\nmodel = "${opts.model ?? 'fake-model'}"\n${opts.extra ?? ''}`);
  const exec = (h: string, prompt: string, opts: { args?: string[]; work?: string; resume?: boolean } = {}): Promise<RunResult> => {
    const work = opts.work ?? tmp('cl-e2e-fault-');
    const head = ['exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', '-C', work, ...(opts.args ?? [])];
    const args = opts.resume ? [...head, 'resume', '--last', prompt] : [...head, prompt];
    return runBinary(bin, args, { env: cleanEnv({ CODEX_HOME: h, LITELLM_API_KEY: key }), cwd: work, timeoutMs: 180_000 });
  };
  const posts = (): number => backend.requests.filter((q) => q.method === 'POST').length;
  const fail = (rules: FaultRule[]): void => {
    backend.reset();
    backend.fail(rules);
  };
  /** No key, planted or the session's, reached the output. */
  const clean = (text: string): boolean => !text.includes(FAULT_SECRET) && !text.includes(key) && !text.includes(rotated);

  // One TUI session lives through the rows, straight at the proxy; it must answer after each.
  const tuiHome = home();
  const tuiWork = tmp('cl-e2e-fault-tui-');
  let tui: Tui | undefined;
  let turn = 0;
  /** Sends a prompt tagged `[tN]` and waits until the screen below it satisfies `done`. */
  const ask = async (question: string, done: (below: string) => boolean, what: string, timeoutMs = 60_000): Promise<string> => {
    if (!tui) throw new Error('the TUI did not start');
    const tag = `[t${++turn}]`;
    await tui.submit(`${tag} ${question}`);
    const screen = await tui.waitFor((s) => done(after(s, tag)), what, timeoutMs);
    return after(screen, tag);
  };
  const answered = (below: string): boolean => below.includes(PARIS_ANSWER) && !below.includes('to interrupt');
  const stopped = (needle: string) => (below: string) => below.includes(`■ ${needle}`) || (below.includes('■') && below.includes(needle));

  try {
    await check('[faults] the TUI header and --help say codex-litellm with our version; the /model hint names codex-litellm', async () => {
      const help = await runBinary(bin, ['--help'], { env: cleanEnv({}), cwd: os.tmpdir() });
      const firstLine = help.stdout.split('\n')[0] ?? '';
      assert(/^codex-litellm\b/.test(firstLine) && help.stdout.includes('Usage: codex-litellm'), `--help:\n${help.stdout.slice(0, 400)}`);
      tui = await Tui.start(bin, tuiWork, { CODEX_HOME: tuiHome, LITELLM_API_KEY: key });
      const start = await tui.waitFor(START_SCREEN, 'the start screen');
      tui.press('Enter');
      const screen = await tui.waitFor(COMPOSER, 'the composer');
      // The header box is drawn with the first composer; a trusted folder has no question before it,
      // and the Enter that answers the question elsewhere may scroll it off: either screen shows it.
      const header = [screen, start].flatMap((s) => s.split('\n')).find((l) => l.includes('>_')) ?? '';
      const ours = `>_ codex-litellm (v${versionInfo(readLock(projectPaths().lockFile), '').version})`;
      assert(header.includes(ours), `header: ${JSON.stringify(header)}, wanted ${ours}\n${screen}`);
      assert(![screen, start].some((s) => s.includes('OpenAI Codex')), `the header still says OpenAI Codex:\n${start}\n${screen}`);
      await ask('What is the capital of France?', answered, 'the first answer');
      await tui.submit('/model');
      const picker = await tui.waitFor(screenWith(['Select Model']), 'the /model picker');
      const hint = flat(picker.slice(picker.indexOf('Select Model')));
      assert(hint.includes('codex-litellm -m') && !hint.includes('codex -m'), `picker: ${hint.slice(0, 300)}`);
      tui.press('Escape');
      await tui.waitFor(screenWith([], ['Select Model']), 'the picker closed');
      return `${flat(header)}; --help: ${firstLine.slice(0, 80)}`;
    });

    // ---- the backend fails; the proxy stays up ----------------------------------------------

    await check('[faults] exec: the provider refusing the proxy (403) stops at once with one message, no retry', async () => {
      fail([{ fault: { kind: 'status', status: 403 }, times: 0 }]);
      const r = await exec(home(), 'What is the capital of France?');
      const msg = errorLine(r);
      assert(r.status !== 0, `exit 0: ${r.stderr.slice(-400)}`);
      assert(msg.startsWith(`the provider behind the LiteLLM proxy at ${base} refused the proxy's own credentials`), `ERROR: ${msg}\n${r.stderr.slice(-600)}`);
      assert(posts() === 1, `the backend got ${posts()} requests: a retry loop`);
      assert(!r.stderr.includes('Reconnecting'), 'upstream retried');
      assert(clean(r.stderr + r.stdout), 'a key reached the output');
      return msg.slice(0, 160);
    });
    await check('[faults] TUI: the provider refusing the proxy (403) is one message, then the TUI answers', async () => {
      fail([{ fault: { kind: 'status', status: 403 } }]);
      const below = await ask('What is the capital of France?', stopped("refused the proxy's own credentials"), 'the 403 message');
      assert(!below.includes('Reconnecting'), `retried: ${below}`);
      assert(clean(below), 'a key is on screen');
      await ask('What is the capital of France?', answered, 'an answer after the 403');
      return below.slice(below.indexOf('■'), below.indexOf('■') + 140);
    });

    await check('[faults] exec: a 429 with Retry-After waits as told, says so, then continues', async () => {
      fail([{ fault: { kind: 'status', status: 429, retryAfter: 2 } }]);
      const t = Date.now();
      const r = await exec(home(), 'What is the capital of France?');
      const calls = backend.requests.filter((q) => q.method === 'POST');
      assert(r.status === 0, `exit ${r.status}: ${r.stderr.slice(-600)}`);
      assert(r.stdout.includes(PARIS_ANSWER), `no answer: ${r.stdout.slice(-300)}`);
      const said = r.stderr.split('\n').find((l) => l.includes('try again in 2s')) ?? '';
      // The notice is ours (what the proxy answered, which attempt), not upstream's "Reconnecting... 1/3".
      assert(said.includes(`attempt 1 of ${ATTEMPTS}`) && said.includes(base), `no wait announced: ${r.stderr.slice(-600)}`);
      assert(!r.stderr.includes('Reconnecting'), `upstream's words hide what the proxy answered: ${r.stderr.slice(-600)}`);
      assert(calls.length === 2 && calls[1]!.at - calls[0]!.at >= 1900, `requests ${calls.map((c) => c.at - t).join(', ')} ms`);
      return `waited ${calls[1]!.at - calls[0]!.at} ms; ${said.trim().slice(0, 140)}`;
    });
    await check('[faults] exec: a Retry-After longer than codex-litellm waits (60 s) stops at once, saying so', async () => {
      fail([{ fault: { kind: 'status', status: 429, retryAfter: 3600 } }]);
      const t = Date.now();
      const r = await exec(home(), 'What is the capital of France?');
      const msg = errorLine(r);
      assert(
        r.status !== 0 && msg.includes('asks to wait 3600s (Retry-After), longer than codex-litellm waits (60s)'),
        `ERROR: ${msg}\n${r.stderr.slice(-400)}`,
      );
      assert(posts() === 1 && Date.now() - t < 60_000, `${posts()} requests in ${Date.now() - t} ms`);
      return msg.slice(0, 160);
    });
    await check('[faults] TUI: a 429 with Retry-After shows the wait, then the answer', async () => {
      fail([{ fault: { kind: 'status', status: 429, retryAfter: 2 } }]);
      const tag = `[t${turn + 1}]`;
      let waiting = '';
      const below = await ask(
        'What is the capital of France?',
        (b) => {
          if (!waiting && b.includes('try again in 2s')) waiting = b;
          return answered(b);
        },
        'the answer after the wait',
      );
      assert(
        waiting.includes(`attempt 1 of ${ATTEMPTS}`) && !waiting.includes('Reconnecting'),
        `the wait was never on screen as ours (after ${tag}): ${below}`,
      );
      const at = waiting.indexOf('codex-litellm will try again');
      return waiting.slice(at, at + 120);
    });

    await check(`[faults] exec: HTTP 500 on every attempt: ${ATTEMPTS} attempts shown, then one error naming the URL`, async () => {
      fail([{ fault: { kind: 'status', status: 500 }, times: 0 }]);
      const r = await exec(home(), 'What is the capital of France?');
      const msg = errorLine(r);
      assert(r.status !== 0, 'exit 0');
      // Each retry says what the proxy answered and which attempt it was: a 5xx is not a lost connection.
      for (let n = 1; n <= RETRIES; n++) {
        const line = `the LiteLLM proxy at ${base} answered HTTP 500 Internal Server Error`;
        assert(
          r.stderr.split('\n').some((l) => l.includes(line) && l.includes(`(attempt ${n} of ${ATTEMPTS})`)),
          `no notice of attempt ${n} naming the 500: ${r.stderr.slice(-800)}`,
        );
      }
      assert(!r.stderr.includes('Reconnecting'), `upstream's "Reconnecting" hides the 500: ${r.stderr.slice(-800)}`);
      assert(
        msg.startsWith(`codex-litellm gave up after ${ATTEMPTS} attempts: the LiteLLM proxy at ${base} answered HTTP 500 Internal Server Error`),
        `ERROR: ${msg}`,
      );
      assert(posts() === ATTEMPTS, `${posts()} requests reached the backend`);
      assert(clean(r.stderr), 'a key reached the output');
      return msg.slice(0, 170);
    });
    await check('[faults] exec: 503 twice, then an answer: the retries continue the turn', async () => {
      fail([{ fault: { kind: 'status', status: 503 }, times: 2 }]);
      const r = await exec(home(), 'What is the capital of France?');
      assert(r.status === 0 && r.stdout.includes(PARIS_ANSWER), `exit ${r.status}: ${r.stderr.slice(-600)}`);
      assert(r.stderr.includes('(attempt 2 of 4)') && r.stderr.includes('HTTP 503 Service Unavailable'), r.stderr.slice(-600));
      return `${posts()} requests`;
    });
    await check('[faults] TUI: HTTP 500 on every attempt ends in one message naming the URL, then the TUI answers', async () => {
      fail([{ fault: { kind: 'status', status: 500 }, times: 0 }]);
      const below = await ask('What is the capital of France?', stopped(`gave up after ${ATTEMPTS} attempts`), 'the give-up message');
      assert(below.includes(`the LiteLLM proxy at ${base} answered HTTP 500`), below);
      backend.fail([]);
      await ask('What is the capital of France?', answered, 'an answer after the 500s');
      return below.slice(below.indexOf('■'), below.indexOf('■') + 150);
    });

    await check('[faults] exec: a non-JSON (HTML) error body is quoted as a short, redacted excerpt', async () => {
      fail([{ fault: { kind: 'status', status: 502, body: 'html' }, times: 0 }]);
      const r = await exec(home(), 'What is the capital of France?');
      const msg = errorLine(r);
      assert(r.status !== 0 && msg.includes('HTTP 502 Bad Gateway') && msg.includes('<html><head><title>Bad Gateway</title>'), `ERROR: ${msg}`);
      assert(clean(r.stderr) && msg.includes('REDACTED'), `not redacted: ${msg}`);
      const quoted = msg.slice(msg.indexOf('<html>'));
      return `…${quoted.slice(0, 120)}`;
    });
    await check('[faults] TUI: the HTML error body is quoted on screen, redacted', async () => {
      fail([{ fault: { kind: 'status', status: 502, body: 'html' }, times: 0 }]);
      const below = await ask('What is the capital of France?', stopped(`gave up after ${ATTEMPTS} attempts`), 'the 502 message');
      assert(below.includes('<html><head><title>Bad Gateway</title>') && clean(below), below);
      backend.fail([]);
      await ask('What is the capital of France?', answered, 'an answer after the 502s');
    });

    await check('[faults] exec: a backend stream that is not JSON: LiteLLM fails the answer, the error quotes it', async () => {
      fail([{ fault: { kind: 'malformed', afterEvents: 2 }, times: 0 }]);
      const r = await exec(home(), 'What is the capital of France?');
      const msg = errorLine(r);
      assert(
        r.status !== 0 && msg.includes(`the LiteLLM proxy at ${base} reported that the answer failed: litellm.`),
        `ERROR: ${msg}\n${r.stderr.slice(-500)}`,
      );
      assert(clean(r.stderr), 'a key reached the output');
      return msg.slice(msg.indexOf('failed:'), msg.indexOf('failed:') + 130);
    });
    await check('[faults] exec: an event a broken hop garbled (not JSON) stops with a short, redacted excerpt', async () => {
      backend.fail([]);
      fwd.mangle(1, GARBLED);
      const r = await exec(home({ api: fwd.url }), 'What is the capital of France?');
      const msg = errorLine(r);
      const quote = '`{"type":"response.completed","response":<<garbled by a broken hop>> key [REDACTED]`';
      assert(
        r.status !== 0 && msg.startsWith(`the LiteLLM proxy at ${fbase} sent an event that is not JSON: ${quote}`),
        `ERROR: ${msg}\n${r.stderr.slice(-500)}`,
      );
      assert(clean(r.stderr), 'the planted key reached the output');
      return msg.slice(0, 170);
    });

    await check('[faults] exec: the session budget stops before the next request, with the figure and how to raise it', async () => {
      fail([]);
      const h = home({ extra: 'max_session_cost_usd = 0.000001\n' });
      const r = await exec(h, 'List files in current directory');
      const msg = errorLine(r);
      assert(r.status !== 0, 'exit 0');
      assert(/stopped before sending the next request: this session has cost \$0\.\d+, which reaches/.test(msg), `no figure: ${msg}`);
      for (const needle of ['max_session_cost_usd = $0.000001', '-c litellm.max_session_cost_usd=0.000002', 'codex-litellm resume --last'])
        assert(msg.includes(needle), `${needle}: ${msg}`);
      assert(posts() === 1, `${posts()} requests reached the backend (the tool call only)`);
      return msg.slice(0, 160);
    });

    // ---- the proxy itself changes under running sessions -----------------------------------

    // Homes whose discovery cache is warm: their next exec starts without asking the proxy, so
    // what it meets is the proxy as it is by then ("after the session started").
    const hKey = home({ api: fwd.url });
    const hRenamed = home();
    const hRefused = home();
    await check('[faults] three exec sessions start against the proxy (their discovery caches are warm from now on)', async () => {
      fail([]);
      for (const h of [hKey, hRenamed, hRefused]) {
        const r = await exec(h, 'Say hi');
        assert(r.status === 0 && fs.existsSync(path.join(h, 'litellm', 'models.json')), `exit ${r.status}: ${r.stderr.slice(-400)}`);
      }
    });

    await restart({ masterKey: rotated });
    await check('[faults] exec: the key revoked after the session started stops at once: one request, one message', async () => {
      fwd.reset();
      const r = await exec(hKey, 'What is the capital of France?');
      const msg = errorLine(r);
      assert(r.status !== 0, 'exit 0');
      // A proxy without a database checks only its master key: any other gets 400 no_db_connection.
      assert(msg.startsWith(`the LiteLLM proxy at ${fbase} rejected the API key (HTTP 4`), `ERROR: ${msg}\n${r.stderr.slice(-500)}`);
      assert(msg.includes('LITELLM_API_KEY') && msg.includes('codex-litellm resume --last'), msg);
      assert(fwd.posts('/v1/responses') === 1, `${fwd.posts('/v1/responses')} model requests: a retry loop`);
      assert(
        fwd.requests.every((q) => q.method === 'POST'),
        'start-up asked the proxy: the cache was not warm',
      );
      assert(clean(r.stderr + r.stdout), 'a key reached the output');
      return msg.slice(0, 150);
    });
    await check('[faults] TUI: the key revoked mid-session is one message, no retry', async () => {
      const below = await ask('What is the capital of France?', stopped('rejected the API key'), 'the key message');
      assert(below.includes(`the LiteLLM proxy at ${base} rejected the API key`) && !below.includes('Reconnecting'), below);
      assert(clean(below), 'a key is on screen');
      return below.slice(below.indexOf('■'), below.indexOf('■') + 120);
    });

    await restart({ models: E2E_MODELS.map((m) => (m.name === 'fake-model' ? { ...m, name: RENAMED } : m)) });
    await check('[faults] exec: the model renamed on the proxy: the error lists what is there, nearest first', async () => {
      const r = await exec(hRenamed, 'What is the capital of France?');
      const msg = errorLine(r);
      assert(r.status !== 0, 'exit 0');
      assert(
        msg.startsWith(`the LiteLLM proxy at ${base} has no model named \`fake-model\``) && msg.includes(`Available models (nearest first): ${RENAMED}, `),
        `ERROR: ${msg}\n${r.stderr.slice(-500)}`,
      );
      return msg.slice(msg.indexOf('Available'), msg.indexOf('Available') + 90);
    });
    await check('[faults] TUI: the model renamed mid-session: the list of what is there, nearest first', async () => {
      const below = await ask('What is the capital of France?', stopped('has no model named'), 'the renamed-model message');
      assert(below.includes(`Available models (nearest first): ${RENAMED}`), below);
    });

    await proxy.stop();
    proxy = undefined;
    await check(`[faults] exec: the proxy gone mid-session (connection refused): ${ATTEMPTS} attempts shown, then the error naming the URL`, async () => {
      const r = await exec(hRefused, 'What is the capital of France?');
      const msg = errorLine(r);
      assert(r.status !== 0, 'exit 0');
      assert(r.stderr.includes(`(attempt ${RETRIES} of ${ATTEMPTS})`) && !r.stderr.includes('Reconnecting'), `no retries shown: ${r.stderr.slice(-600)}`);
      assert(
        msg.startsWith(`codex-litellm gave up after ${ATTEMPTS} attempts: could not connect to the LiteLLM proxy at ${base}`) &&
          msg.includes(`Is the LiteLLM proxy running at ${base}?`),
        `ERROR: ${msg}`,
      );
      return msg.slice(0, 150);
    });
    await check('[faults] TUI: the proxy gone mid-session: the error names the URL; back up, the TUI answers', async () => {
      const below = await ask('What is the capital of France?', stopped(`gave up after ${ATTEMPTS} attempts`), 'the connection message');
      assert(below.includes(`could not connect to the LiteLLM proxy at ${base}`), below);
      proxy = await start();
      await ask('What is the capital of France?', answered, 'an answer once the proxy is back');
      return below.slice(below.indexOf('■'), below.indexOf('■') + 110);
    });
    if (!proxy) proxy = await start();

    await check('[faults] exec: the proxy killed mid-answer: the partial turn is kept, the error names the URL, resume continues', async () => {
      const h = home();
      const work = tmp('cl-e2e-fault-kill-');
      const marker = `kept-${randomBytes(4).toString('hex')}.txt`;
      fs.writeFileSync(path.join(work, marker), 'x\n');
      // The tool call goes through; the answer after it stops after a few events, and then the proxy dies.
      fail([{ skip: 1, fault: { kind: 'hold', afterEvents: 3 } }]);
      const running = exec(h, 'List files in current directory', { work });
      const deadline = Date.now() + 60_000;
      while (backend.stats.held === 0 && Date.now() < deadline) await sleep(100);
      assert(backend.stats.held === 1, 'the answer was never held');
      await sleep(500);
      await proxy!.kill();
      proxy = undefined;
      const r = await running;
      const msg = errorLine(r);
      assert(r.status !== 0, 'exit 0');
      assert(r.stderr.includes(`the connection to the LiteLLM proxy at ${base} broke in the middle of the answer`), `not reported: ${r.stderr.slice(-800)}`);
      assert(msg.startsWith(`codex-litellm gave up after ${ATTEMPTS} attempts: could not connect to the LiteLLM proxy at ${base}`), `ERROR: ${msg}`);
      const files = rollouts(h);
      assert(files.length === 1, `rollouts: ${files.join(', ')}`);
      const rollout = fs.readFileSync(files[0]!, 'utf8');
      assert(rollout.includes('List files in current directory') && rollout.includes(marker), 'the rollout lacks the turn so far (prompt and tool output)');
      proxy = await start();
      fail([]);
      const resumed = await exec(h, 'What is the capital of France?', { work, resume: true });
      assert(resumed.status === 0 && resumed.stdout.includes(PARIS_ANSWER), `resume: exit ${resumed.status}: ${resumed.stderr.slice(-600)}`);
      const sent = JSON.stringify(backend.requests.filter((q) => q.method === 'POST').pop()?.body ?? '');
      assert(sent.includes(marker) && sent.includes('List files in current directory'), 'the resumed request lacks the earlier turn');
      return `${msg.slice(0, 110)}…; resumed with the earlier tool output in the request`;
    });
    if (!proxy) proxy = await start();
    await check('[faults] TUI: the proxy killed mid-answer: the turn so far stays on screen, the error names the URL, the TUI continues', async () => {
      // The tool call goes through and shows; the answer after it is held, and then the proxy dies.
      fs.writeFileSync(path.join(tuiWork, 'tui-kept.txt'), 'x\n');
      fail([{ skip: 1, fault: { kind: 'hold', afterEvents: 3 } }]);
      const tag = `[t${turn + 1}]`;
      let broke = false;
      const asking = ask(
        'List files in current directory',
        (b) => {
          broke ||= b.includes('broke in the middle of the answer');
          return stopped(`gave up after ${ATTEMPTS} attempts`)(b);
        },
        'the message after the kill',
        90_000,
      );
      const deadline = Date.now() + 60_000;
      while (backend.stats.held === 0 && Date.now() < deadline) await sleep(100);
      assert(backend.stats.held === 1, 'the answer was never held');
      await sleep(500);
      await proxy!.kill();
      proxy = undefined;
      const below = await asking;
      assert(below.includes(`could not connect to the LiteLLM proxy at ${base}`), below);
      assert(/(Explored|Ran)\b.*ls -1/.test(below), `the tool call left the screen: ${below}`);
      const kept = rollouts(tuiHome).some((f) => fs.readFileSync(f, 'utf8').includes('tui-kept.txt'));
      assert(kept, 'the rollout lacks the tool output of the broken turn');
      proxy = await start();
      fail([]);
      await ask('What is the capital of France?', answered, 'an answer after the restart');
      const call = /(Explored|Ran)\b.*?ls -1/.exec(below)?.[0] ?? '';
      return `"${call}" stays above the error, its output is in the rollout${broke ? '; "broke in the middle of the answer" was shown while retrying' : ''} (after ${tag})`;
    });
    tui?.close();
    tui = undefined;
    if (!proxy) proxy = await start();

    await check('[faults] TUI: `resume --last` after the broken session shows it and continues it', async () => {
      const resumed = await Tui.start(bin, tuiWork, { CODEX_HOME: tuiHome, LITELLM_API_KEY: key }, ['resume', '--last']);
      try {
        const screen = await resumed.waitFor((s) => s.includes(`[t${turn}]`) && COMPOSER.test(s), 'the resumed conversation');
        await resumed.submit('[resumed] What is the capital of France?');
        await resumed.waitFor((s) => answered(after(s, '[resumed]')), 'an answer in the resumed session');
        return `the resumed screen shows [t${turn}] of the earlier session${screen.includes('codex-litellm (v') ? ', under our header' : ''}`;
      } finally {
        resumed.close();
      }
    });

    await check('[faults] TUI: /status shows the provider-cached tokens; a garbled event is one message; then the TUI answers', async () => {
      const t = await Tui.start(bin, tmp('cl-e2e-fault-tui2-'), { CODEX_HOME: home({ api: fwd.url, model: 'fake-cached' }), LITELLM_API_KEY: key });
      try {
        await t.waitFor(START_SCREEN, 'the start screen');
        t.press('Enter');
        await t.waitFor(COMPOSER, 'the composer');
        await t.submit('[c1] What is the capital of France?');
        await t.waitFor((s) => answered(after(s, '[c1]')), 'the answer');
        await t.submit('/status');
        const status = flat(await t.waitFor(screenWith(['Tokens', 'cached', 'Cost']), '/status'));
        const cached = /Tokens:? ([\d,]+) in \(([\d,]+) cached\)/.exec(status);
        assert(
          cached && Number(cached[2]!.replace(/,/g, '')) > 0,
          `no cached tokens in /status: ${status.slice(status.indexOf('Tokens'), status.indexOf('Tokens') + 80)}`,
        );
        fwd.mangle(1, GARBLED);
        await t.submit('[c2] What is the capital of France?');
        const bad = after(await t.waitFor((s) => after(s, '[c2]').includes('sent an event that is not JSON'), 'the garbled-event message'), '[c2]');
        assert(bad.includes('<<garbled by a broken hop>> key [REDACTED]') && clean(bad), bad);
        await t.submit('[c3] What is the capital of France?');
        await t.waitFor((s) => answered(after(s, '[c3]')), 'an answer after the garbled event');
        return `/status: Tokens ${cached![1]} in (${cached![2]} cached)`;
      } finally {
        t.close();
      }
    });

    await check('[faults] TUI: the session budget stops each next request with the figure, and the TUI stays usable', async () => {
      fail([]);
      const t = await Tui.start(bin, tmp('cl-e2e-fault-tui3-'), { CODEX_HOME: home(), LITELLM_API_KEY: key }, ['-c', 'litellm.max_session_cost_usd=0.000001']);
      try {
        await t.waitFor(START_SCREEN, 'the start screen');
        t.press('Enter');
        await t.waitFor(COMPOSER, 'the composer');
        await t.submit('[b1] What is the capital of France?');
        await t.waitFor((s) => answered(after(s, '[b1]')), 'the first answer');
        let message = '';
        for (const tag of ['[b2]', '[b3]']) {
          await t.submit(`${tag} What is the capital of France?`);
          message = after(await t.waitFor((s) => after(s, tag).includes('stopped before sending the next request'), `the budget message after ${tag}`), tag);
          assert(message.includes('max_session_cost_usd = $0.000001') && message.includes('-c litellm.max_session_cost_usd=0.000002'), message);
        }
        assert(posts() === 1, `${posts()} requests reached the backend`);
        return message.slice(message.indexOf('■'), message.indexOf('■') + 120);
      } finally {
        t.close();
      }
    });
  } finally {
    tui?.close();
    backend.fail([]);
    backend.release();
    await fwd.close();
    await proxy?.stop();
  }
}
