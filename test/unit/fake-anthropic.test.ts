import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  apiError,
  message,
  overloadedError,
  rateLimitError,
  serverError,
  slow,
  splitIntoChunks,
  startFakeAnthropic,
  text,
  toolUse,
  type FakeAnthropic,
} from '../fixtures/fake-anthropic.js';

interface ParsedEvent {
  event: string;
  data: Record<string, unknown> & { type: string };
}

/** Parses an SSE body the way a client would: blank-line separated frames of `field: value` lines. */
function parseSse(body: string): ParsedEvent[] {
  return body
    .split('\n\n')
    .filter((frame) => frame.trim() !== '')
    .map((frame) => {
      const fields = Object.fromEntries(
        frame.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
      );
      return { event: fields.event ?? '', data: JSON.parse(fields.data ?? 'null') as ParsedEvent['data'] };
    });
}

// The shape of a main (conversation) request: a non-empty tools list.
const AGENT_TOOLS = [{ name: 'Write', input_schema: { type: 'object' } }];

function conversationBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: 'claude-test',
    max_tokens: 1024,
    stream: true,
    tools: AGENT_TOOLS,
    messages: [{ role: 'user', content: 'hello' }],
    ...overrides,
  };
}

async function postMessages(
  fake: FakeAnthropic,
  body: Record<string, unknown>,
  init: { headers?: Record<string, string>; path?: string; signal?: AbortSignal } = {},
): Promise<Response> {
  return fetch(`${fake.url}${init.path ?? '/v1/messages?beta=true'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: JSON.stringify(body),
    ...(init.signal ? { signal: init.signal } : {}),
  });
}

async function streamEvents(fake: FakeAnthropic, body = conversationBody()): Promise<ParsedEvent[]> {
  const response = await postMessages(fake, body);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/event-stream');
  return parseSse(await response.text());
}

let fake: FakeAnthropic;

beforeEach(async () => {
  fake = await startFakeAnthropic();
});

afterEach(async () => {
  await fake.close();
});

describe('streamed replies', () => {
  it('sends the Anthropic event sequence, each event named like its data type', async () => {
    fake.reply(message(text('Writing the file now.'), toolUse('Write', { file_path: '/tmp/a.txt', content: 'hi' })));

    const events = await streamEvents(fake);

    for (const { event, data } of events) expect(data.type).toBe(event);
    const types = events.map((e) => e.event);
    // Collapse runs of deltas: their count is an implementation choice, their place is not.
    const shape = types.filter((type, i) => !(type === 'content_block_delta' && types[i - 1] === type));
    expect(shape).toEqual([
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events[0]?.data).toMatchObject({
      message: { type: 'message', role: 'assistant', model: 'claude-test', content: [], stop_reason: null },
    });
  });

  it('splits text into several text_delta chunks that join back to the scripted text', async () => {
    fake.reply(message(text('The quick brown fox jumps over the lazy dog.')));

    const events = await streamEvents(fake);

    const deltas = events.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta as { type: string; text: string });
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.every((d) => d.type === 'text_delta')).toBe(true);
    expect(deltas.map((d) => d.text).join('')).toBe('The quick brown fox jumps over the lazy dog.');
  });

  it('reassembles tool_use input from input_json_delta chunks into the scripted object', async () => {
    const input = { file_path: '/work/x/notes.md', content: 'line one\nline "two" ✓\n', nested: { n: [1, 2, 3] } };
    const call = toolUse('Write', input);
    fake.reply(message(call));

    const events = await streamEvents(fake);

    const start = events.find((e) => e.event === 'content_block_start');
    expect(start?.data.content_block).toEqual({ type: 'tool_use', id: call.id, name: 'Write', input: {} });
    const chunks = events
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => e.data.delta as { type: string; partial_json: string });
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.type === 'input_json_delta')).toBe(true);
    expect(JSON.parse(chunks.map((c) => c.partial_json).join(''))).toEqual(input);
  });

  it('ends with stop_reason tool_use when the message calls a tool, end_turn otherwise, with usage', async () => {
    fake.reply(message(text('calling'), toolUse('Bash', { command: 'ls' })), message(text('done')));

    const withTool = await streamEvents(fake);
    const plain = await streamEvents(fake);

    const finalDelta = (events: ParsedEvent[]) => events.find((e) => e.event === 'message_delta')?.data;
    expect(finalDelta(withTool)).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { output_tokens: expect.any(Number) } });
    expect(finalDelta(plain)).toMatchObject({ delta: { stop_reason: 'end_turn' } });
  });

  it('gives every tool_use a distinct toolu_ id', () => {
    const ids = new Set(Array.from({ length: 20 }, () => toolUse('Read', {}).id));
    expect(ids.size).toBe(20);
    for (const id of ids) expect(id).toMatch(/^toolu_/);
  });

  it('splits by code point, never cutting a character in two', () => {
    expect(splitIntoChunks('a😀b😀c', 5).join('')).toBe('a😀b😀c');
    expect(splitIntoChunks('😀😀', 2)).toEqual(['😀', '😀']);
    expect(splitIntoChunks('', 3)).toEqual([]);
  });
});

describe('non-streamed replies', () => {
  it('answers stream:false with one JSON message holding the scripted content', async () => {
    const call = toolUse('Write', { file_path: 'a', content: 'b' });
    fake.reply(message(text('hi'), call));

    const response = await postMessages(fake, conversationBody({ stream: false }));

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-test',
      content: [{ type: 'text', text: 'hi' }, call],
      stop_reason: 'tool_use',
      usage: { input_tokens: expect.any(Number), output_tokens: expect.any(Number) },
    });
  });
});

describe('error replies', () => {
  it.each([
    { reply: rateLimitError(7), status: 429, errorType: 'rate_limit_error', retryAfter: '7' },
    { reply: serverError(), status: 500, errorType: 'api_error', retryAfter: null },
    { reply: overloadedError(), status: 529, errorType: 'overloaded_error', retryAfter: null },
    { reply: apiError(400, { message: 'prompt is too long' }), status: 400, errorType: 'invalid_request_error', retryAfter: null },
  ])('answers $status with Anthropic error JSON of type $errorType', async ({ reply, status, errorType, retryAfter }) => {
    fake.reply(reply);

    const response = await postMessages(fake, conversationBody());

    expect(response.status).toBe(status);
    expect(response.headers.get('retry-after')).toBe(retryAfter);
    expect(await response.json()).toEqual({
      type: 'error',
      error: { type: errorType, message: expect.any(String) },
      request_id: expect.stringMatching(/^req_/),
    });
  });

  it('uses an error reply once, like any scripted reply: a retry gets the next one', async () => {
    fake.reply(overloadedError(), message(text('recovered')));

    const first = await postMessages(fake, conversationBody({ stream: false }));
    const second = await postMessages(fake, conversationBody({ stream: false }));

    expect(first.status).toBe(529);
    expect(await second.json()).toMatchObject({ content: [{ type: 'text', text: 'recovered' }] });
  });
});

describe('slow streams', () => {
  it('pauses between events, and the events still arrive complete and in order', async () => {
    const delayMs = 40;
    fake.reply(slow(message(text('slow reply')), delayMs));

    const response = await postMessages(fake, conversationBody());
    const arrivals: number[] = [];
    let body = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      arrivals.push(performance.now());
      body += decoder.decode(chunk, { stream: true });
    }

    const events = parseSse(body);
    expect(events.at(0)?.event).toBe('message_start');
    expect(events.at(-1)?.event).toBe('message_stop');
    // Paused writes reach the client as separate chunks; no upper bounds, so a busy machine cannot flake this.
    expect(arrivals.length).toBeGreaterThan(1);
    const spread = (arrivals.at(-1) ?? 0) - (arrivals.at(0) ?? 0);
    expect(spread).toBeGreaterThanOrEqual(((events.length - 1) * delayMs) / 2);
  });

  it('notes a client that disconnects mid-stream', async () => {
    fake.reply(slow(message(text('never finished')), 1_000));
    const abort = new AbortController();

    const response = await postMessages(fake, conversationBody(), { signal: abort.signal });
    expect(response.status).toBe(200);
    abort.abort();
    await expect(response.text()).rejects.toThrow();

    await expect.poll(() => fake.requests[0]?.clientDisconnected).toBe(true);
  }, 10_000);

  it('closes promptly even while a slow stream is open', async () => {
    fake.reply(slow(message(text('never finished')), 60_000));
    const response = await postMessages(fake, conversationBody());
    const reading = response.text().catch(() => 'cut');

    await fake.close();

    await expect(reading).resolves.toBeDefined();
  }, 10_000);
});

describe('main and side requests', () => {
  it('serves scripted replies only to conversation requests; side queries get a default', async () => {
    fake.reply(message(text('scripted one')));

    const side = await postMessages(fake, conversationBody({ stream: false, tools: [] }));
    const main = await postMessages(fake, conversationBody({ stream: false }));

    expect(await side.json()).toMatchObject({ content: [{ type: 'text', text: 'OK.' }] });
    expect(await main.json()).toMatchObject({ content: [{ type: 'text', text: 'scripted one' }] });
    expect(fake.requests.map((r) => [r.isMain, r.answeredWith])).toEqual([
      [false, 'side'],
      [true, 'scripted'],
    ]);
    expect(fake.mainRequests()).toHaveLength(1);
    expect(fake.pendingReplies()).toBe(0);
  });

  it('answers a side query that asks for a JSON schema with an object of that shape', async () => {
    const titleQuery = conversationBody({
      stream: false,
      tools: [],
      output_config: {
        format: { type: 'json_schema', schema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] } },
      },
    });

    const reply = (await (await postMessages(fake, titleQuery)).json()) as { content: Array<{ text: string }> };

    expect(JSON.parse(reply.content[0]?.text ?? '')).toEqual({ title: expect.any(String) });
  });

  it('answers main requests with a short text once the queue is empty, or with the reply set for that', async () => {
    const byDefault = await postMessages(fake, conversationBody({ stream: false }));
    fake.whenQueueEmpty(overloadedError());
    const configured = await postMessages(fake, conversationBody({ stream: false }));

    expect(await byDefault.json()).toMatchObject({ content: [{ type: 'text', text: 'OK.' }], stop_reason: 'end_turn' });
    expect(configured.status).toBe(529);
    expect(fake.requests.map((r) => r.answeredWith)).toEqual(['queue-empty', 'queue-empty']);
  });

  it('answers the preconnect HEAD, count_tokens and unknown routes without touching the queue', async () => {
    fake.reply(message(text('kept for the conversation')));

    const head = await fetch(`${fake.url}/`, { method: 'HEAD' });
    const count = await postMessages(fake, conversationBody(), { path: '/v1/messages/count_tokens?beta=true' });
    const unknown = await fetch(`${fake.url}/api/oauth/usage`);

    expect(head.status).toBe(200);
    expect(await count.json()).toEqual({ input_tokens: expect.any(Number) });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    expect(fake.pendingReplies()).toBe(1);
  });

  it('accepts its own rule for what counts as main', async () => {
    const custom = await startFakeAnthropic({ isMainRequest: (request) => request.body?.model === 'main-model' });
    try {
      custom.reply(message(text('for main-model')));
      const response = await postMessages(custom, { model: 'main-model', stream: false, messages: [] });
      expect(await response.json()).toMatchObject({ content: [{ text: 'for main-model' }] });
    } finally {
      await custom.close();
    }
  });
});

describe('request log', () => {
  it('records method, path, query, all headers, parsed body and time', async () => {
    const before = Date.now();
    await postMessages(fake, conversationBody({ stream: false }), {
      headers: { 'x-api-key': 'sk-test-123', 'anthropic-version': '2023-06-01' },
    });

    expect(fake.requests).toHaveLength(1);
    const [recorded] = fake.requests;
    expect(recorded).toMatchObject({
      seq: 1,
      method: 'POST',
      path: '/v1/messages',
      query: { beta: 'true' },
      headers: { 'x-api-key': 'sk-test-123', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: { model: 'claude-test', messages: [{ role: 'user', content: 'hello' }] },
      isMain: true,
      clientDisconnected: false,
    });
    expect(recorded?.receivedAt).toBeGreaterThanOrEqual(before);
    expect(recorded?.receivedAt).toBeLessThanOrEqual(Date.now());
  });

  it('keeps a body that is not JSON as raw text only', async () => {
    await fetch(`${fake.url}/v1/messages`, { method: 'POST', body: 'not json' });

    expect(fake.requests[0]).toMatchObject({ rawBody: 'not json', body: undefined, isMain: false });
  });

  it('waits for a request that has not arrived yet, and gives up after its timeout', async () => {
    const waiting = fake.waitForRequest((r) => r.isMain);
    await postMessages(fake, conversationBody({ stream: false }));

    await expect(waiting).resolves.toMatchObject({ seq: 1, isMain: true });
    await expect(fake.waitForRequest((r) => r.path === '/never', 20)).rejects.toThrow(/no matching request/);
  });
});
