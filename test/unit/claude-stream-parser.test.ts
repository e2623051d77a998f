/**
 * The stream parser, on streams recorded from the real CLI 2.1.197 against the fake API
 * (test/fixtures/claude-streams/, recorded by test/integration/claude-adapter.test.ts)
 * and on hand-made lines for what a recording cannot show (malformed output, crashes).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ClaudeStreamParser, TOOL_RESULT_LIMIT, truncate, type CliExit } from '../../src/agents/claude/stream-parser.js';
import type { ChatEvent } from '../../src/domain/chat.js';
import { randomPieces } from '../helpers/pieces.js';

const CLEAN_EXIT: CliExit = { exitCode: 0, stderr: '', cancelled: false, timedOut: false };

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/claude-streams/${name}.jsonl`, import.meta.url), 'utf8');
}

/** The recorded lines as JSON, to compare events with what the CLI actually said. */
function linesOf(name: string): Array<Record<string, unknown>> {
  return fixture(name)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function parse(pieces: string[], exit: CliExit = CLEAN_EXIT): { events: ChatEvent[]; parser: ClaudeStreamParser } {
  const parser = new ClaudeStreamParser();
  const events = pieces.flatMap((piece) => parser.push(piece));
  events.push(...parser.end(exit));
  return { events, parser };
}

function parseAll(stream: string, exit?: CliExit): ChatEvent[] {
  return parse([stream], exit).events;
}

function line(value: Record<string, unknown>): string {
  return `${JSON.stringify(value)}\n`;
}

function only<T extends ChatEvent['type']>(events: ChatEvent[], type: T): Array<Extract<ChatEvent, { type: T }>> {
  return events.filter((event): event is Extract<ChatEvent, { type: T }> => event.type === type);
}

const FIXTURES = [
  'text-turn',
  'write-tool-turn',
  'bash-tool-turn',
  'bash-denied-turn',
  'api-error-turn',
  'api-retry-turn',
  'resumed-turn',
  'missing-session-turn',
  'cancelled-turn',
];

describe('ClaudeStreamParser on recorded streams', () => {
  it.each(FIXTURES)('%s gives the same events however the stream is cut, and with CRLF line ends', (name) => {
    const stream = fixture(name);
    const whole = parseAll(stream);

    // A turn on a session the CLI does not know ends before any event (see the test below).
    if (name !== 'missing-session-turn') expect(whole.length).toBeGreaterThan(0);
    expect(parse(Array.from(stream)).events).toEqual(whole);
    for (const seed of [1, 2, 3, 42, 2024]) expect(parse(randomPieces(stream, seed)).events, `seed ${seed}`).toEqual(whole);
    expect(parseAll(stream.replaceAll('\n', '\r\n'))).toEqual(whole);
    // The CLI's last line may come without its newline when it is cut short.
    expect(parseAll(stream.trimEnd())).toEqual(whole);
  });

  it('reads a text turn: session, text, and the result with its usage', () => {
    const [init, , result] = linesOf('text-turn');
    const { events, parser } = parse([fixture('text-turn')]);

    expect(events).toEqual([
      { type: 'session', sessionId: init?.session_id, model: init?.model, tools: init?.tools },
      { type: 'text', text: 'Hello from the fake.' },
      {
        type: 'result',
        ok: true,
        durationMs: result?.duration_ms,
        turns: 1,
        // No cache and no sub-agent here: the main thread's counts are the whole turn's.
        tokensIn: (result?.usage as { input_tokens: number }).input_tokens,
        tokensOut: (result?.usage as { output_tokens: number }).output_tokens,
        costUsd: result?.total_cost_usd,
      },
    ]);
    expect(parser.sessionId()).toBe(init?.session_id);
    expect((init?.tools as string[]).length).toBeGreaterThan(5);
  });

  it('reads a Write turn: the tool call with its input and the tool result', () => {
    const events = parseAll(fixture('write-tool-turn'));
    const [call] = only(events, 'tool_call');

    expect(events.map((event) => event.type)).toEqual(['session', 'text', 'tool_call', 'tool_result', 'text', 'result']);
    expect(call).toMatchObject({ name: 'Write', input: { file_path: expect.stringMatching(/\/hello\.txt$/), content: 'hello from the fake\n' } });
    expect(call?.id).toMatch(/^toolu_/);
    expect(only(events, 'tool_result')).toEqual([
      { type: 'tool_result', id: call?.id, ok: true, content: expect.stringMatching(/^File created successfully at: .*hello\.txt/) },
    ]);
    expect(only(events, 'text').map((event) => event.text)).toEqual(['Writing it.', 'Done.']);
    expect(only(events, 'result')[0]).toMatchObject({ ok: true, turns: 2 });
  });

  it('reads Bash results: ok with the output, or not ok when the command was denied', () => {
    const ran = parseAll(fixture('bash-tool-turn'));
    const denied = parseAll(fixture('bash-denied-turn'));

    expect(only(ran, 'tool_call')[0]).toMatchObject({ name: 'Bash', input: { command: 'printf piped | tee tee-proof.txt' } });
    expect(only(ran, 'tool_result')[0]).toMatchObject({ ok: true, content: 'piped' });
    expect(only(denied, 'tool_result')[0]).toMatchObject({ ok: false, content: expect.stringContaining('requires approval') });
  });

  it('reads an API error as one failed result with the CLI message, not as assistant text', () => {
    const [, , result] = linesOf('api-error-turn');
    const events = parseAll(fixture('api-error-turn'), { ...CLEAN_EXIT, exitCode: 1 });

    expect(result).toMatchObject({ subtype: 'success', is_error: true, api_error_status: 500 });
    expect(events.map((event) => event.type)).toEqual(['session', 'result']);
    expect(only(events, 'result')[0]).toMatchObject({ ok: false, error: result?.result, turns: 1, tokensIn: 0, costUsd: 0 });
  });

  it('reads the CLI retrying as a status event', () => {
    const events = parseAll(fixture('api-retry-turn'));

    expect(events.map((event) => event.type)).toEqual(['session', 'status', 'text', 'result']);
    expect(only(events, 'status')[0]?.text).toBe('the API answered 429 (rate_limit); retry 1 of 1 in 1 s');
  });

  it('reads a resumed turn with the session id of the turn it continues', () => {
    const [init] = linesOf('resumed-turn');
    const { events, parser } = parse([fixture('resumed-turn')]);

    expect(only(events, 'text')).toEqual([{ type: 'text', text: 'Second answer.' }]);
    expect(parser.sessionId()).toBe(init?.session_id);
  });

  it('reads an unknown session as no event but unknownSession(), not as a failed turn, and announces no session', () => {
    const { events, parser } = parse([fixture('missing-session-turn')], { ...CLEAN_EXIT, exitCode: 1 });

    expect(events).toEqual([]);
    expect(parser.unknownSession()).toBe(true);
    expect(parser.sessionId()).toBeNull();
    expect(parse([fixture('text-turn')]).parser.unknownSession()).toBe(false);
  });

  it('ends a cancelled stream (init only, exit 143) with an error that says it was cancelled', () => {
    const events = parseAll(fixture('cancelled-turn'), { exitCode: 143, stderr: '', cancelled: true, timedOut: false });

    expect(events.map((event) => event.type)).toEqual(['session', 'error']);
    expect(events.at(-1)).toEqual({ type: 'error', message: 'the turn was cancelled before it reported a result' });
  });
});

describe('ClaudeStreamParser on chunks', () => {
  const text = (value: string) => line({ type: 'assistant', message: { content: [{ type: 'text', text: value }] }, parent_tool_use_id: null });

  it('emits nothing for a line until its newline arrives, then its event', () => {
    const parser = new ClaudeStreamParser();
    const whole = text('split in two');

    expect(parser.push(whole.slice(0, 20))).toEqual([]);
    expect(parser.push(whole.slice(20, -1))).toEqual([]);
    expect(parser.push('\n')).toEqual([{ type: 'text', text: 'split in two' }]);
  });

  it('emits every line of a chunk that holds several, in order, keeping the unfinished one', () => {
    const parser = new ClaudeStreamParser();
    const third = text('three');

    expect(parser.push(text('one') + text('two') + third.slice(0, 10))).toEqual([
      { type: 'text', text: 'one' },
      { type: 'text', text: 'two' },
    ]);
    expect(parser.push(third.slice(10))).toEqual([{ type: 'text', text: 'three' }]);
  });

  it('keeps a character whose surrogate halves arrive in different chunks', () => {
    const whole = text('ship 🚢');
    const cut = whole.indexOf('🚢') + 1;

    expect(parse([whole.slice(0, cut), whole.slice(cut)]).events[0]).toEqual({ type: 'text', text: 'ship 🚢' });
  });

  it('flushes a last line that has no newline on end()', () => {
    const parser = new ClaudeStreamParser();

    expect(parser.push(text('no newline').trimEnd())).toEqual([]);
    expect(parser.end({ ...CLEAN_EXIT, exitCode: 1 })[0]).toEqual({ type: 'text', text: 'no newline' });
  });

  it('skips blank lines and types or subtypes it does not know', () => {
    const events = parseAll(
      [
        '\n',
        '   \r\n',
        line({ type: 'stream_event', event: { type: 'content_block_delta' } }),
        line({ type: 'system', subtype: 'task_started', task_id: 'a1' }),
        line({ type: 'rate_limit_event', rate_limit_info: {} }),
        line({ type: 'user', message: { content: [{ type: 'text', text: '[Request interrupted by user]' }] } }),
        line({ type: 'assistant', message: { content: [{ type: 'thinking', thinking: 'hmm' }, { type: 'text', text: '' }] } }),
        line({ type: 'result', subtype: 'success', is_error: false }),
      ].join(''),
    );

    expect(events.map((event) => event.type)).toEqual(['result']);
  });

  it('announces no session from an init line without a session id', () => {
    const { events, parser } = parse([line({ type: 'system', subtype: 'init', model: 'm', tools: [] })]);

    expect(events.map((event) => event.type)).toEqual(['error']);
    expect(parser.sessionId()).toBeNull();
  });

  it('turns a malformed line into an error that quotes the start of it, and reads on', () => {
    const garbage = `{"type":"assistant", oops ${'x'.repeat(500)}`;
    const events = parseAll(`${garbage}\n42\n["an","array"]\n${text('still reading')}`);

    expect(events).toEqual([
      { type: 'error', message: expect.stringMatching(/^claude printed a line berth cannot read: "\{\\"type\\":\\"assistant\\", oops x+… \(\d+ more characters\)"$/) },
      { type: 'error', message: 'claude printed a line berth cannot read: "42"' },
      { type: 'error', message: 'claude printed a line berth cannot read: "[\\"an\\",\\"array\\"]"' },
      { type: 'text', text: 'still reading' },
      expect.objectContaining({ type: 'error', message: expect.stringContaining('before it reported a result') }),
    ]);
    expect((events[0] as { message: string }).message.length).toBeLessThan(250);
  });

  it('skips a line longer than its limit with one error, and reads the next line', () => {
    const parser = new ClaudeStreamParser({ maxLineLength: 100 });
    const long = text('y'.repeat(300));

    const events = [...parser.push(long.slice(0, 150)), ...parser.push(long.slice(150)), ...parser.push(text('short'))];

    expect(events).toEqual([
      { type: 'error', message: 'claude printed a line longer than 100 characters; berth skipped it' },
      { type: 'text', text: 'short' },
    ]);
  });

  it('ignores what comes after end(), and a second end()', () => {
    const parser = new ClaudeStreamParser();
    parser.end(CLEAN_EXIT);

    expect(parser.push(text('late'))).toEqual([]);
    expect(parser.end(CLEAN_EXIT)).toEqual([]);
  });
});

describe('ClaudeStreamParser lines', () => {
  const toolResult = (block: Record<string, unknown>) => line({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', ...block }] } });

  it('takes ok from is_error, and flattens block content (text and images) into a string', () => {
    const events = parseAll(
      toolResult({ content: 'plain' }) +
        toolResult({ content: 'denied', is_error: true }) +
        toolResult({ content: [{ type: 'text', text: 'first' }, { type: 'image', source: { data: 'AAAA' } }, { type: 'text', text: 'last' }] }) +
        toolResult({}),
    );

    expect(only(events, 'tool_result')).toEqual([
      { type: 'tool_result', id: 'toolu_1', ok: true, content: 'plain' },
      { type: 'tool_result', id: 'toolu_1', ok: false, content: 'denied' },
      { type: 'tool_result', id: 'toolu_1', ok: true, content: 'first\n[image]\nlast' },
      { type: 'tool_result', id: 'toolu_1', ok: true, content: '' },
    ]);
  });

  it('cuts a long tool result to its limit and says how much was left out', () => {
    const long = 'z'.repeat(TOOL_RESULT_LIMIT + 1000);

    const [event] = only(parseAll(toolResult({ content: long })), 'tool_result');

    expect(event?.content).toBe(`${'z'.repeat(TOOL_RESULT_LIMIT)}… (1000 more characters)`);
  });

  it('never cuts a character in two when truncating', () => {
    expect(truncate('ab🚢cd', 3)).toBe('ab… (4 more characters)');
    expect(truncate('abc', 3)).toBe('abc');
  });

  it('reads tool calls, each with its id, name and input, and one event per block', () => {
    const events = parseAll(
      line({
        type: 'assistant',
        message: {
          content: [
            { type: 'text', text: 'Two things.' },
            { type: 'tool_use', id: 'toolu_a', name: 'Read', input: { file_path: '/w/a' } },
            { type: 'tool_use', id: 'toolu_b', name: 'Bash', input: { command: 'ls' } },
          ],
        },
        parent_tool_use_id: null,
      }),
    );

    expect(events.slice(0, 3)).toEqual([
      { type: 'text', text: 'Two things.' },
      { type: 'tool_call', id: 'toolu_a', name: 'Read', input: { file_path: '/w/a' } },
      { type: 'tool_call', id: 'toolu_b', name: 'Bash', input: { command: 'ls' } },
    ]);
  });

  it("shows a sub-agent's tool calls but not its narration", () => {
    const events = parseAll(
      line({
        type: 'assistant',
        message: { content: [{ type: 'text', text: 'sub-agent thinking aloud' }, { type: 'tool_use', id: 'toolu_s', name: 'Bash', input: { command: 'echo sub' } }] },
        parent_tool_use_id: 'toolu_agent',
      }),
    );

    expect(events.slice(0, -1)).toEqual([{ type: 'tool_call', id: 'toolu_s', name: 'Bash', input: { command: 'echo sub' } }]);
  });

  it('counts tokens from modelUsage (sub-agents and cache included), else from usage', () => {
    const withModels = line({
      type: 'result',
      subtype: 'success',
      is_error: false,
      duration_ms: 1234,
      num_turns: 3,
      total_cost_usd: 0.5,
      usage: { input_tokens: 10, cache_read_input_tokens: 1, cache_creation_input_tokens: 2, output_tokens: 5 },
      modelUsage: {
        main: { inputTokens: 100, cacheReadInputTokens: 20, cacheCreationInputTokens: 3, outputTokens: 7 },
        small: { inputTokens: 1000, cacheReadInputTokens: 0, cacheCreationInputTokens: 0, outputTokens: 70 },
      },
    });
    const usageOnly = line({
      type: 'result',
      subtype: 'success',
      is_error: false,
      usage: { input_tokens: 10, cache_read_input_tokens: 1, cache_creation_input_tokens: 2, output_tokens: 5 },
      modelUsage: {},
    });

    expect(only(parseAll(withModels), 'result')[0]).toEqual({
      type: 'result',
      ok: true,
      durationMs: 1234,
      turns: 3,
      tokensIn: 1123,
      tokensOut: 77,
      costUsd: 0.5,
    });
    expect(only(parseAll(usageOnly), 'result')[0]).toMatchObject({ tokensIn: 13, tokensOut: 5, durationMs: 0, turns: 0, costUsd: 0 });
  });

  it('says why a turn stopped: the errors list without diagnostics, else the subtype and reason', () => {
    const result = (fields: Record<string, unknown>) => only(parseAll(line({ type: 'result', is_error: true, ...fields })), 'result')[0];

    expect(result({ subtype: 'error_max_turns', errors: ['Reached maximum number of turns (1)'] })?.error).toBe('Reached maximum number of turns (1)');
    expect(
      result({ subtype: 'error_during_execution', terminal_reason: 'aborted_streaming', errors: ['[ede_diagnostic] result_type=user'] })?.error,
    ).toBe('claude ended the turn with error_during_execution (aborted_streaming)');
    expect(result({ subtype: 'success', result: 'API Error: 529 Overloaded' })).toMatchObject({ ok: false, error: 'API Error: 529 Overloaded' });
    expect(only(parseAll(line({ type: 'result', subtype: 'error_max_budget_usd' })), 'result')[0]?.ok).toBe(false);
  });
});

describe('ClaudeStreamParser at the end of a stream without a result', () => {
  const init = line({ type: 'system', subtype: 'init', session_id: 'abc', model: 'm', tools: [] });
  const endWith = (exit: Partial<CliExit>) => parseAll(init, { ...CLEAN_EXIT, ...exit }).at(-1);

  it('says how the CLI ended, with the last line of its stderr', () => {
    expect(endWith({ exitCode: 3, stderr: 'starting\n\u001b[31mError: something broke\u001b[0m\n\n' })).toEqual({
      type: 'error',
      message: 'claude exited with code 3 before it reported a result: "Error: something broke"',
    });
    expect(endWith({ exitCode: 127, stderr: 'exec: "claude": executable file not found in $PATH' })).toEqual({
      type: 'error',
      message:
        'claude exited with code 127 (command not found: is Claude Code installed where the agent runs?) before it reported a result: "exec: \\"claude\\": executable file not found in $PATH"',
    });
    expect(endWith({ exitCode: 137 })).toEqual({ type: 'error', message: 'claude exited with code 137 (killed with SIGKILL: out of memory, or from outside) before it reported a result' });
    expect(endWith({ exitCode: 0 })).toEqual({ type: 'error', message: 'claude exited with code 0 before it reported a result' });
    expect(endWith({ exitCode: null })).toEqual({ type: 'error', message: 'claude was killed by a signal before it reported a result' });
    expect(endWith({ exitCode: null, timedOut: true })).toEqual({ type: 'error', message: 'the turn timed out before it reported a result' });
    expect(endWith({ exitCode: null, cancelled: true })).toEqual({ type: 'error', message: 'the turn was cancelled before it reported a result' });
  });

  it('adds nothing when the result came, whatever the exit code', () => {
    const events = parseAll(init + line({ type: 'result', subtype: 'success', is_error: true, result: 'API Error' }), {
      ...CLEAN_EXIT,
      exitCode: 1,
      stderr: 'noise',
    });

    expect(events.map((event) => event.type)).toEqual(['session', 'result']);
  });

  it('reports an empty stream', () => {
    expect(parseAll('', { ...CLEAN_EXIT, exitCode: 1, stderr: 'Error: Input must be provided\n' })).toEqual([
      { type: 'error', message: 'claude exited with code 1 before it reported a result: "Error: Input must be provided"' },
    ]);
  });
});
