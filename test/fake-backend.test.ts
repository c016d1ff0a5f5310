/** The fake OpenAI-compatible backend on its own: fast and hermetic (loopback only). */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CREATED_ANSWER,
  FAKE_MODELS,
  FAULT_SECRET,
  HTML_ERROR_PAGE,
  MALFORMED_EVENT,
  HELLO_PATCH,
  NO_APPLY_PATCH_ANSWER,
  PARIS_ANSWER,
  chatConversation,
  countWords,
  decide,
  parseSse,
  parseSseJson,
  requestTools,
  responsesConversation,
  shellCall,
  splitDeltas,
  startFakeBackend,
  type FakeBackend,
  type ToolInfo,
} from '../scripts/e2e/fake-backend.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely typed JSON under test
type Json = Record<string, any>;

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHELL_TOOL_CHAT = {
  type: 'function',
  function: { name: 'shell', parameters: { type: 'object', properties: { command: { type: 'array', items: { type: 'string' } } } } },
};
const SHELL_TOOL_RESPONSES = {
  type: 'function',
  name: 'shell',
  parameters: { type: 'object', properties: { command: { type: 'array', items: { type: 'string' } } } },
};
/** Function tools the way Codex 0.115 offers them on the Responses API (a model unknown to OpenAI). */
const fnTool = (name: string, props: Json) => ({
  type: 'function',
  name,
  description: name,
  strict: false,
  parameters: { type: 'object', properties: props, additionalProperties: false },
});
const EXEC_COMMAND = fnTool('exec_command', { cmd: { type: 'string' } });
const APPLY_PATCH = fnTool('apply_patch', { input: { type: 'string' } });
const asChat = (t: Json) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } });

let fake: FakeBackend;

async function post(p: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${fake.url}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-secret-value', ...headers },
    body: JSON.stringify(body),
  });
}

function chatText(events: Json[]): string {
  return events.map((e) => (e.choices?.[0]?.delta?.content as string | undefined) ?? '').join('');
}

beforeAll(async () => {
  fake = await startFakeBackend();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

describe('script', () => {
  it('decides from the last user message and a tool result after it', () => {
    expect(decide({ lastUserText: 'What is the capital of France?', toolOutput: undefined, allText: '' })).toEqual({ kind: 'text', text: PARIS_ANSWER });
    expect(decide({ lastUserText: 'List files here', toolOutput: undefined, allText: '' })).toEqual({
      kind: 'tool_call',
      name: 'shell',
      arguments: '{"command":["ls","-1"]}',
    });
    expect(decide({ lastUserText: 'List files here', toolOutput: '\n a\nb \n', allText: '' })).toEqual({ kind: 'text', text: 'Files: a\nb' });
    expect(decide({ lastUserText: 'please trigger error 500', toolOutput: undefined, allText: '' })).toEqual({ kind: 'error', status: 500 });
    expect(decide({ lastUserText: 'trigger error 429 now', toolOutput: undefined, allText: '' })).toEqual({ kind: 'error', status: 429 });
    expect(decide({ lastUserText: 'hello  world', toolOutput: undefined, allText: '' })).toEqual({ kind: 'text', text: 'Echo: hello  world' });
  });

  it('calls the shell tool the request offers: exec_command, then shell_command, then shell', () => {
    const fns = (...names: string[]): ToolInfo[] => names.map((name) => ({ type: 'function', name }));
    const list = (tools: ToolInfo[]) => decide({ lastUserText: 'List files in current directory', toolOutput: undefined, allText: '', tools });
    expect(list(fns('update_plan', 'shell', 'shell_command', 'exec_command', 'write_stdin'))).toEqual({
      kind: 'tool_call',
      name: 'exec_command',
      arguments: '{"cmd":"ls -1"}',
    });
    expect(list(fns('shell', 'shell_command'))).toEqual({ kind: 'tool_call', name: 'shell_command', arguments: '{"command":"ls -1"}' });
    expect(list(fns('shell', 'apply_patch'))).toEqual({ kind: 'tool_call', name: 'shell', arguments: '{"command":["ls","-1"]}' });
    expect(list(fns('update_plan'))).toEqual({ kind: 'tool_call', name: 'shell', arguments: '{"command":["ls","-1"]}' });
    expect(shellCall([])).toEqual({ name: 'shell', arguments: '{"command":["ls","-1"]}' });
    for (const call of [shellCall(fns('exec_command')), shellCall(fns('shell_command')), shellCall(fns('shell'))])
      expect(() => JSON.parse(call.arguments)).not.toThrow();
  });

  it('creates hello.txt with the apply_patch function tool, then says so', () => {
    const create = (tools: ToolInfo[] | undefined, toolOutput?: string) =>
      decide({ lastUserText: 'Create hello.txt please', toolOutput, allText: '', ...(tools ? { tools } : {}) });
    const call = create([
      { type: 'function', name: 'exec_command' },
      { type: 'function', name: 'apply_patch' },
    ]);
    expect(call).toEqual({ kind: 'tool_call', name: 'apply_patch', arguments: JSON.stringify({ input: HELLO_PATCH }) });
    expect(JSON.parse((call as { arguments: string }).arguments).input).toBe(
      '*** Begin Patch\n*** Add File: hello.txt\n+hello from codex-litellm\n*** End Patch\n',
    );
    expect(create([{ type: 'function', name: 'apply_patch' }], 'Success. Updated the following files:\nA hello.txt\n')).toEqual({
      kind: 'text',
      text: CREATED_ANSWER,
    });
    expect(CREATED_ANSWER).toBe('Created hello.txt.');
    expect(create(undefined)).toEqual({ kind: 'text', text: NO_APPLY_PATCH_ANSWER });
    expect(create([{ type: 'function', name: 'exec_command' }])).toEqual({ kind: 'text', text: 'NO APPLY_PATCH TOOL' });
    expect(create([{ type: 'custom', name: 'apply_patch' }])).toEqual({ kind: 'text', text: 'APPLY_PATCH IS A custom TOOL, NOT A FUNCTION' });
  });

  it('reads tools in the chat and the Responses shape, nameless ones included', () => {
    expect(requestTools({ tools: [SHELL_TOOL_CHAT, asChat(APPLY_PATCH)] })).toEqual([
      { type: 'function', name: 'shell' },
      { type: 'function', name: 'apply_patch' },
    ]);
    expect(
      requestTools({
        tools: [
          EXEC_COMMAND,
          { type: 'custom', name: 'apply_patch', format: { type: 'grammar' } },
          { type: 'web_search', external_web_access: false },
          { type: 'tool_search' },
          'junk',
        ],
      }),
    ).toEqual([{ type: 'function', name: 'exec_command' }, { type: 'custom', name: 'apply_patch' }, { type: 'web_search' }, { type: 'tool_search' }]);
    expect(requestTools({ model: 'x' })).toEqual([]);
    expect(requestTools('not an object')).toEqual([]);
    expect(chatConversation({ messages: [], tools: [SHELL_TOOL_CHAT] }).tools).toEqual([{ type: 'function', name: 'shell' }]);
    expect(responsesConversation({ input: 'x', tools: [EXEC_COMMAND] }).tools).toEqual([{ type: 'function', name: 'exec_command' }]);
  });

  it('reads chat messages (string or parts) and forgets tool results of earlier turns', () => {
    const conv = chatConversation({
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'List files' },
        { role: 'assistant', content: null, tool_calls: [] },
        { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'old.txt' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'List files' },
            { type: 'text', text: 'again' },
          ],
        },
      ],
    });
    expect(conv.lastUserText).toBe('List files\nagain');
    expect(conv.toolOutput).toBeUndefined();
    expect(countWords(conv.allText)).toBe(2 + 2 + 1 + 3);
  });

  it('reads Responses input: string, message items with input_text/output_text, function_call_output', () => {
    expect(responsesConversation({ input: 'hi there', instructions: 'sys prompt' })).toEqual({
      lastUserText: 'hi there',
      toolOutput: undefined,
      allText: 'sys prompt\nhi there',
      tools: [],
    });
    const conv = responsesConversation({
      input: [
        { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'dev' }] },
        { role: 'user', content: [{ type: 'input_text', text: 'List files' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'ok' }] },
        { type: 'function_call', call_id: 'c', name: 'shell', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c', output: [{ type: 'input_text', text: 'x.txt' }] },
      ],
    });
    expect(conv.lastUserText).toBe('List files');
    expect(conv.toolOutput).toBe('x.txt');
  });

  it('splits text into deltas that join back exactly', () => {
    for (const t of [PARIS_ANSWER, 'Files: a\nb', '  lead', '']) expect(splitDeltas(t).join('')).toBe(t);
  });
});

describe('models', () => {
  it('lists the fake models', async () => {
    const res = await fetch(`${fake.url}/v1/models`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    expect(body.object).toBe('list');
    expect(body.data.map((m: Json) => m.id)).toEqual([...FAKE_MODELS]);
    expect(body.data.map((m: Json) => m.id)).toEqual(expect.arrayContaining(['fake-model', 'fake-tools']));
    const one = await fetch(`${fake.url}/v1/models/fake-tools`);
    expect(((await one.json()) as Json).id).toBe('fake-tools');
    expect((await fetch(`${fake.url}/v1/models/nope`)).status).toBe(404);
  });
});

describe('chat completions', () => {
  it('answers non-streaming with a chat.completion and usage', async () => {
    const res = await post('/v1/chat/completions', { model: 'fake-model', messages: [{ role: 'user', content: 'What is the capital of France?' }] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    expect(body.object).toBe('chat.completion');
    expect(body.model).toBe('fake-model');
    expect(body.choices[0].message).toMatchObject({ role: 'assistant', content: PARIS_ANSWER });
    expect(body.choices[0].finish_reason).toBe('stop');
    expect(body.usage).toMatchObject({ prompt_tokens: 16, completion_tokens: 7, total_tokens: 23, prompt_tokens_details: { cached_tokens: 0 } });
  });

  it('streams chunks ending in [DONE], without usage unless asked', async () => {
    const res = await post('/v1/chat/completions', {
      model: 'fake-model',
      stream: true,
      messages: [{ role: 'user', content: 'What is the capital of France?' }],
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const raw = parseSse(text);
    expect(raw.at(-1)?.data).toBe('[DONE]');
    const events = parseSseJson(text) as Json[];
    expect(events.every((e) => e.object === 'chat.completion.chunk')).toBe(true);
    expect(events.every((e) => e.usage === undefined)).toBe(true);
    expect(chatText(events)).toBe(PARIS_ANSWER);
    expect(events.at(-1)?.choices[0].finish_reason).toBe('stop');
  });

  it('ends with a usage chunk (choices: []) when stream_options.include_usage is set', async () => {
    const res = await post('/v1/chat/completions', {
      model: 'fake-model',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'What is the capital of France?' }],
    });
    const events = parseSseJson(await res.text()) as Json[];
    const last = events.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({
      prompt_tokens: 16,
      completion_tokens: 7,
      total_tokens: 23,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    });
    expect(events.slice(0, -1).every((e) => e.usage === null)).toBe(true);
  });

  it('calls the shell tool, then answers with the tool output (streaming and not)', async () => {
    const first = await post('/v1/chat/completions', {
      model: 'fake-tools',
      stream: true,
      tools: [SHELL_TOOL_CHAT],
      messages: [{ role: 'user', content: 'List files in this dir' }],
    });
    const events = parseSseJson(await first.text()) as Json[];
    const calls = events.flatMap((e) => (e.choices?.[0]?.delta?.tool_calls as Json[] | undefined) ?? []);
    const head = calls[0]!;
    expect(head).toMatchObject({ index: 0, type: 'function', function: { name: 'shell' } });
    expect(head.id).toMatch(/^call_/);
    expect(calls.map((c) => c.function.arguments).join('')).toBe('{"command":["ls","-1"]}');
    expect(events.at(-1)?.choices[0].finish_reason).toBe('tool_calls');

    const nonStream = (await (await post('/v1/chat/completions', { model: 'fake-tools', messages: [{ role: 'user', content: 'List files' }] })).json()) as Json;
    expect(nonStream.choices[0].finish_reason).toBe('tool_calls');
    expect(nonStream.choices[0].message.content).toBeNull();
    expect(nonStream.choices[0].message.tool_calls[0]).toMatchObject({ type: 'function', function: { name: 'shell', arguments: '{"command":["ls","-1"]}' } });

    const second = (await (
      await post('/v1/chat/completions', {
        model: 'fake-tools',
        messages: [
          { role: 'user', content: 'List files in this dir' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: head.id, type: 'function', function: { name: 'shell', arguments: '{"command":["ls","-1"]}' } }],
          },
          { role: 'tool', tool_call_id: head.id, content: 'only-here-1.txt\nonly-here-2.txt\n' },
        ],
      })
    ).json()) as Json;
    expect(second.choices[0].message.content).toBe('Files: only-here-1.txt\nonly-here-2.txt');
  });
});

describe('responses', () => {
  it('streams the documented event sequence', async () => {
    const res = await post('/v1/responses', {
      model: 'fake-model',
      stream: true,
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What is the capital of France?' }] }],
    });
    const raw = parseSse(await res.text());
    const events = raw.map((e) => JSON.parse(e.data) as Json);
    // every event carries its type both as the SSE event name and in the payload, numbered 0..n
    raw.forEach((e, i) => {
      expect(e.event).toBe(events[i]!.type);
    });
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const types = events.map((e) => e.type as string);
    expect(types[0]).toBe('response.created');
    expect(types[1]).toBe('response.in_progress');
    expect(types.slice(2, 4)).toEqual(['response.output_item.added', 'response.content_part.added']);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    const created = events[0]!.response;
    expect(created).toMatchObject({ object: 'response', status: 'in_progress', output: [], usage: null, model: 'fake-model' });
    expect(created.id).toMatch(/^resp_/);
    const added = events[2]!;
    expect(added).toMatchObject({ output_index: 0, item: { type: 'message', role: 'assistant', status: 'in_progress', content: [] } });
    const itemId = added.item.id as string;
    expect(itemId).toMatch(/^msg_/);
    const deltas = events.filter((e) => e.type === 'response.output_text.delta');
    expect(deltas.length).toBeGreaterThan(1);
    for (const d of deltas) expect(d).toMatchObject({ item_id: itemId, output_index: 0, content_index: 0 });
    expect(deltas.map((d) => d.delta).join('')).toBe(PARIS_ANSWER);
    expect(events.find((e) => e.type === 'response.output_text.done')).toMatchObject({ item_id: itemId, text: PARIS_ANSWER });
    const done = events.find((e) => e.type === 'response.output_item.done')!;
    expect(done.item).toMatchObject({
      id: itemId,
      type: 'message',
      status: 'completed',
      content: [{ type: 'output_text', text: PARIS_ANSWER, annotations: [] }],
    });
    const completed = events.at(-1)!.response;
    expect(completed.id).toBe(created.id);
    expect(completed.status).toBe('completed');
    expect(completed.output).toEqual([done.item]);
    expect(completed.usage).toEqual({
      input_tokens: 16,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 7,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 23,
    });
  });

  it('answers non-streaming with a completed response object', async () => {
    const body = (await (
      await post('/v1/responses', { model: 'fake-model', input: 'What is the capital of France?', instructions: 'You are terse.' })
    ).json()) as Json;
    expect(body).toMatchObject({ object: 'response', status: 'completed', model: 'fake-model', instructions: 'You are terse.' });
    expect(body.output[0].content[0].text).toBe(PARIS_ANSWER);
    expect(body.usage).toMatchObject({ input_tokens: 6 + 3 + 10, output_tokens: 7, total_tokens: 26 });
  });

  it('emits a function_call item, then answers from function_call_output', async () => {
    const res = await post('/v1/responses', {
      model: 'fake-tools',
      stream: true,
      tools: [SHELL_TOOL_RESPONSES],
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'List files' }] }],
    });
    const events = parseSseJson(await res.text()) as Json[];
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const added = events[2]!.item;
    expect(added).toMatchObject({ type: 'function_call', status: 'in_progress', name: 'shell', arguments: '' });
    expect(added.id).toMatch(/^fc_/);
    expect(added.call_id).toMatch(/^call_/);
    const argDeltas = events.filter((e) => e.type === 'response.function_call_arguments.delta');
    for (const d of argDeltas) expect(d).toMatchObject({ item_id: added.id, output_index: 0 });
    expect(argDeltas.map((d) => d.delta).join('')).toBe('{"command":["ls","-1"]}');
    expect(events[6]).toMatchObject({ item_id: added.id, output_index: 0, name: 'shell', arguments: '{"command":["ls","-1"]}' });
    const item = events[7]!.item;
    expect(item).toEqual({
      id: added.id,
      type: 'function_call',
      status: 'completed',
      arguments: '{"command":["ls","-1"]}',
      call_id: added.call_id,
      name: 'shell',
    });
    expect(events[8]!.response.output).toEqual([item]);

    const second = (await (
      await post('/v1/responses', {
        model: 'fake-tools',
        input: [
          { role: 'user', content: [{ type: 'input_text', text: 'List files' }] },
          { type: 'function_call', call_id: item.call_id, name: 'shell', arguments: item.arguments },
          { type: 'function_call_output', call_id: item.call_id, output: 'a.txt\nb.txt\n' },
        ],
      })
    ).json()) as Json;
    expect(second.output[0].content[0].text).toBe('Files: a.txt\nb.txt');
  });
});

describe('Codex 0.115 tool shapes', () => {
  it('calls exec_command and apply_patch over /v1/responses, and answers their results', async () => {
    const user = (text: string) => ({ type: 'message', role: 'user', content: [{ type: 'input_text', text }] });
    const tools = [EXEC_COMMAND, fnTool('write_stdin', { session_id: { type: 'number' } }), APPLY_PATCH];
    const list = parseSseJson(
      await (await post('/v1/responses', { model: 'fake-native', stream: true, tools, input: [user('List files in current directory')] })).text(),
    ) as Json[];
    const lsCall = list.find((e) => e.type === 'response.output_item.done')!.item;
    expect(lsCall).toMatchObject({ type: 'function_call', name: 'exec_command', arguments: '{"cmd":"ls -1"}' });

    const create = parseSseJson(
      await (await post('/v1/responses', { model: 'fake-native', stream: true, tools, input: [user('Create hello.txt')] })).text(),
    ) as Json[];
    const patchCall = create.find((e) => e.type === 'response.output_item.done')!.item;
    expect(patchCall).toMatchObject({ type: 'function_call', name: 'apply_patch' });
    expect(JSON.parse(patchCall.arguments)).toEqual({ input: HELLO_PATCH });
    expect(
      create
        .filter((e) => e.type === 'response.function_call_arguments.delta')
        .map((e) => e.delta)
        .join(''),
    ).toBe(patchCall.arguments);

    const done = (await (
      await post('/v1/responses', {
        model: 'fake-native',
        tools,
        input: [
          user('Create hello.txt'),
          { type: 'function_call', call_id: patchCall.call_id, name: 'apply_patch', arguments: patchCall.arguments },
          { type: 'function_call_output', call_id: patchCall.call_id, output: 'Success.' },
        ],
      })
    ).json()) as Json;
    expect(done.output[0].content[0].text).toBe(CREATED_ANSWER);
    expect(fake.requests.map((r) => r.tools.map((t) => t.name))).toEqual([
      ['exec_command', 'write_stdin', 'apply_patch'],
      ['exec_command', 'write_stdin', 'apply_patch'],
      ['exec_command', 'write_stdin', 'apply_patch'],
    ]);
  });

  it('calls shell_command and apply_patch over chat completions (what the bridge sends)', async () => {
    const tools = [asChat(fnTool('shell_command', { command: { type: 'string' } })), asChat(APPLY_PATCH)];
    const ls = (await (
      await post('/v1/chat/completions', { model: 'fake-model', tools, messages: [{ role: 'user', content: 'List files in current directory' }] })
    ).json()) as Json;
    expect(ls.choices[0].message.tool_calls[0].function).toEqual({ name: 'shell_command', arguments: '{"command":"ls -1"}' });
    const stream = parseSseJson(
      await (
        await post('/v1/chat/completions', { model: 'fake-model', stream: true, tools, messages: [{ role: 'user', content: 'Create hello.txt' }] })
      ).text(),
    ) as Json[];
    const deltas = stream.flatMap((e) => (e.choices?.[0]?.delta?.tool_calls as Json[] | undefined) ?? []);
    expect(deltas[0]!.function.name).toBe('apply_patch');
    expect(JSON.parse(deltas.map((d) => d.function.arguments).join(''))).toEqual({ input: HELLO_PATCH });
    const none = (await (
      await post('/v1/chat/completions', { model: 'fake-model', tools: [tools[0]], messages: [{ role: 'user', content: 'Create hello.txt' }] })
    ).json()) as Json;
    expect(none.choices[0].message.content).toBe(NO_APPLY_PATCH_ANSWER);
    expect(fake.requests[0]!.tools).toEqual([
      { type: 'function', name: 'shell_command' },
      { type: 'function', name: 'apply_patch' },
    ]);
  });
});

describe('errors', () => {
  it.each([
    ['/v1/chat/completions', { model: 'fake-model', messages: [{ role: 'user', content: 'trigger error 500' }] }],
    ['/v1/responses', { model: 'fake-model', input: 'trigger error 500' }],
  ])('%s answers 500 with an OpenAI error', async (p, body) => {
    const res = await post(p, body);
    expect(res.status).toBe(500);
    expect(((await res.json()) as Json).error).toMatchObject({ type: 'server_error', code: 'internal_error' });
  });

  it('answers 429 with retry-after', async () => {
    const res = await post('/v1/responses', { model: 'fake-model', stream: true, input: 'trigger error 429' });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as Json).error).toMatchObject({ code: 'rate_limit_exceeded' });
  });

  it('rejects bad JSON and unknown paths', async () => {
    const bad = await fetch(`${fake.url}/v1/chat/completions`, { method: 'POST', body: '{nope' });
    expect(bad.status).toBe(400);
    expect((await fetch(`${fake.url}/v1/nothing`)).status).toBe(404);
  });
});

describe('faults', () => {
  const ask = (stream = true) => post('/v1/responses', { model: 'fake-model', stream, input: 'What is the capital of France?' });
  const chat = () =>
    post('/v1/chat/completions', { model: 'fake-model', stream: true, messages: [{ role: 'user', content: 'What is the capital of France?' }] });

  it('answers a status fault with JSON or an HTML page, retry-after when asked, then serves normally', async () => {
    fake.fail([
      { fault: { kind: 'status', status: 401 } },
      { fault: { kind: 'status', status: 429, retryAfter: 2 }, times: 2 },
      { fault: { kind: 'status', status: 502, body: 'html' } },
    ]);
    const denied = await ask();
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as Json).error).toMatchObject({ code: 'invalid_api_key', message: expect.stringContaining(FAULT_SECRET) });
    for (let i = 0; i < 2; i++) {
      const limited = await ask();
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('2');
      await limited.arrayBuffer();
    }
    const gateway = await ask(false);
    expect(gateway.status).toBe(502);
    expect(gateway.headers.get('content-type')).toBe('text/html');
    expect(await gateway.text()).toBe(HTML_ERROR_PAGE);
    const ok = await ask();
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('response.completed');
    expect(fake.stats.faults).toBe(4);
    expect(fake.configure({}).faults).toEqual([]);
  });

  it('lets `skip` requests through first, and a rule with times 0 fails until cleared', async () => {
    fake.fail([{ skip: 1, times: 0, fault: { kind: 'status', status: 503 } }]);
    expect((await ask(false)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await ask(false)).status).toBe(503);
    fake.fail([]);
    expect((await ask(false)).status).toBe(200);
  });

  it('cuts the connection mid-stream (abort), or ends it with an event that is not JSON (malformed)', async () => {
    fake.fail([{ fault: { kind: 'abort', afterEvents: 2 } }, { fault: { kind: 'malformed', afterEvents: 3 } }]);
    const cut = await chat();
    expect(cut.status).toBe(200);
    await expect(cut.text()).rejects.toThrow();
    const bad = await ask();
    const text = await bad.text();
    const events = parseSse(text);
    expect(events).toHaveLength(4);
    expect(events[3]!.data).toBe(MALFORMED_EVENT);
    expect(events.some((e) => e.data.includes('response.completed'))).toBe(false);
  });

  it('holds a stream open after some events until released', async () => {
    fake.fail([{ fault: { kind: 'hold', afterEvents: 3 } }]);
    const held = await chat();
    const reader = held.body!.getReader();
    let seen = '';
    while (parseSse(seen).length < 3) seen += new TextDecoder().decode((await reader.read()).value);
    expect(fake.stats.held).toBe(1);
    fake.release();
    await expect(
      (async () => {
        for (;;) if ((await reader.read()).done) return;
      })(),
    ).rejects.toThrow();
    expect(fake.stats.held).toBe(0);
  });

  it('takes faults through POST /__config too', async () => {
    const res = await post('/__config', { faults: [{ fault: { kind: 'status', status: 500 } }] });
    expect(((await res.json()) as Json).faults).toEqual([{ fault: { kind: 'status', status: 500 } }]);
    expect((await ask(false)).status).toBe(500);
    expect((await ask(false)).status).toBe(200);
  });
});

describe('recording', () => {
  it('records requests without credentials, exposes them and counts completions', async () => {
    await post('/v1/chat/completions', { model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }, { 'x-custom': 'yes' });
    await post('/v1/responses', { model: 'fake-model', input: 'hi' });
    await post('/v1/responses', { model: 'fake-model', input: 'trigger error 429' });
    expect(fake.stats).toEqual({ chatCompletions: 1, responses: 2, completions: 3, models: 0, faults: 0, held: 0 });
    expect(fake.requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ['POST', '/v1/chat/completions', 200],
      ['POST', '/v1/responses', 200],
      ['POST', '/v1/responses', 429],
    ]);
    const first = fake.requests[0]!;
    expect(first.headers['x-custom']).toBe('yes');
    expect(first.headers.authorization).toBeUndefined();
    expect(first.hadAuthorization).toBe(true);
    expect(first.body).toEqual({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] });
    expect(first.tools).toEqual([]);
    const listed = (await (await fetch(`${fake.url}/__requests`)).json()) as Json[];
    expect(listed).toHaveLength(3); // introspection calls are not recorded
    expect(JSON.stringify(listed)).not.toContain('sk-secret-value');
    expect(await (await fetch(`${fake.url}/__stats`)).json()).toEqual(fake.stats);
    await fetch(`${fake.url}/__reset`, { method: 'POST' });
    expect(fake.requests).toHaveLength(0);
    expect(fake.stats.completions).toBe(0);
  });

  it('reports the configured cached tokens', async () => {
    const other = await startFakeBackend({ cachedTokens: 4 });
    try {
      const res = await fetch(`${other.url}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(((await res.json()) as Json).usage.prompt_tokens_details.cached_tokens).toBe(4);
    } finally {
      await other.close();
    }
  });

  it('reports cached tokens per model, changeable at runtime through /__config', async () => {
    const other = await startFakeBackend({ cachedTokensByModel: { 'fake-cached': 2000 } });
    const cached = async (model: string, p = '/v1/responses'): Promise<number> => {
      const body =
        p === '/v1/responses'
          ? { model, input: 'What is the capital of France?' }
          : { model, messages: [{ role: 'user', content: 'What is the capital of France?' }] };
      const doc = (await (await fetch(`${other.url}${p}`, { method: 'POST', body: JSON.stringify(body) })).json()) as Json;
      return p === '/v1/responses' ? doc.usage.input_tokens_details.cached_tokens : doc.usage.prompt_tokens_details.cached_tokens;
    };
    try {
      // capped at the prompt's 16 tokens
      expect(await cached('fake-cached')).toBe(16);
      expect(await cached('fake-cached', '/v1/chat/completions')).toBe(16);
      expect(await cached('fake-model')).toBe(0);
      expect(await (await fetch(`${other.url}/__config`)).json()).toEqual({ cachedTokens: 0, cachedTokensByModel: { 'fake-cached': 2000 }, faults: [] });
      const set = await fetch(`${other.url}/__config`, {
        method: 'POST',
        body: JSON.stringify({ cachedTokens: 3, cachedTokensByModel: { 'fake-cached': 5 } }),
      });
      expect(await set.json()).toEqual({ cachedTokens: 3, cachedTokensByModel: { 'fake-cached': 5 }, faults: [] });
      expect(await cached('fake-cached')).toBe(5);
      expect(await cached('fake-model')).toBe(3);
      expect(other.configure({ cachedTokensByModel: { 'fake-model': 1 } })).toEqual({
        cachedTokens: 3,
        cachedTokensByModel: { 'fake-cached': 5, 'fake-model': 1 },
        faults: [],
      });
      expect(await cached('fake-model')).toBe(1);
      await fetch(`${other.url}/__reset`, { method: 'POST' });
      expect(await cached('fake-cached')).toBe(5); // reset forgets requests, not the config
      expect((await fetch(`${other.url}/__config`, { method: 'POST', body: '[1]' })).status).toBe(400);
      expect(other.requests.every((r) => !r.path.startsWith('/__'))).toBe(true);
    } finally {
      await other.close();
    }
  });
});

describe('standalone', () => {
  it('prints `listening <url>` and serves until SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'scripts/e2e/fake-backend.ts'), '--port', '0'], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no "listening" line; got: ${out}`)), 20_000);
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /^listening (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      const res = await fetch(`${url}/v1/models`);
      expect(res.status).toBe(200);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    }
  }, 30_000);
});
