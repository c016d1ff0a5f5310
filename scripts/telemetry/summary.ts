/**
 * Summarises codex-litellm's local telemetry: the JSON lines `codex-litellm` writes per model
 * request (litellm/crates/core/src/telemetry.rs, `RequestRecord`), including rotated files.
 *
 *   npx tsx scripts/telemetry/summary.ts [--dir DIR] [--file sessions.jsonl] [--json]
 *
 * Where the files are: --dir, else `[telemetry].dir` of CODEX_HOME/config.toml, else
 * CODEX_HOME/litellm/telemetry (CODEX_HOME defaults to ~/.codex), as the binary decides.
 * Rotations (`sessions.jsonl.N` … `.1`, then `sessions.jsonl`) are read oldest first. Lines that
 * are not records are counted and reported, never fatal: a crash mid-write or a hand edit must
 * not hide the rest of the history.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserError, describeError } from '../lib/errors.ts';

export const DEFAULT_FILE = 'sessions.jsonl';
export const CACHE_TIERS = ['tier0', 'litellm', 'provider'] as const;
export type CacheTier = (typeof CACHE_TIERS)[number];

/** The fields of a record this summary uses (the file has more). */
export interface TelemetryRecord {
  ts: string;
  session_id: string;
  seq: number;
  model: string;
  status: string;
  tokens_in: number;
  tokens_cached: number;
  tokens_out: number;
  tokens_reasoning: number;
  cost_usd: number | null;
  cache_tier: string | null;
}

export interface ReadResult {
  files: string[];
  records: TelemetryRecord[];
  badLines: number;
}

export interface SessionSummary {
  id: string;
  first: string;
  last: string;
  requests: number;
  errors: number;
  costUsd: number;
}

export interface ModelSummary {
  model: string;
  requests: number;
  errors: number;
  tokensIn: number;
  tokensCached: number;
  tokensOut: number;
  tokensReasoning: number;
  costUsd: number;
}

export interface Summary {
  dir: string;
  files: string[];
  badLines: number;
  sessions: SessionSummary[];
  models: ModelSummary[];
  /** Share of all requests served (fully or partly) by each cache tier, in percent. */
  cacheHitRates: Record<CacheTier, number>;
  cacheHits: Record<CacheTier, number>;
  totals: {
    sessions: number;
    requests: number;
    errors: number;
    tokensIn: number;
    tokensCached: number;
    tokensOut: number;
    tokensReasoning: number;
    costUsd: number;
    /** Requests without a known cost: when non-zero, costUsd is a lower bound. */
    uncostedRequests: number;
  };
}

/** The session file and its rotations in `dir`, oldest first. */
export function sessionFiles(dir: string, file: string): string[] {
  const prefix = `${file}.`;
  const rotated = fs
    .readdirSync(dir)
    .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
    .map((name) => ({ name, n: Number(name.slice(prefix.length)) }))
    .sort((a, b) => b.n - a.n)
    .map((r) => path.join(dir, r.name));
  const live = path.join(dir, file);
  return fs.existsSync(live) ? [...rotated, live] : rotated;
}

const NUMBER_FIELDS = ['seq', 'tokens_in', 'tokens_cached', 'tokens_out', 'tokens_reasoning'] as const;

/** One line → a record, or undefined when it is not one (what the Rust reader skips too). */
export function parseRecord(line: string): TelemetryRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  if (typeof o.session_id !== 'string' || typeof o.model !== 'string') return undefined;
  const numbers: Partial<Record<(typeof NUMBER_FIELDS)[number], number>> = {};
  for (const field of NUMBER_FIELDS) {
    const v = o[field] ?? 0;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return undefined;
    numbers[field] = v;
  }
  const cost = o.cost_usd ?? null;
  if (cost !== null && (typeof cost !== 'number' || !Number.isFinite(cost))) return undefined;
  const tier = o.cache_tier ?? null;
  if (tier !== null && typeof tier !== 'string') return undefined;
  return {
    ts: typeof o.ts === 'string' ? o.ts : '',
    session_id: o.session_id,
    model: o.model,
    status: typeof o.status === 'string' ? o.status : 'ok',
    seq: numbers.seq ?? 0,
    tokens_in: numbers.tokens_in ?? 0,
    tokens_cached: numbers.tokens_cached ?? 0,
    tokens_out: numbers.tokens_out ?? 0,
    tokens_reasoning: numbers.tokens_reasoning ?? 0,
    cost_usd: cost,
    cache_tier: tier,
  };
}

/** Reads every record of `file` (with rotations) in `dir`, counting lines that are not records. */
export function readRecords(dir: string, file: string): ReadResult {
  const files = sessionFiles(dir, file);
  const records: TelemetryRecord[] = [];
  let badLines = 0;
  for (const f of files) {
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const record = parseRecord(line);
      if (record) records.push(record);
      else badLines++;
    }
  }
  return { files, records, badLines };
}

/** Earlier of two timestamps by time (ISO strings with different precision compare wrongly as text). */
function earlier(a: string, b: string): boolean {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (Number.isNaN(tb)) return !Number.isNaN(ta);
  if (Number.isNaN(ta)) return false;
  return ta < tb;
}

export function summarize(dir: string, read: ReadResult): Summary {
  const sessions = new Map<string, SessionSummary>();
  const models = new Map<string, ModelSummary>();
  const cacheHits: Record<CacheTier, number> = { tier0: 0, litellm: 0, provider: 0 };
  const totals: Summary['totals'] = {
    sessions: 0,
    requests: 0,
    errors: 0,
    tokensIn: 0,
    tokensCached: 0,
    tokensOut: 0,
    tokensReasoning: 0,
    costUsd: 0,
    uncostedRequests: 0,
  };
  for (const r of read.records) {
    const isError = r.status === 'error';
    const cost = r.cost_usd ?? 0;

    let s = sessions.get(r.session_id);
    if (!s) {
      s = { id: r.session_id, first: r.ts, last: r.ts, requests: 0, errors: 0, costUsd: 0 };
      sessions.set(r.session_id, s);
    }
    if (earlier(r.ts, s.first)) s.first = r.ts;
    if (earlier(s.last, r.ts)) s.last = r.ts;
    s.requests++;
    if (isError) s.errors++;
    s.costUsd += cost;

    let m = models.get(r.model);
    if (!m) {
      m = { model: r.model, requests: 0, errors: 0, tokensIn: 0, tokensCached: 0, tokensOut: 0, tokensReasoning: 0, costUsd: 0 };
      models.set(r.model, m);
    }
    m.requests++;
    if (isError) m.errors++;
    m.tokensIn += r.tokens_in;
    m.tokensCached += r.tokens_cached;
    m.tokensOut += r.tokens_out;
    m.tokensReasoning += r.tokens_reasoning;
    m.costUsd += cost;

    totals.requests++;
    if (isError) totals.errors++;
    totals.tokensIn += r.tokens_in;
    totals.tokensCached += r.tokens_cached;
    totals.tokensOut += r.tokens_out;
    totals.tokensReasoning += r.tokens_reasoning;
    totals.costUsd += cost;
    // Same rule as SessionTotals in cost.rs: a failure that used no tokens is free, not unknown.
    const usedTokens = r.tokens_in + r.tokens_out > 0;
    if (r.cost_usd === null && (usedTokens || !isError)) totals.uncostedRequests++;
    if (r.cache_tier && (CACHE_TIERS as readonly string[]).includes(r.cache_tier)) cacheHits[r.cache_tier as CacheTier]++;
  }
  totals.sessions = sessions.size;
  const rate = (hits: number): number => (totals.requests ? (hits * 100) / totals.requests : 0);
  return {
    dir,
    files: read.files,
    badLines: read.badLines,
    sessions: [...sessions.values()].sort((a, b) => (earlier(a.first, b.first) ? -1 : earlier(b.first, a.first) ? 1 : a.id.localeCompare(b.id))),
    models: [...models.values()].sort((a, b) => b.requests - a.requests || a.model.localeCompare(b.model)),
    cacheHitRates: { tier0: rate(cacheHits.tier0), litellm: rate(cacheHits.litellm), provider: rate(cacheHits.provider) },
    cacheHits,
    totals,
  };
}

/** Dollars with cents for large sums and six decimals below a dollar (requests cost fractions of a cent). */
export function formatCost(usd: number): string {
  return usd === 0 ? '$0' : `$${usd.toFixed(usd >= 1 ? 2 : 6)}`;
}

/** The first `left` columns are left-aligned (text); the others right-aligned (numbers). */
function table(header: string[], rows: string[][], left: number): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => (i < left ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}

export function formatSummary(s: Summary): string {
  const out: string[] = [];
  const n = (x: number): string => x.toLocaleString('en-US');
  out.push(`Telemetry: ${s.dir} (${s.files.length} file${s.files.length === 1 ? '' : 's'}, ${n(s.totals.requests)} records)`);
  if (s.badLines) out.push(s.badLines === 1 ? 'Skipped 1 line that is not a record.' : `Skipped ${n(s.badLines)} lines that are not records.`);
  if (!s.totals.requests) {
    out.push('No requests recorded yet.');
    return out.join('\n');
  }
  out.push('', `Sessions: ${s.sessions.length}`);
  out.push(
    ...table(
      ['SESSION', 'FIRST', 'LAST', 'REQUESTS', 'ERRORS', 'COST'],
      s.sessions.map((x) => [x.id, x.first, x.last, n(x.requests), n(x.errors), formatCost(x.costUsd)]),
      3,
    ),
  );
  out.push('', 'Models:');
  out.push(
    ...table(
      ['MODEL', 'REQUESTS', 'ERRORS', 'TOKENS IN', 'CACHED', 'OUT', 'COST'],
      s.models.map((m) => [m.model, n(m.requests), n(m.errors), n(m.tokensIn), n(m.tokensCached), n(m.tokensOut), formatCost(m.costUsd)]),
      1,
    ),
  );
  const pct = (x: number): string => `${x.toFixed(1)}%`;
  out.push('', `Cache hits: ${CACHE_TIERS.map((t) => `${t} ${pct(s.cacheHitRates[t])} (${n(s.cacheHits[t])})`).join(', ')}`);
  const t = s.totals;
  const lowerBound = t.uncostedRequests ? ` (at least; ${n(t.uncostedRequests)} request${t.uncostedRequests === 1 ? '' : 's'} without a known cost)` : '';
  out.push(
    `Totals: ${n(t.sessions)} session${t.sessions === 1 ? '' : 's'}, ${n(t.requests)} request${t.requests === 1 ? '' : 's'}, ${n(t.errors)} error${t.errors === 1 ? '' : 's'}, ` +
      `tokens in ${n(t.tokensIn)} (cached ${n(t.tokensCached)}), out ${n(t.tokensOut)} (reasoning ${n(t.tokensReasoning)}), cost ${formatCost(t.costUsd)}${lowerBound}`,
  );
  return out.join('\n');
}

/** CODEX_HOME as the binary finds it. */
export function codexHome(env: NodeJS.ProcessEnv): string {
  return env.CODEX_HOME ? env.CODEX_HOME : path.join(env.HOME ?? os.homedir(), '.codex');
}

/**
 * `[telemetry].dir` and `logs.session.file` from config.toml. Only the simple spellings are
 * understood (`key = "string"` under `[telemetry]`, `[telemetry.logs.session]`); --dir and --file
 * cover anything else.
 */
export function configuredLocation(configToml: string): { dir?: string; file?: string } {
  const out: { dir?: string; file?: string } = {};
  let table = '';
  for (const raw of configToml.split('\n')) {
    const line = raw.trim();
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      table = header[1] ?? '';
      continue;
    }
    const kv = /^([A-Za-z0-9_.\s]+?)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(?:#.*)?$/.exec(line);
    if (!kv) continue;
    const key = `${table}.${(kv[1] ?? '').replace(/\s+/g, '')}`;
    const value = kv[2] !== undefined ? kv[2].replace(/\\(.)/g, '$1') : (kv[3] ?? '');
    if (key === 'telemetry.dir') out.dir = value;
    // `logs.session.file` under [telemetry], `file` under [telemetry.logs.session], …
    if (key === 'telemetry.logs.session.file') out.file = value;
  }
  return out;
}

function expandHome(p: string, home: string, env: NodeJS.ProcessEnv): string {
  const user = env.HOME ?? os.homedir();
  if (p === '~') return user;
  if (p.startsWith('~/')) return path.join(user, p.slice(2));
  return path.isAbsolute(p) ? p : path.join(home, p);
}

export interface Options {
  dir?: string;
  file?: string;
  json: boolean;
}

export function parseArgs(argv: string[]): Options {
  const opts: Options = { json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UserError(`${arg} needs a value`, 'Usage: summary.ts [--dir DIR] [--file sessions.jsonl] [--json]');
      return v;
    };
    if (arg === '--json') opts.json = true;
    else if (arg === '--dir') opts.dir = value();
    else if (arg.startsWith('--dir=')) opts.dir = arg.slice('--dir='.length);
    else if (arg === '--file') opts.file = value();
    else if (arg.startsWith('--file=')) opts.file = arg.slice('--file='.length);
    else throw new UserError(`unknown argument \`${arg}\``, 'Usage: summary.ts [--dir DIR] [--file sessions.jsonl] [--json]');
  }
  return opts;
}

/** Runs the tool and returns what it prints; throws UserError for what a person must fix. */
export function run(argv: string[], env: NodeJS.ProcessEnv = process.env): string {
  const opts = parseArgs(argv);
  const home = codexHome(env);
  const configPath = path.join(home, 'config.toml');
  const configured = fs.existsSync(configPath) ? configuredLocation(fs.readFileSync(configPath, 'utf8')) : {};
  const dir = opts.dir ? path.resolve(opts.dir) : configured.dir ? expandHome(configured.dir, home, env) : path.join(home, 'litellm', 'telemetry');
  const file = opts.file ?? configured.file ?? DEFAULT_FILE;
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new UserError(
      `telemetry directory ${dir} does not exist`,
      'Pass --dir DIR, or set CODEX_HOME (telemetry lives in CODEX_HOME/litellm/telemetry unless [telemetry].dir in config.toml says otherwise). ' +
        'codex-litellm writes it unless [telemetry] enabled = false or --no-telemetry is used.',
    );
  }
  const summary = summarize(dir, readRecords(dir, file));
  return opts.json ? JSON.stringify(summary, null, 2) : formatSummary(summary);
}

function main(): void {
  try {
    console.log(run(process.argv.slice(2)));
  } catch (e) {
    const { message, hint } = describeError(e);
    console.error(`error: ${message}`);
    if (hint) console.error(hint);
    process.exitCode = e instanceof UserError ? e.exitCode : 1;
  }
}

const invokedAs = process.argv[1];
if (invokedAs !== undefined && import.meta.url === pathToFileURL(invokedAs).href) main();
