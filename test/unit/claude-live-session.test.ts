/**
 * The live session's side of the protocol, on streams recorded from the real CLI 2.1.197
 * against the fake API (test/fixtures/claude-streams/live-*.jsonl, recorded by
 * test/integration/claude-live-cli.test.ts) and on hand-made lines for what a recording
 * cannot show; what the session writes is collected from a fake stdin.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ClaudeCodeAdapter, MAX_LIVE_MESSAGE_BYTES } from '../../src/agents/claude/claude-adapter.js';
import { ClaudeLiveSession, deniedMessage, type ClaudeLiveSessionOptions } from '../../src/agents/claude/live-session.js';
import { ClaudeStreamParser, type CliExit } from '../../src/agents/claude/stream-parser.js';
import type { PermissionDecision, PermissionRequest } from '../../src/agents/types.js';
import type { ChatEvent } from '../../src/domain/chat.js';
import { randomPieces } from '../helpers/pieces.js';

const CLEAN_EXIT: CliExit = { exitCode: 0, stderr: '', cancelled: false, timedOut: false };

type Line = Record<string, unknown>;

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/claude-streams/live-${name}.jsonl`, import.meta.url), 'utf8');
}

function recordedLines(name: string): Line[] {
  return fixture(name)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Line);
}

function line(value: Line): string {
  return `${JSON.stringify(value)}\n`;
}

/** A session on a fake stdin that keeps every line written to it, parsed. */
function liveSession(options: Partial<ClaudeLiveSessionOptions> = {}): { session: ClaudeLiveSession; written: Line[] } {
  const written: Line[] = [];
  const input = {
    write(chunk: string) {
      expect(chunk.endsWith('\n')).toBe(true);
      expect(chunk.slice(0, -1)).not.toContain('\n');
      written.push(JSON.parse(chunk) as Line);
    },
  };
  return { session: new ClaudeLiveSession(input, { mode: 'workspace', ...options }), written };
}

function only<T extends ChatEvent['type']>(events: ChatEvent[], type: T): Array<Extract<ChatEvent, { type: T }>> {
  return events.filter((event): event is Extract<ChatEvent, { type: T }> => event.type === type);
}

/** The texts of the deltas and of the whole texts, turn by turn (a result ends a turn). */
function textsByTurn(events: ChatEvent[]): Array<{ deltas: string; texts: string }> {
  const turns = [{ deltas: '', texts: '' }];
  for (const event of events) {
    const turn = turns.at(-1)!;
    if (event.type === 'text_delta') turn.deltas += event.text;
    if (event.type === 'text') turn.texts += event.text;
    if (event.type === 'result') turns.push({ deltas: '', texts: '' });
  }
  return turns.slice(0, -1);
}

function controlRequest(requestId: string, request: Line): string {
  return line({ type: 'control_request', request_id: requestId, request });
}

function canUseTool(requestId: string, tool = 'Bash', input: Line = { command: 'rm -rf build' }): string {
  return controlRequest(requestId, { subtype: 'can_use_tool', tool_name: tool, input, tool_use_id: 'toolu_1' });
}

function success(requestId: string, response?: Line): string {
  return line({ type: 'control_response', response: { subtype: 'success', request_id: requestId, ...(response && { response }) } });
}

/** Lets the promise callbacks of a decide() run. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const FIXTURES = ['text-deltas', 'two-turns', 'interrupted-turn', 'control-responses', 'permission-denied', 'permission-allowed', 'unknown-session'];

describe('ClaudeLiveSession on recorded live streams', () => {
  it.each(FIXTURES)('%s gives the same events and writes the same answers however the stream is cut', (name) => {
    const stream = fixture(name);
    const run = (pieces: string[]): { events: ChatEvent[]; written: Line[] } => {
      const { session, written } = liveSession();
      const events = pieces.flatMap((piece) => session.push(piece));
      return { events: [...events, ...session.end(CLEAN_EXIT)], written };
    };
    const whole = run([stream]);

    if (name !== 'unknown-session') expect(whole.events.length).toBeGreaterThan(0);
    expect(run(Array.from(stream))).toEqual(whole);
    for (const seed of [1, 7, 42, 2024]) expect(run(randomPieces(stream, seed)), `seed ${seed}`).toEqual(whole);
    expect(run([stream.replaceAll('\n', '\r\n')])).toEqual(whole);
  });

  it('streams the text as deltas that add up to each turn\'s whole text, before its result', () => {
    const { session } = liveSession();
    session.send('Stream it');
    const events = session.push(fixture('text-deltas'));

    expect(only(events, 'text_delta').length).toBeGreaterThan(2);
    expect(events.findIndex((event) => event.type === 'text_delta')).toBeLessThan(events.findIndex((event) => event.type === 'text'));
    expect(textsByTurn(events)).toEqual([{ deltas: 'This answer arrives a few characters at a time.', texts: 'This answer arrives a few characters at a time.' }]);
    expect(events.at(-1)).toMatchObject({ type: 'result', ok: true });
    expect(session.end(CLEAN_EXIT)).toEqual([]);
  });

  it('reads two turns of one process: a result ends a turn, not the stream', () => {
    const { session } = liveSession();
    const recorded = recordedLines('two-turns');
    const sessionId = recorded.find((entry) => entry.type === 'system')?.session_id;

    const events = session.push(fixture('two-turns'));

    expect(only(events, 'session').map((event) => event.sessionId)).toEqual([sessionId, sessionId]);
    expect(textsByTurn(events)).toEqual([
      { deltas: 'First answer.', texts: 'First answer.' },
      { deltas: 'Second answer.', texts: 'Second answer.' },
    ]);
    expect(only(events, 'result').map((event) => event.ok)).toEqual([true, true]);
    expect(session.sessionId()).toBe(sessionId);
  });

  it('resolves an interrupt on its recorded answer, and the interrupted turn\'s result says so', async () => {
    const { session, written } = liveSession();
    session.send('Stream slowly');
    const interrupted = session.interrupt();

    const events = session.push(fixture('interrupted-turn'));

    await expect(interrupted).resolves.toBeUndefined();
    expect(written[1]).toEqual({ type: 'control_request', request_id: 'berth-1', request: { subtype: 'interrupt' } });
    const [first, second] = only(events, 'result');
    expect(first).toMatchObject({ ok: false, error: 'the turn was interrupted' });
    expect(second).toMatchObject({ ok: true });
  });

  it('resolves and rejects the recorded answers to set_permission_mode and set_model by request_id', async () => {
    const { session, written } = liveSession({ mode: 'container' });
    const acceptEdits = session.setPermissionMode('acceptEdits');
    const haiku = session.setModel('claude-haiku-4-5');
    const bypass = session.setPermissionMode('bypassPermissions');

    session.push(fixture('control-responses'));

    await expect(acceptEdits).resolves.toBeUndefined();
    await expect(haiku).resolves.toBeUndefined();
    await expect(bypass).rejects.toThrow(
      'claude refused the set_permission_mode request: Cannot set permission mode to bypassPermissions because the session was not launched with --dangerously-skip-permissions',
    );
    expect(written).toEqual([
      { type: 'control_request', request_id: 'berth-1', request: { subtype: 'set_permission_mode', mode: 'acceptEdits' } },
      { type: 'control_request', request_id: 'berth-2', request: { subtype: 'set_model', model: 'claude-haiku-4-5' } },
      { type: 'control_request', request_id: 'berth-3', request: { subtype: 'set_permission_mode', mode: 'bypassPermissions' } },
    ]);
  });

  it('denies the recorded permission request with berth\'s message, answered to its request_id, and shows it', () => {
    const { session, written } = liveSession();
    const asked = recordedLines('permission-denied').find((entry) => entry.type === 'control_request');

    const events = session.push(fixture('permission-denied'));

    expect(written).toEqual([
      {
        type: 'control_response',
        response: { subtype: 'success', request_id: asked?.request_id, response: { behavior: 'deny', message: deniedMessage('Bash') } },
      },
    ]);
    expect(only(events, 'status')).toEqual([{ type: 'status', text: deniedMessage('Bash') }]);
    expect(events.findIndex((event) => event.type === 'status')).toBeLessThan(events.findIndex((event) => event.type === 'tool_result'));
    expect(only(events, 'tool_result')).toEqual([expect.objectContaining({ ok: false, content: deniedMessage('Bash') })]);
  });

  it('reports a --resume the CLI did not know as unknownSession, with no event and no error at its exit', () => {
    const { session } = liveSession();

    const events = [...session.push(fixture('unknown-session')), ...session.end({ ...CLEAN_EXIT, exitCode: 1 })];

    expect(events).toEqual([]);
    expect(session.unknownSession()).toBe(true);
    expect(session.sessionId()).toBeNull();
  });
});

describe('ClaudeLiveSession writes', () => {
  it('a user message line as the CLI reads it, and refuses a second one while the turn runs', () => {
    const { session, written } = liveSession();

    session.send('Hello\nthere "you"');

    expect(written).toEqual([
      { type: 'user', session_id: '', message: { role: 'user', content: [{ type: 'text', text: 'Hello\nthere "you"' }] }, parent_tool_use_id: null },
    ]);
    expect(() => session.send('Again')).toThrow('a turn is running: send the message once it has ended');
    session.push(line({ type: 'result', subtype: 'success', is_error: false, num_turns: 1 }));
    session.send('Again');
    expect(written).toHaveLength(2);
  });

  it('checks a message as a line, not as an argument: empty, NUL and past 4 MiB refused, past the command line\'s 128 KiB taken', () => {
    const { session, written } = liveSession();

    expect(() => session.send(' \n ')).toThrow(/^the message is empty/);
    expect(() => session.send('a\0b')).toThrow(/^the message contains a NUL character/);
    expect(() => session.send('x'.repeat(MAX_LIVE_MESSAGE_BYTES + 1))).toThrow(/^the message is too long \(4194305 bytes, at most 4194304\)/);
    expect(written).toEqual([]);
    const long = 'é'.repeat(100_000);
    session.send(long);
    expect(written).toEqual([expect.objectContaining({ message: { role: 'user', content: [{ type: 'text', text: long }] } })]);
    // A one-shot turn still refuses it: it would be an argument.
    expect(() => new ClaudeCodeAdapter().checkMessage(long)).toThrow(/too long for a command line/);
  });

  it('an interrupt only while a turn runs', async () => {
    const { session, written } = liveSession();

    await session.interrupt();
    expect(written).toEqual([]);
    session.send('Work');
    const interrupted = session.interrupt();
    expect(written.at(-1)).toEqual({ type: 'control_request', request_id: 'berth-1', request: { subtype: 'interrupt' } });
    session.push(success('berth-1'));
    await expect(interrupted).resolves.toBeUndefined();
  });

  it('keeps the CLI\'s own error for a turn that failed after an interrupted one', () => {
    const { session } = liveSession();
    const failed = line({ type: 'result', subtype: 'success', is_error: true, result: 'API Error: 500', num_turns: 1 });
    const interruptedResult = line({ type: 'result', subtype: 'error_during_execution', is_error: true, num_turns: 1, terminal_reason: 'aborted_streaming' });

    session.send('First');
    void session.interrupt();
    const first = session.push(success('berth-1') + interruptedResult);
    session.send('Second');
    const second = session.push(failed);

    expect(first).toEqual([expect.objectContaining({ type: 'result', ok: false, error: 'the turn was interrupted' })]);
    expect(second).toEqual([expect.objectContaining({ type: 'result', ok: false, error: 'API Error: 500' })]);
  });

  it('set_permission_mode and set_model, after berth\'s own checks', async () => {
    const { session, written } = liveSession();

    await expect(session.setPermissionMode('bypassPermissions')).rejects.toThrow(/^permission mode bypassPermissions is allowed only in container mode/);
    await expect(session.setPermissionMode('bogus')).rejects.toThrow(/^unknown permission mode "bogus"/);
    await expect(session.setModel('-x')).rejects.toThrow(/^invalid model "-x"/);
    expect(written).toEqual([]);

    const plan = session.setPermissionMode('plan');
    const sonnet = session.setModel('sonnet');
    const reset = session.setModel(null);
    const empty = session.setModel('');
    session.push(success('berth-4') + success('berth-2') + success('berth-1', { mode: 'plan' }) + success('berth-3'));
    await Promise.all([plan, sonnet, reset, empty]);
    expect(written.map((entry) => entry.request)).toEqual([
      { subtype: 'set_permission_mode', mode: 'plan' },
      { subtype: 'set_model', model: 'sonnet' },
      { subtype: 'set_model', model: null },
      { subtype: 'set_model', model: null },
    ]);
  });
});

describe('ClaudeLiveSession control responses', () => {
  it('settles each request by its request_id, ignores answers to nothing, and rejects an error with the CLI\'s words', async () => {
    const { session } = liveSession();
    const settledAs: string[] = [];
    const first = session.setModel('a').then(() => settledAs.push('first'));
    const second = session.setModel('b').then(() => settledAs.push('second'));
    const third = session.setModel('c');

    const events = session.push(
      success('berth-2') +
        success('nobody-asked') +
        line({ type: 'control_response', response: { subtype: 'error', request_id: 'berth-3', error: 'no such model' } }),
    );
    await second;
    expect(settledAs).toEqual(['second']);
    session.push(success('berth-1'));
    await first;

    expect(events).toEqual([]);
    expect(settledAs).toEqual(['second', 'first']);
    await expect(third).rejects.toThrow('claude refused the set_model request: no such model');
  });

  it('rejects a request the CLI does not answer in time, and drops the late answer', async () => {
    const { session } = liveSession({ controlTimeoutMs: 30 });
    session.send('Work');
    const askedAt = Date.now();

    await expect(session.interrupt()).rejects.toThrow('claude did not answer the interrupt request within 0.03 s');
    expect(Date.now() - askedAt).toBeLessThan(1_000);
    expect(session.push(success('berth-1'))).toEqual([]);
  });

  it('rejects what waits when the process exits, and refuses what comes after, writing nothing', async () => {
    const { session, written } = liveSession();
    const waiting = session.setModel('sonnet');

    session.end(CLEAN_EXIT);

    await expect(waiting).rejects.toThrow('claude exited before it answered the set_model request');
    await expect(session.setPermissionMode('plan')).rejects.toThrow(/^claude has exited/);
    expect(() => session.send('Hello')).toThrow(/^claude has exited/);
    await expect(session.interrupt()).resolves.toBeUndefined();
    expect(written).toHaveLength(1);
    expect(session.push(success('berth-1'))).toEqual([]);
  });
});

describe('ClaudeLiveSession permission requests', () => {
  it('without decide(), denies at once with a message the agent reads, and tells the user', () => {
    const { session, written } = liveSession();

    const events = session.push(canUseTool('req-1', 'Write'));

    expect(written).toEqual([
      { type: 'control_response', response: { subtype: 'success', request_id: 'req-1', response: { behavior: 'deny', message: deniedMessage('Write') } } },
    ]);
    expect(deniedMessage('Write')).toBe(
      'berth denied Write: not allowed by the permission mode (claude.permissionMode) or the tool rules (claude.allowedTools)',
    );
    expect(events).toEqual([{ type: 'status', text: deniedMessage('Write') }]);
  });

  it('asks decide() and allows with the input unchanged (the CLI requires updatedInput), or denies with its message', async () => {
    const asked: PermissionRequest[] = [];
    const decisions: PermissionDecision[] = [{ allow: true }, { allow: false, message: 'not now' }];
    const { session, written } = liveSession({ decide: async (request) => (asked.push(request), decisions.shift()!) });

    const events = session.push(canUseTool('req-1', 'Bash', { command: 'make' }) + canUseTool('req-2', 'Edit', { file_path: 'a' }));
    await settled();

    // The decider shows the request: the session adds no event of its own.
    expect(events).toEqual([]);
    expect(asked).toEqual([
      { id: 'req-1', tool: 'Bash', input: { command: 'make' } },
      { id: 'req-2', tool: 'Edit', input: { file_path: 'a' } },
    ]);
    expect(written.map((entry) => entry.response)).toEqual([
      { subtype: 'success', request_id: 'req-1', response: { behavior: 'allow', updatedInput: { command: 'make' } } },
      { subtype: 'success', request_id: 'req-2', response: { behavior: 'deny', message: 'not now' } },
    ]);
  });

  it('allows with the input decide() gives in place of the call\'s own (a question, with its answers)', async () => {
    const answered = { questions: [{ question: 'Which?' }], answers: { 'Which?': 'A' } };
    const { session, written } = liveSession({ decide: async () => ({ allow: true, input: answered }) });

    session.push(canUseTool('req-1', 'AskUserQuestion', { questions: [{ question: 'Which?' }] }));
    await settled();

    expect(written.map((entry) => entry.response)).toEqual([{ subtype: 'success', request_id: 'req-1', response: { behavior: 'allow', updatedInput: answered } }]);
  });

  it('denies with the reason when decide() fails', async () => {
    const { session, written } = liveSession({ decide: () => Promise.reject(new Error('the user went away\nstack')) });

    session.push(canUseTool('req-1'));
    await settled();

    expect(written.map((entry) => entry.response)).toEqual([
      { subtype: 'success', request_id: 'req-1', response: { behavior: 'deny', message: 'berth could not decide on Bash: the user went away' } },
    ]);
  });

  it('answers nothing the CLI withdrew (an interrupt does) or that outlived the process', async () => {
    const allow = async (): Promise<PermissionDecision> => ({ allow: true });
    const withdrawn = liveSession({ decide: allow });
    const exited = liveSession({ decide: allow });

    withdrawn.session.push(canUseTool('req-1') + line({ type: 'control_cancel_request', request_id: 'req-1' }) + canUseTool('req-2'));
    exited.session.push(canUseTool('req-1'));
    exited.session.end(CLEAN_EXIT);
    await settled();

    expect(withdrawn.written.map((entry) => (entry.response as Line).request_id)).toEqual(['req-2']);
    expect(exited.written).toEqual([]);
  });

  it('tells the decider when the CLI withdraws a request, and when the process goes', async () => {
    const signals = new Map<string, AbortSignal>();
    const decide = (request: { id: string }, withdrawn: AbortSignal) => {
      signals.set(request.id, withdrawn);
      return new Promise<PermissionDecision>(() => undefined);
    };
    const { session } = liveSession({ decide });

    session.push(canUseTool('req-1') + canUseTool('req-2'));
    await settled();
    session.push(line({ type: 'control_cancel_request', request_id: 'req-1' }));
    expect([signals.get('req-1')?.reason, signals.get('req-2')?.aborted]).toEqual(['the agent withdrew it (interrupted)', false]);
    session.end(CLEAN_EXIT);
    expect(signals.get('req-2')?.reason).toBe('the agent exited');
  });

  it('answers any other request of the CLI with an error, not silence', () => {
    const { session, written } = liveSession();

    const events = session.push(controlRequest('req-9', { subtype: 'elicitation', mcp_server_name: 'x' }));

    expect(events).toEqual([]);
    expect(written).toEqual([{ type: 'control_response', response: { subtype: 'error', request_id: 'req-9', error: 'berth does not handle elicitation request' } }]);
  });
});

describe('ClaudeLiveSession robustness', () => {
  const textDelta = (value: string, parent: string | null = null): string =>
    line({ type: 'stream_event', event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: value } }, parent_tool_use_id: parent });

  it('reports a malformed line and goes on with the next', () => {
    const { session } = liveSession();

    const events = session.push(`{"type":"stream_ev\n${textDelta('still here')}`);

    expect(events).toEqual([
      { type: 'error', message: 'claude printed a line berth cannot read: "{\\"type\\":\\"stream_ev"' },
      { type: 'text_delta', text: 'still here' },
    ]);
  });

  it('shows the main agent\'s text deltas only, and no other stream event', () => {
    const { session } = liveSession();

    const events = session.push(
      textDelta('mine') +
        textDelta('a sub-agent\'s', 'toolu_1') +
        line({ type: 'stream_event', event: { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"a' } }, parent_tool_use_id: null }) +
        line({ type: 'stream_event', event: { type: 'message_start', message: {} }, parent_tool_use_id: null }),
    );

    expect(events).toEqual([{ type: 'text_delta', text: 'mine' }]);
  });

  it('one-shot, the parser skips stream events and control lines, as before', () => {
    const parser = new ClaudeStreamParser();

    expect(parser.push(textDelta('not live') + canUseTool('req-1') + success('berth-1'))).toEqual([]);
  });

  it('does not throw when the stdin it writes to is gone', async () => {
    const session = new ClaudeLiveSession(
      {
        write: () => {
          throw new Error('write EPIPE');
        },
      },
      { mode: 'workspace', controlTimeoutMs: 20 },
    );

    expect(() => session.send('Hello')).not.toThrow();
    expect(() => session.push(canUseTool('req-1'))).not.toThrow();
    await expect(session.interrupt()).rejects.toThrow(/did not answer/);
  });

  it('ends a running turn with an error when the process dies, an idle session without one', () => {
    const running = liveSession();
    running.session.send('Work');
    const idle = liveSession();

    expect(running.session.end({ exitCode: null, stderr: 'Killed\n', cancelled: false, timedOut: false })).toEqual([
      { type: 'error', message: 'claude was killed by a signal before it reported a result: "Killed"' },
    ]);
    expect(idle.session.end(CLEAN_EXIT)).toEqual([]);
    expect(running.session.end(CLEAN_EXIT)).toEqual([]);
  });
});

describe('ClaudeCodeAdapter.sessionCommandLine', () => {
  const adapter = new ClaudeCodeAdapter();
  const request = { sessionId: null, mode: 'workspace' as const, permissionMode: 'default' };

  it('starts a live session: stream-json both ways, partial messages, permission requests on stdio, no message', () => {
    expect(adapter.sessionCommandLine(request)).toEqual([
      'claude', '-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--include-partial-messages',
      '--permission-prompt-tool', 'stdio', '--permission-mode', 'default',
    ]);
  });

  it('resumes, picks the model and the rules, tool rules last; in a container bypassPermissions becomes possible', () => {
    const argv = adapter.sessionCommandLine({
      sessionId: '38d2c1bd-d689-40fd-9466-cbac7acefe80',
      mode: 'container',
      model: 'sonnet',
      permissionMode: 'bypassPermissions',
      allowedTools: ['Bash(git *)'],
      disallowedTools: ['WebFetch'],
    });

    expect(argv.slice(10)).toEqual([
      '--allow-dangerously-skip-permissions', '--resume', '38d2c1bd-d689-40fd-9466-cbac7acefe80', '--model', 'sonnet',
      '--permission-mode', 'bypassPermissions', '--allowedTools', 'Bash(git *)', '--disallowedTools', 'WebFetch',
    ]);
    expect(argv).not.toContain('--');
  });

  it('refuses what commandLine refuses', () => {
    expect(() => adapter.sessionCommandLine({ ...request, permissionMode: 'bypassPermissions' })).toThrow(/only in container mode/);
    expect(() => adapter.sessionCommandLine({ ...request, sessionId: 'my session' })).toThrow(/is not a Claude Code session id/);
    expect(() => adapter.sessionCommandLine({ ...request, allowedTools: ['--help'] })).toThrow(/invalid allowed tool "--help"/);
  });
});
