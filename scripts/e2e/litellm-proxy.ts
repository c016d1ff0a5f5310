/**
 * Harness for the REAL LiteLLM proxy (PyPI `litellm[proxy]`), for end-to-end tests against the
 * fake backend in ./fake-backend.ts. Loopback only, fully offline once installed.
 *
 *   const bin = await ensureLitellm();                       // venv + pinned pip install, once
 *   const proxy = await startLitellm({ backendUrl, masterKey });
 *   ... fetch(`${proxy.url}/v1/chat/completions`, { headers: { authorization: `Bearer ${masterKey}` } })
 *   await proxy.stop();
 *
 * Facts this relies on (checked against LITELLM_VERSION; see the findings notes in the tests):
 * - `openai/<name>` deployments send /v1/responses natively to the backend's /v1/responses;
 *   `custom_openai/<name>` deployments bridge /v1/responses onto the backend's
 *   /v1/chat/completions (LiteLLM translates both ways). Chat completions go to
 *   /v1/chat/completions for both.
 * - Without a database, only the master key authenticates: any other key is answered with
 *   400 `no_db_connection`, and a request without a key with 401 (500 unless the `prisma`
 *   package is importable, which is why it is installed next to LiteLLM).
 * - LiteLLM retries failed backend calls (2 retries by default); `numRetries` changes that.
 *   A backend 429's `retry-after` reaches the client only as `llm_provider-retry-after`.
 * - Every answer carries x-litellm-call-id, x-litellm-model-id, x-litellm-model-group;
 *   x-litellm-response-cost only non-streamed ones. Streams carry the cost in the body instead:
 *   `usage.cost` of the final chat chunk (include_usage) or of response.completed.
 * - Function tools cross the bridge by name (Responses `{type:"function", name}` becomes chat
 *   `{type:"function", function:{name}}`); the bridge also turns a freeform `custom` tool into a
 *   function tool and drops `web_search`, while the native route passes both through as they are.
 * - A response-cache hit on /v1/responses carries x-litellm-cache-key on the native route only;
 *   a bridged hit looks like a miss from the headers.
 * - The proxy GETs the backend's /v1/models twice at startup.
 * - Without a database there are no spend logs to ask how many requests the proxy served;
 *   startCountingForwarder() puts a counting pass-through in front of it instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ScalarTag, stringify } from 'yaml';
import { UserError } from '../lib/errors.ts';
import type { Reporter } from '../lib/progress.ts';
import { requestTools, type ToolInfo } from './fake-backend.ts';
import { PipProgress, pipHistoryFile, readPipHistory, writePipHistory } from './pip-progress.ts';

/**
 * The pinned LiteLLM release. 1.106.2 (2026-10-21) is on LiteLLM's maintained 1.106.x line and
 * is the newest release of it whose pinned dependencies all resolve on this machine's package
 * index (1.106.3+ and the later 1.103-1.105 backports require certifi>=2026.10.19, which is not
 * served here). Never use 1.82.7 or 1.82.8: those releases were compromised.
 */
export const LITELLM_VERSION = '1.106.2';

/**
 * Extra packages installed next to LiteLLM. `prisma` (the Python client only; nothing is
 * generated and no engine is downloaded) makes LiteLLM's auth error handler importable, so a
 * request without a key gets LiteLLM's real 401 instead of a 500 ModuleNotFoundError, as in
 * LiteLLM's own Docker image. The proxy runs without a database.
 */
export const LITELLM_EXTRA_PACKAGES = ['prisma==0.15.0'] as const;

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MARKER_NAME = '.codex-litellm-installed.json';

/**
 * Environment that keeps LiteLLM offline and quiet: every remote JSON it would fetch at start
 * (model cost map, Anthropic beta headers, blog posts, autorouter presets, policy templates) is
 * read from the copy bundled in the wheel instead; no .env file is loaded (LITELLM_MODE=PRODUCTION;
 * in DEV mode LiteLLM loads a .env found by walking up from its site-packages, i.e. from this
 * repo); Hugging Face hub lookups are off; loopback never goes through an HTTP proxy.
 */
export const LITELLM_OFFLINE_ENV: Readonly<Record<string, string>> = {
  LITELLM_LOCAL_MODEL_COST_MAP: 'True',
  LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS: 'True',
  LITELLM_LOCAL_BLOG_POSTS: 'True',
  LITELLM_LOCAL_AUTOROUTER_PRESETS: 'True',
  LITELLM_LOCAL_POLICY_TEMPLATES: 'True',
  LITELLM_DONT_SHOW_FEEDBACK_BOX: 'True',
  LITELLM_MODE: 'PRODUCTION',
  DISABLE_ADMIN_UI: 'True',
  HF_HUB_OFFLINE: '1',
  HF_HUB_DISABLE_TELEMETRY: '1',
  TRANSFORMERS_OFFLINE: '1',
  DO_NOT_TRACK: '1',
  PYTHONUNBUFFERED: '1',
  PYTHONDONTWRITEBYTECODE: '1',
  NO_PROXY: '127.0.0.1,localhost,::1',
  no_proxy: '127.0.0.1,localhost,::1',
};

/** Variables removed from the proxy's environment: they would point it at a database or a key. */
const STRIPPED_ENV = [
  'DATABASE_URL',
  'DIRECT_URL',
  'LITELLM_MASTER_KEY',
  'LITELLM_SALT_KEY',
  'REDIS_URL',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_PASSWORD',
  'LITELLM_LICENSE',
];

export function defaultVenvDir(version: string = LITELLM_VERSION): string {
  return path.join(REPO_ROOT, '.cache', `litellm-venv-${version}`);
}

export interface EnsureLitellmOptions {
  /** Virtualenv directory; default `<repo>/.cache/litellm-venv-<version>` (git-ignored). */
  venvDir?: string;
  /** Python interpreter used to create the venv; default `python3`. */
  python?: string;
  /** Progress messages (default: none). */
  log?: (line: string) => void;
  /** Where pip is while it installs (packages resolved, installing, time left from the last install). */
  progress?: Reporter;
}

export interface LitellmInstall {
  /** The `litellm` executable inside the venv. */
  litellmBin: string;
  venvDir: string;
  version: string;
  /** Whether this call installed it (false: it was already there). */
  installed: boolean;
  /** Seconds spent in pip, when it ran. */
  installSeconds?: number;
}

function venvBin(venvDir: string, name: string): string {
  return process.platform === 'win32' ? path.join(venvDir, 'Scripts', `${name}.exe`) : path.join(venvDir, 'bin', name);
}

function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  return { status: r.status, error: r.error, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** The version of litellm importable by the venv's python, or undefined. */
function installedVersion(python: string): string | undefined {
  const r = run(python, ['-c', 'import importlib.metadata as m; print(m.version("litellm"))']);
  return r.status === 0 ? r.stdout.trim() : undefined;
}

interface Marker {
  version: string;
  extras: string[];
}

function readMarker(file: string): Marker | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Marker>;
    return typeof m.version === 'string' && Array.isArray(m.extras) ? { version: m.version, extras: m.extras.map(String) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure `litellm[proxy]==LITELLM_VERSION` is installed in a project-local virtualenv and
 * returns its `litellm` executable. Idempotent: a venv whose marker file names this version and
 * extras (and whose python still reports that version) is reused; anything else (no venv, a
 * half-done install, another version) is recreated and installed from scratch. The marker is
 * written only after pip succeeded. Not safe against two processes installing at once.
 */
export async function ensureLitellm(opts: EnsureLitellmOptions = {}): Promise<LitellmInstall> {
  const version = LITELLM_VERSION;
  const venvDir = path.resolve(opts.venvDir ?? defaultVenvDir(version));
  const log = opts.log ?? (() => {});
  const marker = path.join(venvDir, MARKER_NAME);
  const python = venvBin(venvDir, 'python');
  const litellmBin = venvBin(venvDir, 'litellm');
  const extras = [...LITELLM_EXTRA_PACKAGES];

  const m = readMarker(marker);
  if (m && m.version === version && m.extras.join(' ') === extras.join(' ') && fs.existsSync(litellmBin) && installedVersion(python) === version) {
    return { litellmBin, venvDir, version, installed: false };
  }
  fs.rmSync(marker, { force: true });

  const hostPython = opts.python ?? 'python3';
  const probe = run(hostPython, ['-c', 'import sys, venv, ensurepip; print("%d.%d" % sys.version_info[:2])']);
  if (probe.error || probe.status !== 0) {
    const missing = probe.error ? `${hostPython} was not found` : `${hostPython} lacks the venv/ensurepip modules`;
    throw new UserError(
      `Cannot set up LiteLLM: ${missing}.`,
      'Install Python 3.9+ with venv and pip (Debian/Ubuntu: `apt-get install python3 python3-venv python3-pip`).',
    );
  }
  const [major, minor] = probe.stdout.trim().split('.').map(Number);
  if (major !== 3 || (minor ?? 0) < 9) {
    throw new UserError(
      `Cannot set up LiteLLM: ${hostPython} is Python ${probe.stdout.trim()}, LiteLLM needs 3.9 or newer.`,
      'Install Python 3.11 (with venv and pip).',
    );
  }

  // No marker means no completed install: whatever is there (an interrupted pip, another
  // version) is started over from an empty venv rather than patched up.
  if (fs.existsSync(venvDir)) {
    const entries = fs.readdirSync(venvDir);
    if (entries.length > 0 && !entries.includes('pyvenv.cfg')) {
      throw new UserError(`Refusing to replace ${venvDir}: it is not empty and is not a virtualenv.`, 'Pass another venvDir, or remove that directory.');
    }
    log(`no completed install in ${venvDir}: recreating it`);
    fs.rmSync(venvDir, { recursive: true, force: true });
  }
  log(`creating virtualenv ${venvDir}`);
  fs.mkdirSync(path.dirname(venvDir), { recursive: true });
  const mk = run(hostPython, ['-m', 'venv', venvDir]);
  if (mk.status !== 0 || run(python, ['-m', 'pip', '--version']).status !== 0) {
    fs.rmSync(venvDir, { recursive: true, force: true });
    throw new UserError(
      `Cannot create a virtualenv with pip at ${venvDir}: ${tail(mk.stderr || mk.stdout, 10) || 'pip is missing in it'}`,
      'Install the venv module and pip (Debian/Ubuntu: `apt-get install python3-venv python3-pip`).',
    );
  }

  log(`pip install litellm[proxy]==${version} ${extras.join(' ')} (takes a minute or so)`);
  const started = Date.now();
  const history = pipHistoryFile(venvDir);
  const reader = new PipProgress({ now: Date.now, previous: readPipHistory(history) });
  let phase = '';
  const show = (): void => {
    const snap = reader.snapshot();
    opts.progress?.update({ text: reader.text(snap), data: { stage: 'litellm-venv', ...snap }, milestone: snap.phase !== phase });
    phase = snap.phase;
  };
  show();
  const tick = setInterval(show, 1000);
  const pip = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', `litellm[proxy]==${version}`, ...extras], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PYTHONDONTWRITEBYTECODE: '1' },
    });
    let output = '';
    let rest = '';
    const keep = (c: Buffer) => {
      const text = c.toString('utf8');
      output += text;
      if (output.length > 1_000_000) output = output.slice(-500_000);
      const lines = (rest + text).split(/\r|\n/);
      rest = lines.pop() ?? '';
      for (const l of lines) reader.line(l);
      show();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  }).finally(() => clearInterval(tick));
  const installSeconds = (Date.now() - started) / 1000;
  if (pip.code !== 0) {
    throw new UserError(
      `pip could not install litellm[proxy]==${version} into ${venvDir} (exit ${pip.code}):\n${tail(pip.output, 30)}`,
      'Check that the Python package index is reachable; rerunning retries the install.',
    );
  }
  const got = installedVersion(python);
  if (got !== version || !fs.existsSync(litellmBin)) {
    throw new UserError(
      `After pip install, the venv at ${venvDir} reports litellm ${got ?? '(none)'} and ${fs.existsSync(litellmBin) ? 'has' : 'lacks'} ${litellmBin}; expected ${version}.`,
    );
  }
  fs.writeFileSync(marker, JSON.stringify({ version, extras, installedAt: new Date().toISOString(), installSeconds }, null, 2) + '\n');
  const snap = reader.snapshot();
  writePipHistory(history, { packages: snap.installing ?? snap.collected, seconds: installSeconds });
  log(`installed litellm ${version} in ${installSeconds.toFixed(1)} s`);
  return { litellmBin, venvDir, version, installed: true, installSeconds };
}

// ---------------------------------------------------------------------------------------------
// Config

export interface LitellmModel {
  /** Public model name (what clients send). */
  name: string;
  /** Model id sent to the backend; default `name`. */
  backendModel?: string;
  /**
   * LiteLLM provider prefix: `openai` (default; /v1/responses passes through to the backend's
   * /v1/responses) or `custom_openai` (/v1/responses is bridged to the backend's chat completions).
   */
  provider?: 'openai' | 'custom_openai';
  inputCostPerToken?: number;
  outputCostPerToken?: number;
  cacheReadInputTokenCost?: number;
  maxInputTokens?: number;
  maxOutputTokens?: number;
}

export const DEFAULT_COSTS = {
  inputCostPerToken: 0.000001,
  outputCostPerToken: 0.000002,
  cacheReadInputTokenCost: 0.0000005,
  maxInputTokens: 32000,
  maxOutputTokens: 4096,
} as const;

export const DEFAULT_PROXY_MODELS: readonly LitellmModel[] = [{ name: 'fake-model' }, { name: 'fake-tools' }];

export interface LitellmCacheOptions {
  type: 'local' | 'redis';
  /** Port of a redis on 127.0.0.1 (type 'redis' only; default 6379). */
  redisPort?: number;
}

export interface StartLitellmOptions {
  /** Base URL of the OpenAI-compatible backend, without /v1 (e.g. the fake backend's `url`). */
  backendUrl: string;
  /** The proxy's master key (`general_settings.master_key`). Never logged. */
  masterKey: string;
  /** Models to expose (names or full specs); default fake-model and fake-tools via `openai/`. */
  models?: ReadonlyArray<string | LitellmModel>;
  /** Response cache (`litellm_settings.cache`). */
  cache?: LitellmCacheOptions;
  /** Router retries on backend errors; LiteLLM's default (2) when unset. */
  numRetries?: number;
  /** Port on 127.0.0.1; default: a free one. */
  port?: number;
  /** The `litellm` executable; default: ensureLitellm() (installs on first use). */
  litellmBin?: string;
  /** Directory for config.yaml and the log; default a new temp dir. */
  workDir?: string;
  /** Log file for the proxy's stdout+stderr; default `<workDir>/litellm.log`. */
  logFile?: string;
  /** How long to wait for /health/liveliness; default 120 s. */
  startTimeoutMs?: number;
  /** Extra environment for the proxy process. */
  env?: Record<string, string>;
  /** Extra top-level sections merged into litellm_settings / general_settings / router_settings. */
  litellmSettings?: Record<string, unknown>;
  generalSettings?: Record<string, unknown>;
  routerSettings?: Record<string, unknown>;
}

export interface LitellmProxy {
  /** Base URL, e.g. http://127.0.0.1:4000 (append /v1/...). */
  url: string;
  port: number;
  masterKey: string;
  logFile: string;
  configFile: string;
  pid: number;
  /** Seconds from spawn to a healthy /health/liveliness. */
  startupSeconds: number;
  /** Stops the whole process group (SIGTERM, then SIGKILL after 10 s) and removes config.yaml. */
  stop(): Promise<void>;
  /** Kills the whole process group at once (SIGKILL: open connections break) and removes config.yaml. */
  kill(): Promise<void>;
}

function normalizeModel(m: string | LitellmModel): LitellmModel {
  return typeof m === 'string' ? { name: m } : m;
}

/** Builds the proxy config as a plain object (exported for tests). */
export function buildLitellmConfig(
  opts: Pick<StartLitellmOptions, 'backendUrl' | 'masterKey' | 'models' | 'cache' | 'numRetries' | 'litellmSettings' | 'generalSettings' | 'routerSettings'>,
): Record<string, unknown> {
  const apiBase = `${opts.backendUrl.replace(/\/+$/, '')}/v1`;
  const models = (opts.models ?? DEFAULT_PROXY_MODELS).map(normalizeModel);
  const modelList = models.map((m) => ({
    model_name: m.name,
    litellm_params: {
      model: `${m.provider ?? 'openai'}/${m.backendModel ?? m.name}`,
      api_base: apiBase,
      api_key: 'sk-fake-backend-key',
    },
    model_info: {
      input_cost_per_token: m.inputCostPerToken ?? DEFAULT_COSTS.inputCostPerToken,
      output_cost_per_token: m.outputCostPerToken ?? DEFAULT_COSTS.outputCostPerToken,
      cache_read_input_token_cost: m.cacheReadInputTokenCost ?? DEFAULT_COSTS.cacheReadInputTokenCost,
      max_input_tokens: m.maxInputTokens ?? DEFAULT_COSTS.maxInputTokens,
      max_output_tokens: m.maxOutputTokens ?? DEFAULT_COSTS.maxOutputTokens,
    },
  }));
  const litellmSettings: Record<string, unknown> = { ...(opts.litellmSettings ?? {}) };
  if (opts.cache) {
    litellmSettings.cache = true;
    litellmSettings.cache_params = opts.cache.type === 'redis' ? { type: 'redis', host: '127.0.0.1', port: opts.cache.redisPort ?? 6379 } : { type: 'local' };
  }
  const routerSettings: Record<string, unknown> = { ...(opts.routerSettings ?? {}) };
  if (opts.numRetries !== undefined) routerSettings.num_retries = opts.numRetries;
  const config: Record<string, unknown> = {
    model_list: modelList,
    litellm_settings: litellmSettings,
    general_settings: { master_key: opts.masterKey, ...(opts.generalSettings ?? {}) },
  };
  if (Object.keys(routerSettings).length > 0) config.router_settings = routerSettings;
  return config;
}

/** Number in a form PyYAML (YAML 1.1) reads as a number: no bare exponents like 1e-7. */
function yamlNumber(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`cannot write ${n} to YAML`);
  const s = String(n);
  if (!/e/i.test(s)) return s;
  return n.toFixed(20).replace(/0+$/, '').replace(/\.$/, '.0');
}

/**
 * A float the way PyYAML reads one. LiteLLM reads its config with PyYAML, which speaks YAML 1.1:
 * there a float needs a dot, so `1e-7` (a per-token price) would be the string "1e-7".
 */
const PYYAML_FLOAT: ScalarTag = {
  tag: 'tag:yaml.org,2002:float',
  identify: (v) => typeof v === 'number' && !Number.isInteger(v),
  default: true,
  test: /^[-+]?[0-9][0-9_]*\.[0-9_]*$/,
  resolve: (s) => Number.parseFloat(s.replace(/_/g, '')),
  stringify: ({ value }) => yamlNumber(Number(value)),
};

/**
 * YAML for LiteLLM's config: YAML 1.1 (PyYAML's), so strings such as `yes` or `on` are quoted and
 * floats have a dot.
 */
export function toYaml(value: unknown): string {
  return stringify(value, { version: '1.1', customTags: (tags) => [PYYAML_FLOAT, ...tags] });
}

// ---------------------------------------------------------------------------------------------
// Process

/** A free TCP port on 127.0.0.1 (closed again before returning; a small race is accepted). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function readLogTail(file: string, lines = 40): string {
  try {
    return tail(fs.readFileSync(file, 'utf8'), lines);
  } catch {
    return '(no log)';
  }
}

/** Every proxy still running, killed if this process exits without stopping them. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const child of running) killGroup(child, 'SIGKILL');
  };
  process.on('exit', killAll);
  // The proxy runs in its own process group, so a Ctrl-C in the terminal does not reach it:
  // pass the signal on, then let it do what it would have done (re-raised when nobody else listens).
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Writes a config for the fake backend, starts `litellm --config ... --host 127.0.0.1 --port N`
 * in its own process group with the offline environment, and waits until /health/liveliness
 * answers 200 (or the process dies, or startTimeoutMs passes).
 */
export async function startLitellm(opts: StartLitellmOptions): Promise<LitellmProxy> {
  const backend = new URL(opts.backendUrl);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(backend.hostname) && !backend.hostname.startsWith('127.')) {
    throw new UserError(`startLitellm: backendUrl must be a loopback address, got ${backend.hostname}`);
  }
  const litellmBin = opts.litellmBin ?? (await ensureLitellm()).litellmBin;
  const workDir = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'codex-litellm-proxy-'));
  fs.mkdirSync(workDir, { recursive: true });
  const configFile = path.join(workDir, 'config.yaml');
  const logFile = opts.logFile ?? path.join(workDir, 'litellm.log');
  const config = buildLitellmConfig(opts);
  fs.writeFileSync(configFile, `# generated by scripts/e2e/litellm-proxy.ts\n${toYaml(config)}`, { mode: 0o600 });

  const port = opts.port ?? (await freePort());
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of STRIPPED_ENV) delete env[k];
  Object.assign(env, LITELLM_OFFLINE_ENV, opts.env ?? {});

  const logFd = fs.openSync(logFile, 'a', 0o600);
  const started = Date.now();
  let child: ChildProcess;
  try {
    child = spawn(litellmBin, ['--config', configFile, '--host', '127.0.0.1', '--port', String(port)], {
      cwd: workDir,
      env,
      detached: true, // own process group, so stop() reaches uvicorn's workers too
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    fs.closeSync(logFd);
  }
  installExitHook();
  running.add(child);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve();
    });
    child.once('error', (e) => {
      spawnError = e;
      running.delete(child);
      resolve();
    });
  });

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited === undefined && spawnError === undefined) {
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 10_000);
      await exitPromise;
      clearTimeout(timer);
      killGroup(child, 'SIGKILL'); // any straggler left in the group
    }
    fs.rmSync(configFile, { force: true });
  };
  const kill = async () => {
    if (exited === undefined && spawnError === undefined) {
      killGroup(child, 'SIGKILL');
      await exitPromise;
    }
    fs.rmSync(configFile, { force: true });
  };

  const deadline = started + (opts.startTimeoutMs ?? 120_000);
  for (;;) {
    if (spawnError) {
      await stop();
      throw new UserError(`Could not start ${litellmBin}: ${spawnError.message}`, 'Run ensureLitellm() first, or pass litellmBin.');
    }
    if (exited) {
      await stop();
      throw new UserError(`LiteLLM exited during startup (code ${exited.code}, signal ${exited.signal}). Log ${logFile}:\n${readLogTail(logFile)}`);
    }
    try {
      const res = await fetch(`${url}/health/liveliness`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new UserError(
        `LiteLLM did not become healthy on ${url} within ${Math.round((opts.startTimeoutMs ?? 120_000) / 1000)} s. Log ${logFile}:\n${readLogTail(logFile)}`,
      );
    }
    await sleep(250);
  }

  return {
    url,
    port,
    masterKey: opts.masterKey,
    logFile,
    configFile,
    pid: child.pid ?? -1,
    startupSeconds: (Date.now() - started) / 1000,
    stop,
    kill,
  };
}

// ---------------------------------------------------------------------------------------------
// Counting forwarder

export interface ForwardedRequest {
  /** 1-based order of arrival. */
  seq: number;
  method: string;
  /** Path without the query string. */
  path: string;
  /** The tools a JSON request body offered (chat or Responses shape); [] when none. */
  tools: ToolInfo[];
  /** Status of the proxy's answer (502 when the proxy could not be reached). */
  status?: number;
  /** `x-litellm-response-cost` of the answer, when the proxy sent one. */
  headerCost?: number;
  /** `usage.cost` in the answer's body (a JSON body, or the last stream event carrying one). */
  usageCost?: number;
}

export interface CountingForwarder {
  /** Base URL, e.g. http://127.0.0.1:34567 (append /v1/...). */
  url: string;
  port: number;
  /** Live array of what passed through (mutated in place). */
  requests: ForwardedRequest[];
  /** How many POSTs passed through, optionally only those to `path`. */
  posts(path?: string): number;
  /** Forget what passed through. */
  reset(): void;
  /**
   * Garbles the next `count` streamed answers to POST /v1/responses, as a broken hop between a
   * client and the proxy would: the data of their `response.completed` event becomes `garbage`
   * (which is not JSON). Everything else passes unchanged.
   */
  mangle(count: number, garbage: string): void;
  close(): Promise<void>;
}

/** Most of a body kept for reading its tools or cost; Codex's requests and answers stay far below. */
const MAX_KEPT_BODY = 8 * 1024 * 1024;

function finiteNumber(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/**
 * LiteLLM's own cost figure in an answer body: `usage.cost` (or `response.usage.cost`) of a JSON
 * body, or of the last `data:` event of a stream that carries one (`response.completed`, or the
 * usage chunk of a chat stream). Undefined when there is none.
 */
export function bodyCost(text: string): number | undefined {
  const costOf = (doc: unknown): number | undefined => {
    if (typeof doc !== 'object' || doc === null) return undefined;
    const d = doc as { usage?: { cost?: unknown }; response?: { usage?: { cost?: unknown } } };
    return finiteNumber(d.usage?.cost) ?? finiteNumber(d.response?.usage?.cost);
  };
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      return costOf(JSON.parse(trimmed));
    } catch {
      /* not one JSON document: read it as a stream */
    }
  }
  let found: number | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (!data.startsWith('{')) continue;
    try {
      found = costOf(JSON.parse(data)) ?? found;
    } catch {
      /* a partial line: ignore */
    }
  }
  return found;
}

/**
 * A tiny HTTP pass-through on 127.0.0.1 in front of `targetUrl` (the LiteLLM proxy) that records
 * every request (method, path, the tools its body offered, status, LiteLLM's cost figure) and
 * streams both ways unchanged. Point a client's api_base at `url` to see what it really sent to
 * the proxy, before LiteLLM translates anything.
 */
export async function startCountingForwarder(targetUrl: string): Promise<CountingForwarder> {
  const target = new URL(targetUrl);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname) && !target.hostname.startsWith('127.')) {
    throw new UserError(`startCountingForwarder: the target must be a loopback address, got ${target.hostname}`);
  }
  const agent = new http.Agent({ keepAlive: false });
  const requests: ForwardedRequest[] = [];
  let seq = 0;
  const mangling = { left: 0, garbage: '' };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://forwarder.invalid');
    const rec: ForwardedRequest = { seq: ++seq, method: req.method ?? 'GET', path: url.pathname, tools: [] };
    requests.push(rec);
    const sent: Buffer[] = [];
    let sentBytes = 0;
    req.on('data', (c: Buffer) => {
      if (sentBytes < MAX_KEPT_BODY) sent.push(c);
      sentBytes += c.length;
    });
    req.on('end', () => {
      if (sentBytes === 0 || sentBytes > MAX_KEPT_BODY) return;
      try {
        rec.tools = requestTools(JSON.parse(Buffer.concat(sent).toString('utf8')));
      } catch {
        /* not JSON (or compressed): no tools to read */
      }
    });
    const headers = { ...req.headers, host: target.host };
    const upstream = http.request(
      { agent, host: target.hostname.replace(/^\[|\]$/g, ''), port: target.port || 80, method: req.method, path: req.url, headers },
      (up) => {
        rec.status = up.statusCode ?? 502;
        rec.headerCost = finiteNumber(up.headers['x-litellm-response-cost']);
        const garble =
          mangling.left > 0 &&
          req.method === 'POST' &&
          rec.path === '/v1/responses' &&
          String(up.headers['content-type'] ?? '').startsWith('text/event-stream');
        if (garble) mangling.left--;
        const headers = { ...up.headers };
        if (garble) delete headers['content-length'];
        res.writeHead(rec.status, headers);
        const kept: Buffer[] = [];
        let keptBytes = 0;
        let pending = ''; // a garbled answer goes on line by line
        const pass = (text: string): string =>
          text
            .split('\n')
            .map((line) => (line.startsWith('data:') && line.includes('"response.completed"') ? `data: ${mangling.garbage}` : line))
            .join('\n');
        up.on('data', (c: Buffer) => {
          if (keptBytes < MAX_KEPT_BODY) {
            kept.push(c);
            keptBytes += c.length;
          }
          if (!garble) {
            res.write(c);
            return;
          }
          pending += c.toString('utf8');
          const cut = pending.lastIndexOf('\n');
          if (cut >= 0) {
            res.write(pass(pending.slice(0, cut + 1)));
            pending = pending.slice(cut + 1);
          }
        });
        up.on('end', () => {
          rec.usageCost = bodyCost(Buffer.concat(kept).toString('utf8'));
          res.end(garble ? pass(pending) : undefined);
        });
        up.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (e) => {
      rec.status = 502;
      if (!res.headersSent) {
        const body = JSON.stringify({ error: { message: `counting forwarder: ${e.message}`, type: 'forwarder_error', param: null, code: '502' } });
        res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body).toString() });
        res.end(body);
      } else {
        res.destroy();
      }
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    posts: (p?: string) => requests.filter((r) => r.method === 'POST' && (p === undefined || r.path === p)).length,
    reset: () => {
      requests.length = 0;
    },
    mangle: (count: number, garbage: string) => {
      mangling.left = count;
      mangling.garbage = garbage;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
