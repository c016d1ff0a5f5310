/**
 * A fake OpenAI-compatible backend for end-to-end tests: node:http only, loopback only,
 * deterministic. LiteLLM (or codex-litellm directly) talks to it as if it were OpenAI.
 *
 * Endpoints
 *   GET  /v1/models, /v1/models/:id      model list (fake-model, fake-tools, fake-reasoning)
 *   POST /v1/chat/completions            `chat.completion` JSON, or SSE `chat.completion.chunk`s
 *                                        ending in `data: [DONE]`; with
 *                                        `stream_options.include_usage` the last chunk carries
 *                                        `choices: []` and `usage`
 *   POST /v1/responses                   Responses API object, or its SSE event stream
 *   GET  /__requests                     JSON array of every recorded request (see RecordedRequest)
 *   GET  /__stats                        JSON counters ({ chatCompletions, responses, models, ... })
 *   POST /__reset                        forget recorded requests and counters (not the config)
 *   GET  /__config, POST /__config       the settings; POST merges
 *                                        { cachedTokens?, cachedTokensByModel?, faults? } and answers the result
 * The same routes also answer without the /v1 prefix.
 *
 * Script, decided from the text of the LAST user message, whether a tool result follows it, and
 * the names of the tools the request offers:
 *   "capital of France"                -> "The capital of France is Paris."
 *   "List files", no tool result       -> a call of the shell tool the request offers, preferring
 *                                         `exec_command` {"cmd":"ls -1"}, then `shell_command`
 *                                         {"command":"ls -1"}, then `shell` {"command":["ls","-1"]}
 *                                         (also when the request names none of them)
 *   "List files", tool result          -> "Files: <tool output, trimmed>"
 *   "Create hello.txt", no tool result -> a call of function `apply_patch` with {"input": HELLO_PATCH}
 *                                         (adds hello.txt holding `hello from codex-litellm`);
 *                                         "NO APPLY_PATCH TOOL" when the request offers none, and
 *                                         "APPLY_PATCH IS A <type> TOOL, NOT A FUNCTION" when it
 *                                         offers one of another type (say a freeform `custom` one)
 *   "Create hello.txt", tool result    -> "Created hello.txt."
 *   "trigger error 500"                -> HTTP 500, OpenAI-style error JSON
 *   "trigger error 429"                -> HTTP 429, OpenAI-style error JSON, `retry-after: 1`
 *   anything else                      -> "Echo: <prompt>"
 * A tool result is a chat message of role `tool`, or a Responses input item of type
 * `function_call_output` (or `custom_tool_call_output`), placed after the last user message (so a
 * second "List files" turn in the same conversation calls the tool again rather than reusing the
 * old output). Tools are read in both shapes: chat `{type:"function", function:{name}}` and
 * Responses `{type, name}`; every recorded request keeps the list (RecordedRequest.tools).
 *
 * Faults: `fail(rules)` (or `faults` in POST /__config) makes the next model requests fail on
 * purpose, in order, each rule for `times` requests (default 1; 0: until cleared with `fail([])`):
 * (`skip: n` lets n requests through before its rule starts):
 *   { kind: 'status', status, retryAfter?, body? } -> that HTTP status with an OpenAI-style JSON error,
 *                                         or (`body: 'html'`) an HTML page; `retry-after` when given
 *   { kind: 'abort', afterEvents? }       -> stream that many events (default 3), then cut the connection
 *   { kind: 'malformed', afterEvents? }   -> stream that many events, then a data line that is not JSON
 *   { kind: 'hold', afterEvents? }        -> stream that many events, then nothing until the client goes
 *                                         away or `release()` (stats.held counts such streams)
 * Every fault body names FAULT_SECRET, a key-shaped string that must never reach a user's screen.
 *
 * Usage is deterministic: prompt/input tokens = whitespace-separated words of all input text
 * (system/developer/user/assistant messages, instructions, tool outputs) + 10; completion/output
 * tokens = words of the answer + 1 (for a tool call: words of name + arguments + 1);
 * cached tokens = `cachedTokensByModel[<request model>]`, else `cachedTokens` (default 0), capped
 * at the prompt tokens.
 *
 * Standalone: `npx tsx scripts/e2e/fake-backend.ts [--port N] [--host 127.0.0.1]` prints
 * `listening <url>` and serves until SIGINT/SIGTERM.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

export const FAKE_MODELS = ['fake-model', 'fake-tools', 'fake-reasoning'] as const;

export const PARIS_ANSWER = 'The capital of France is Paris.';
export const LIST_FILES_TOOL = { name: 'shell', arguments: '{"command":["ls","-1"]}' } as const;
/** How each shell tool of Codex is asked to list the working directory, in order of preference. */
export const SHELL_CALLS = [
  { name: 'exec_command', arguments: '{"cmd":"ls -1"}' },
  { name: 'shell_command', arguments: '{"command":"ls -1"}' },
  LIST_FILES_TOOL,
] as const;

export const HELLO_FILE = 'hello.txt';
export const HELLO_LINE = 'hello from codex-litellm';
/** The patch the "Create hello.txt" script applies (apply_patch's own format). */
export const HELLO_PATCH = `*** Begin Patch\n*** Add File: ${HELLO_FILE}\n+${HELLO_LINE}\n*** End Patch\n`;
export const CREATED_ANSWER = `Created ${HELLO_FILE}.`;
export const NO_APPLY_PATCH_ANSWER = 'NO APPLY_PATCH TOOL';

/** A tool a request offered: its type (`function`, `custom`, `web_search`, ...) and name, if any. */
export interface ToolInfo {
  type: string;
  name?: string;
}

export interface RecordedRequest {
  /** 1-based order of arrival. */
  seq: number;
  /** When it arrived (Date.now()). */
  at: number;
  method: string;
  /** Path without the query string. */
  path: string;
  query: string;
  /** Lower-cased header names; `authorization`, `api-key` and `x-api-key` are left out. */
  headers: Record<string, string>;
  /** Whether an `authorization` header was present (its value is never recorded). */
  hadAuthorization: boolean;
  /** Parsed JSON body; the raw text when it was not JSON; undefined when empty. */
  body: unknown;
  /** The tools the body offered (chat or Responses shape), in order; [] when none. */
  tools: ToolInfo[];
  /** HTTP status the fake answered with. */
  status?: number;
}

/** A key-shaped string every fault body carries: clients must redact it before showing text. */
export const FAULT_SECRET = 'sk-fault-planted-7d1c0ffee15bad';
/** The data line of a `malformed` fault: a broken JSON document naming FAULT_SECRET. */
export const MALFORMED_EVENT = `{"type":"response.output_text.delta","delta":<<not json>> token ${FAULT_SECRET}`;
/** The body of a `status` fault with `body: 'html'`. */
export const HTML_ERROR_PAGE = `<html><head><title>Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>upstream rejected key ${FAULT_SECRET}</p></body></html>`;

/** One way for a model request to fail on purpose (see FakeBackend.fail). */
export type Fault =
  | { kind: 'status'; status: number; retryAfter?: number; body?: 'json' | 'html' }
  | { kind: 'abort'; afterEvents?: number }
  | { kind: 'malformed'; afterEvents?: number }
  | { kind: 'hold'; afterEvents?: number };

export interface FaultRule {
  fault: Fault;
  /** Model requests let through untouched before this rule starts failing them (default 0). */
  skip?: number;
  /** Model requests it fails (default 1; 0 or less: every one until the faults are cleared). */
  times?: number;
}

export interface FakeBackendStats {
  /** POST /v1/chat/completions calls (including the ones answered with an error). */
  chatCompletions: number;
  /** POST /v1/responses calls (including the ones answered with an error). */
  responses: number;
  /** chatCompletions + responses. */
  completions: number;
  models: number;
  /** Model requests failed on purpose (faults). */
  faults: number;
  /** Streams a `hold` fault is holding open right now. */
  held: number;
}

export interface FakeBackendOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Loopback address to bind; default 127.0.0.1. */
  host?: string;
  /** Model ids listed by /v1/models (default FAKE_MODELS). Requests for other ids are still served. */
  models?: readonly string[];
  /** `cached_tokens` reported in usage (default 0). */
  cachedTokens?: number;
  /** `cached_tokens` for requests naming these models (the `model` the backend receives); overrides cachedTokens. */
  cachedTokensByModel?: Record<string, number>;
  /** Delay between streamed events, in ms (default 0). */
  chunkDelayMs?: number;
}

export interface FakeBackend {
  /** Base URL without /v1, e.g. http://127.0.0.1:34567 */
  url: string;
  port: number;
  /** Live array of recorded requests (mutated in place as requests arrive). */
  requests: RecordedRequest[];
  /** Live counters. */
  stats: FakeBackendStats;
  /** Forget recorded requests and zero the counters (the config stays). */
  reset(): void;
  /** Changes the settings from now on (merged; as POST /__config). */
  configure(config: FakeBackendConfig): FakeBackendConfig;
  /** Fails the next model requests as these rules say, in order (replaces earlier rules; [] clears). */
  fail(rules: FaultRule[]): void;
  /** Ends every stream a `hold` fault holds open (their connections are cut). */
  release(): void;
  close(): Promise<void>;
}

/** What can be changed while the backend runs. */
export interface FakeBackendConfig {
  cachedTokens?: number;
  cachedTokensByModel?: Record<string, number>;
  /** Faults still to come (as `fail` sets them); setting it replaces them. */
  faults?: FaultRule[];
}

// ---------------------------------------------------------------------------------------------
// Script

export type Decision = { kind: 'text'; text: string } | { kind: 'tool_call'; name: string; arguments: string } | { kind: 'error'; status: 500 | 429 };

export interface Conversation {
  /** Text of the last user message ('' when there is none). */
  lastUserText: string;
  /** Output of the last tool result after the last user message, if any. */
  toolOutput: string | undefined;
  /** All input text, joined by newlines (for usage counting). */
  allText: string;
  /** The tools the request offers (requestTools); none when absent. */
  tools?: readonly ToolInfo[];
}

/** The shell call for the tools offered: exec_command, else shell_command, else shell. */
export function shellCall(tools: readonly ToolInfo[]): { name: string; arguments: string } {
  const names = new Set(tools.map((t) => t.name));
  return SHELL_CALLS.find((c) => names.has(c.name)) ?? LIST_FILES_TOOL;
}

export function decide(conv: Conversation): Decision {
  const prompt = conv.lastUserText;
  const tools = conv.tools ?? [];
  if (prompt.includes('trigger error 500')) return { kind: 'error', status: 500 };
  if (prompt.includes('trigger error 429')) return { kind: 'error', status: 429 };
  if (prompt.includes('capital of France')) return { kind: 'text', text: PARIS_ANSWER };
  if (prompt.includes('List files')) {
    if (conv.toolOutput === undefined) return { kind: 'tool_call', ...shellCall(tools) };
    return { kind: 'text', text: `Files: ${conv.toolOutput.trim()}` };
  }
  if (prompt.includes(`Create ${HELLO_FILE}`)) {
    if (conv.toolOutput !== undefined) return { kind: 'text', text: CREATED_ANSWER };
    const patch = tools.filter((t) => t.name === 'apply_patch');
    if (patch.length === 0) return { kind: 'text', text: NO_APPLY_PATCH_ANSWER };
    if (!patch.some((t) => t.type === 'function')) return { kind: 'text', text: `APPLY_PATCH IS A ${patch[0]!.type} TOOL, NOT A FUNCTION` };
    return { kind: 'tool_call', name: 'apply_patch', arguments: JSON.stringify({ input: HELLO_PATCH }) };
  }
  return { kind: 'text', text: `Echo: ${prompt}` };
}

/**
 * The tools of a request body, in either shape: chat `{type:"function", function:{name}}` or
 * Responses `{type, name}` (`{type:"web_search"}` and the like have no name).
 */
export function requestTools(body: unknown): ToolInfo[] {
  if (!isRecord(body) || !Array.isArray(body.tools)) return [];
  const out: ToolInfo[] = [];
  for (const t of body.tools) {
    if (!isRecord(t)) continue;
    const type = typeof t.type === 'string' ? t.type : '(none)';
    const name = isRecord(t.function) && typeof t.function.name === 'string' ? t.function.name : typeof t.name === 'string' ? t.name : undefined;
    out.push(name === undefined ? { type } : { type, name });
  }
  return out;
}

export function countWords(text: string): number {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text of a content value: a string, or an array of parts with a `text` (text/input_text/output_text). */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    const texts: string[] = [];
    for (const part of content) {
      if (typeof part === 'string') texts.push(part);
      else if (isRecord(part) && typeof part.text === 'string') texts.push(part.text);
    }
    return texts.join('\n');
  }
  return '';
}

/** Reads a chat-completions `messages` array. */
export function chatConversation(body: Record<string, unknown>): Conversation {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  let lastUserText = '';
  let toolOutput: string | undefined;
  const all: string[] = [];
  for (const m of messages) {
    if (!isRecord(m)) continue;
    const text = contentText(m.content);
    if (text) all.push(text);
    if (m.role === 'user') {
      lastUserText = text;
      toolOutput = undefined;
    } else if (m.role === 'tool') {
      toolOutput = text;
    }
  }
  return { lastUserText, toolOutput, allText: all.join('\n'), tools: requestTools(body) };
}

/** Reads a Responses API `input` (a string, or a list of items) plus `instructions`. */
export function responsesConversation(body: Record<string, unknown>): Conversation {
  const all: string[] = [];
  if (typeof body.instructions === 'string' && body.instructions) all.push(body.instructions);
  const input = body.input;
  if (typeof input === 'string') {
    all.push(input);
    return { lastUserText: input, toolOutput: undefined, allText: all.join('\n'), tools: requestTools(body) };
  }
  let lastUserText = '';
  let toolOutput: string | undefined;
  for (const item of Array.isArray(input) ? input : []) {
    if (!isRecord(item)) continue;
    const type = typeof item.type === 'string' ? item.type : 'message';
    if (type === 'message') {
      const text = contentText(item.content);
      if (text) all.push(text);
      if (item.role === 'user') {
        lastUserText = text;
        toolOutput = undefined;
      }
    } else if (type === 'function_call_output' || type === 'custom_tool_call_output') {
      const text = contentText(item.output);
      if (text) all.push(text);
      toolOutput = text;
    } else if (type === 'function_call' && typeof item.arguments === 'string') {
      all.push(item.arguments);
    }
  }
  return { lastUserText, toolOutput, allText: all.join('\n'), tools: requestTools(body) };
}

interface Usage {
  prompt: number;
  completion: number;
  cached: number;
}

function usageFor(conv: Conversation, decision: Decision, cachedTokens: number): Usage {
  const prompt = countWords(conv.allText) + 10;
  const answerWords =
    decision.kind === 'text' ? countWords(decision.text) : decision.kind === 'tool_call' ? countWords(`${decision.name} ${decision.arguments}`) : 0;
  return { prompt, completion: answerWords + 1, cached: Math.min(Math.max(0, cachedTokens), prompt) };
}

function chatUsage(u: Usage) {
  return {
    prompt_tokens: u.prompt,
    completion_tokens: u.completion,
    total_tokens: u.prompt + u.completion,
    prompt_tokens_details: { cached_tokens: u.cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function responsesUsage(u: Usage) {
  return {
    input_tokens: u.prompt,
    input_tokens_details: { cached_tokens: u.cached },
    output_tokens: u.completion,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.prompt + u.completion,
  };
}

/** Splits text into word-sized deltas that concatenate back to it exactly. */
export function splitDeltas(text: string): string[] {
  const parts = text.match(/\S+\s*|\s+/g);
  return parts && parts.length > 0 ? parts : [text];
}

// ---------------------------------------------------------------------------------------------
// Server

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(data).toString(),
    ...headers,
  });
  res.end(data);
}

function openaiError(res: http.ServerResponse, status: number, message: string, type: string, code: string | null, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { message, type, param: null, code } }, headers);
}

function sendErrorDecision(res: http.ServerResponse, status: 500 | 429): void {
  if (status === 429) {
    openaiError(res, 429, 'Rate limit reached for fake-model (triggered by the fake backend). Please try again in 1s.', 'requests', 'rate_limit_exceeded', {
      'retry-after': '1',
      'retry-after-ms': '1000',
    });
  } else {
    openaiError(res, 500, 'The fake backend had an internal error (triggered).', 'server_error', 'internal_error');
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Thrown by SseWriter once a stream fault has ended the answer: the route stops writing. */
const STREAM_FAULTED = Symbol('stream faulted');

type StreamFault = Extract<Fault, { kind: 'abort' | 'malformed' | 'hold' }>;

/** What a `hold` fault needs from the server: the count of held streams and a way to be released. */
interface HoldControl {
  stats: FakeBackendStats;
  held: Set<() => void>;
}

class SseWriter {
  private events = 0;

  constructor(
    private readonly res: http.ServerResponse,
    private readonly delayMs: number,
    private readonly fault?: StreamFault,
    private readonly hold?: HoldControl,
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
  }

  async data(payload: unknown, event?: string): Promise<void> {
    if (this.res.destroyed) return;
    if (this.fault && this.events >= (this.fault.afterEvents ?? 3)) await this.strike();
    const head = event ? `event: ${event}\n` : '';
    this.res.write(`${head}data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`);
    this.events++;
    if (this.delayMs > 0) await sleep(this.delayMs);
  }

  async end(): Promise<void> {
    if (this.fault) await this.strike(); // an answer shorter than afterEvents fails at its end
    if (!this.res.destroyed) this.res.end();
  }

  /** Ends the answer the way the fault says and stops the route (throws STREAM_FAULTED). */
  private async strike(): Promise<never> {
    const fault = this.fault!;
    if (fault.kind === 'abort') {
      this.res.destroy();
    } else if (fault.kind === 'malformed') {
      this.res.end(`data: ${MALFORMED_EVENT}\n\n`);
    } else {
      const hold = this.hold!;
      hold.stats.held++;
      await new Promise<void>((resolve) => {
        hold.held.add(resolve);
        this.res.once('close', resolve);
      });
      hold.stats.held--;
      this.res.destroy();
    }
    throw STREAM_FAULTED;
  }
}

/** Answers a `status` fault: OpenAI-style JSON, or an HTML page; both name FAULT_SECRET. */
function sendStatusFault(res: http.ServerResponse, fault: Extract<Fault, { kind: 'status' }>): void {
  const headers: Record<string, string> = fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) };
  if (fault.body === 'html') {
    res.writeHead(fault.status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(HTML_ERROR_PAGE).toString(), ...headers });
    res.end(HTML_ERROR_PAGE);
    return;
  }
  const kinds: Record<number, [string, string]> = {
    401: ['invalid_request_error', 'invalid_api_key'],
    403: ['invalid_request_error', 'permission_denied'],
    429: ['requests', 'rate_limit_exceeded'],
  };
  const [type, code] = kinds[fault.status] ?? ['server_error', 'internal_error'];
  openaiError(res, fault.status, `The fake backend failed on purpose with HTTP ${fault.status} (key ${FAULT_SECRET}).`, type, code, headers);
}

export async function startFakeBackend(opts: FakeBackendOptions = {}): Promise<FakeBackend> {
  const host = opts.host ?? '127.0.0.1';
  const models = opts.models ?? FAKE_MODELS;
  const config: Required<FakeBackendConfig> = {
    cachedTokens: opts.cachedTokens ?? 0,
    cachedTokensByModel: { ...(opts.cachedTokensByModel ?? {}) },
    faults: [],
  };
  const cachedFor = (model: unknown): number =>
    typeof model === 'string' && Object.hasOwn(config.cachedTokensByModel, model) ? config.cachedTokensByModel[model]! : config.cachedTokens;
  const configure = (c: FakeBackendConfig): FakeBackendConfig => {
    if (typeof c.cachedTokens === 'number' && Number.isFinite(c.cachedTokens)) config.cachedTokens = c.cachedTokens;
    if (isRecord(c.cachedTokensByModel)) {
      for (const [m, n] of Object.entries(c.cachedTokensByModel)) if (typeof n === 'number' && Number.isFinite(n)) config.cachedTokensByModel[m] = n;
    }
    if (Array.isArray(c.faults)) config.faults = c.faults.filter((r) => isRecord(r) && isRecord(r.fault)).map((r) => ({ ...r }));
    return { cachedTokens: config.cachedTokens, cachedTokensByModel: { ...config.cachedTokensByModel }, faults: config.faults.map((r) => ({ ...r })) };
  };
  /** The fault for this model request, if a rule is left (a rule with times <= 0 never runs out). */
  const takeFault = (): Fault | undefined => {
    const rule = config.faults[0];
    if (!rule) return undefined;
    if ((rule.skip ?? 0) > 0) {
      rule.skip = (rule.skip ?? 0) - 1;
      return undefined;
    }
    const times = rule.times ?? 1;
    if (times > 0) {
      if (times === 1) config.faults.shift();
      else rule.times = times - 1;
    }
    stats.faults++;
    return rule.fault;
  };

  const delayMs = opts.chunkDelayMs ?? 0;
  const requests: RecordedRequest[] = [];
  const stats: FakeBackendStats = { chatCompletions: 0, responses: 0, completions: 0, models: 0, faults: 0, held: 0 };
  const hold: HoldControl = { stats, held: new Set() };
  let seq = 0;
  let idCounter = 0;
  const nextId = () => (++idCounter).toString().padStart(6, '0');
  const created = () => Math.floor(Date.now() / 1000);

  const modelObject = (id: string) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'fake-backend' });

  async function chatCompletions(body: Record<string, unknown>, res: http.ServerResponse, fault?: StreamFault): Promise<void> {
    const conv = chatConversation(body);
    const decision = decide(conv);
    if (decision.kind === 'error') return sendErrorDecision(res, decision.status);
    const usage = usageFor(conv, decision, cachedFor(body.model));
    const model = typeof body.model === 'string' ? body.model : 'fake-model';
    const id = `chatcmpl-fake${nextId()}`;
    const ts = created();
    const callId = decision.kind === 'tool_call' ? `call_fake${nextId()}` : '';

    if (body.stream !== true) {
      const message =
        decision.kind === 'text'
          ? { role: 'assistant', content: decision.text, refusal: null, annotations: [] }
          : {
              role: 'assistant',
              content: null,
              refusal: null,
              annotations: [],
              tool_calls: [{ id: callId, type: 'function', function: { name: decision.name, arguments: decision.arguments } }],
            };
      return sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created: ts,
        model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: decision.kind === 'text' ? 'stop' : 'tool_calls' }],
        usage: chatUsage(usage),
        service_tier: 'default',
        system_fingerprint: 'fp_fake',
      });
    }

    const streamOptions = isRecord(body.stream_options) ? body.stream_options : {};
    const includeUsage = streamOptions.include_usage === true;
    const sse = new SseWriter(res, delayMs, fault, hold);
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      id,
      object: 'chat.completion.chunk',
      created: ts,
      model,
      service_tier: 'default',
      system_fingerprint: 'fp_fake',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    });
    if (decision.kind === 'text') {
      await sse.data(chunk({ role: 'assistant', content: '', refusal: null }, null));
      for (const d of splitDeltas(decision.text)) await sse.data(chunk({ content: d }, null));
      await sse.data(chunk({}, 'stop'));
    } else {
      await sse.data(
        chunk(
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: decision.name, arguments: '' } }],
          },
          null,
        ),
      );
      for (const d of splitArgs(decision.arguments)) {
        await sse.data(chunk({ tool_calls: [{ index: 0, function: { arguments: d } }] }, null));
      }
      await sse.data(chunk({}, 'tool_calls'));
    }
    if (includeUsage) {
      await sse.data({
        id,
        object: 'chat.completion.chunk',
        created: ts,
        model,
        service_tier: 'default',
        system_fingerprint: 'fp_fake',
        choices: [],
        usage: chatUsage(usage),
      });
    }
    await sse.data('[DONE]');
    await sse.end();
  }

  async function responses(body: Record<string, unknown>, res: http.ServerResponse, fault?: StreamFault): Promise<void> {
    const conv = responsesConversation(body);
    const decision = decide(conv);
    if (decision.kind === 'error') return sendErrorDecision(res, decision.status);
    const usage = usageFor(conv, decision, cachedFor(body.model));
    const model = typeof body.model === 'string' ? body.model : 'fake-model';
    const respId = `resp_fake${nextId()}`;
    const ts = created();

    const baseResponse = (status: 'in_progress' | 'completed', output: unknown[], withUsage: boolean) => ({
      id: respId,
      object: 'response',
      created_at: ts,
      status,
      background: false,
      error: null,
      incomplete_details: null,
      instructions: typeof body.instructions === 'string' ? body.instructions : null,
      max_output_tokens: typeof body.max_output_tokens === 'number' ? body.max_output_tokens : null,
      model,
      output,
      parallel_tool_calls: typeof body.parallel_tool_calls === 'boolean' ? body.parallel_tool_calls : true,
      previous_response_id: typeof body.previous_response_id === 'string' ? body.previous_response_id : null,
      reasoning: { effort: null, summary: null },
      store: body.store !== false,
      temperature: 1.0,
      text: { format: { type: 'text' } },
      tool_choice: body.tool_choice ?? 'auto',
      tools: Array.isArray(body.tools) ? body.tools : [],
      top_p: 1.0,
      truncation: 'disabled',
      usage: withUsage ? responsesUsage(usage) : null,
      user: null,
      metadata: {},
    });

    let finalItem: Record<string, unknown>;
    const itemId = decision.kind === 'text' ? `msg_fake${nextId()}` : `fc_fake${nextId()}`;
    const callId = decision.kind === 'tool_call' ? `call_fake${nextId()}` : '';
    if (decision.kind === 'text') {
      finalItem = {
        id: itemId,
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: decision.text, annotations: [], logprobs: [] }],
      };
    } else {
      finalItem = {
        id: itemId,
        type: 'function_call',
        status: 'completed',
        arguments: decision.arguments,
        call_id: callId,
        name: decision.name,
      };
    }

    if (body.stream !== true) {
      return sendJson(res, 200, baseResponse('completed', [finalItem], true));
    }

    const sse = new SseWriter(res, delayMs, fault, hold);
    let seqNo = 0;
    const emit = (type: string, fields: Record<string, unknown>) => sse.data({ type, sequence_number: seqNo++, ...fields }, type);

    await emit('response.created', { response: baseResponse('in_progress', [], false) });
    await emit('response.in_progress', { response: baseResponse('in_progress', [], false) });
    if (decision.kind === 'text') {
      await emit('response.output_item.added', {
        output_index: 0,
        item: { id: itemId, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
      });
      await emit('response.content_part.added', {
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
      });
      for (const d of splitDeltas(decision.text)) {
        await emit('response.output_text.delta', { item_id: itemId, output_index: 0, content_index: 0, delta: d, logprobs: [] });
      }
      await emit('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text: decision.text, logprobs: [] });
      await emit('response.content_part.done', {
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        part: { type: 'output_text', text: decision.text, annotations: [], logprobs: [] },
      });
    } else {
      await emit('response.output_item.added', {
        output_index: 0,
        item: { id: itemId, type: 'function_call', status: 'in_progress', arguments: '', call_id: callId, name: decision.name },
      });
      for (const d of splitArgs(decision.arguments)) {
        await emit('response.function_call_arguments.delta', { item_id: itemId, output_index: 0, delta: d });
      }
      await emit('response.function_call_arguments.done', {
        item_id: itemId,
        output_index: 0,
        name: decision.name,
        arguments: decision.arguments,
      });
    }
    await emit('response.output_item.done', { output_index: 0, item: finalItem });
    await emit('response.completed', { response: baseResponse('completed', [finalItem], true) });
    await sse.end();
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest): Promise<void> {
    const method = req.method ?? 'GET';
    const p = rec.path.startsWith('/v1/') ? rec.path.slice(3) : rec.path;
    if (method === 'GET' && rec.path === '/__requests') return sendJson(res, 200, requests);
    if (method === 'GET' && rec.path === '/__stats') return sendJson(res, 200, stats);
    if (method === 'POST' && rec.path === '/__reset') {
      reset();
      return sendJson(res, 200, { ok: true });
    }
    if (rec.path === '/__config') {
      if (method === 'GET') return sendJson(res, 200, configure({}));
      if (method === 'POST' && isRecord(rec.body)) return sendJson(res, 200, configure(rec.body as FakeBackendConfig));
      return openaiError(res, 400, 'POST /__config takes a JSON object { cachedTokens?, cachedTokensByModel?, faults? }', 'invalid_request_error', null);
    }
    if (method === 'GET' && p === '/models') {
      stats.models++;
      return sendJson(res, 200, { object: 'list', data: models.map(modelObject) });
    }
    if (method === 'GET' && p.startsWith('/models/')) {
      stats.models++;
      const id = decodeURIComponent(p.slice('/models/'.length));
      if (models.includes(id)) return sendJson(res, 200, modelObject(id));
      return openaiError(res, 404, `The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found');
    }
    if (p === '/chat/completions' || p === '/responses') {
      if (method !== 'POST') return openaiError(res, 405, `Method ${method} not allowed`, 'invalid_request_error', null);
      if (p === '/chat/completions') stats.chatCompletions++;
      else stats.responses++;
      stats.completions++;
      if (!isRecord(rec.body)) {
        return openaiError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
      }
      const fault = takeFault();
      if (fault?.kind === 'status') return sendStatusFault(res, fault);
      if (fault && rec.body.stream !== true) {
        // A stream fault on a request that does not stream: the same failure, without the events.
        return new SseWriter(res, 0, { ...fault, afterEvents: 0 }, hold).end();
      }
      return p === '/chat/completions' ? chatCompletions(rec.body, res, fault) : responses(rec.body, res, fault);
    }
    return openaiError(res, 404, `Unknown request URL: ${method} ${rec.path}`, 'invalid_request_error', 'unknown_url');
  }

  function reset(): void {
    requests.length = 0;
    stats.chatCompletions = 0;
    stats.responses = 0;
    stats.completions = 0;
    stats.models = 0;
    stats.faults = 0;
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      if (raw !== '') {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      const url = new URL(req.url ?? '/', 'http://fake.invalid');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        const key = k.toLowerCase();
        if (key === 'authorization' || key === 'api-key' || key === 'x-api-key' || v === undefined) continue;
        headers[key] = Array.isArray(v) ? v.join(', ') : v;
      }
      const rec: RecordedRequest = {
        seq: ++seq,
        at: Date.now(),
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.search,
        headers,
        hadAuthorization: req.headers.authorization !== undefined,
        body,
        tools: requestTools(body),
      };
      const isIntrospection = url.pathname.startsWith('/__');
      if (!isIntrospection) requests.push(rec);
      res.on('finish', () => {
        rec.status = res.statusCode;
      });
      route(req, res, rec).catch((e: unknown) => {
        if (e === STREAM_FAULTED) return;
        if (!res.headersSent) openaiError(res, 500, `fake backend bug: ${String(e)}`, 'server_error', null);
        else res.destroy();
      });
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    port,
    requests,
    stats,
    reset,
    configure,
    fail: (rules) => void configure({ faults: rules }),
    release: () => {
      for (const resolve of hold.held) resolve();
      hold.held.clear();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Splits JSON arguments into a few deltas (so clients have to concatenate them). */
function splitArgs(args: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i += 8) out.push(args.slice(i, i + 8));
  return out.length > 0 ? out : [''];
}

// ---------------------------------------------------------------------------------------------
// SSE reading (for tests and e2e drivers)

export interface SseEvent {
  /** The `event:` field, when the server sent one. */
  event?: string;
  /** The `data:` lines, joined by newlines. */
  data: string;
}

/** Parses a complete text/event-stream body into its events (comments and empty events skipped). */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) events.push(event === undefined ? { data: data.join('\n') } : { event, data: data.join('\n') });
  }
  return events;
}

/** The JSON payloads of an SSE body, stopping at `data: [DONE]` (which is not included). */
export function parseSseJson(text: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const e of parseSse(text)) {
    if (e.data === '[DONE]') break;
    out.push(JSON.parse(e.data) as Record<string, unknown>);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Standalone

function argValue(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`${name}=`));
  return eq?.slice(name.length + 1);
}

async function main(argv: readonly string[]): Promise<void> {
  const portArg = argValue(argv, '--port');
  const port = portArg === undefined ? 0 : Number(portArg);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`fake-backend: --port must be an integer 0-65535, got ${portArg}\n`);
    process.exit(2);
  }
  const cachedArg = argValue(argv, '--cached-tokens');
  const fake = await startFakeBackend({
    port,
    host: argValue(argv, '--host') ?? '127.0.0.1',
    ...(cachedArg !== undefined ? { cachedTokens: Number(cachedArg) } : {}),
  });
  process.stdout.write(`listening ${fake.url}\n`);
  const stop = () => {
    void fake.close().finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

const invokedAs = process.argv[1];
if (invokedAs !== undefined && import.meta.url === pathToFileURL(invokedAs).href) {
  void main(process.argv.slice(2));
}
