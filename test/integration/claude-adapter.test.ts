/**
 * The Claude Code adapter end to end: the real CLI (the devDependency's binary) runs with
 * the adapter's argv and environment against the scripted fake API, and its stdout goes
 * through the adapter's parser in random-sized pieces, as a pipe may deliver it.
 *
 * BERTH_RECORD_CLAUDE_STREAMS=1 also writes each named turn's raw stdout to
 * test/fixtures/claude-streams/<name>.jsonl: the fixtures the parser's unit tests read.
 * Record again after upgrading the CLI.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClaudeCodeAdapter, MAX_MESSAGE_BYTES } from '../../src/agents/claude/claude-adapter.js';
import type { AgentTurnRequest } from '../../src/agents/types.js';
import type { ChatEvent } from '../../src/domain/chat.js';
import { FAKE_API_KEY, claudeBinary, headlessClaudeConfig } from '../fixtures/claude-env.js';
import {
  message,
  rateLimitError,
  serverError,
  slow,
  startFakeAnthropic,
  text,
  toolUse,
  type FakeAnthropic,
} from '../fixtures/fake-anthropic.js';

const RECORD = process.env.BERTH_RECORD_CLAUDE_STREAMS === '1';
const FIXTURES = fileURLToPath(new URL('../fixtures/claude-streams/', import.meta.url));

interface Turn {
  events: ChatEvent[];
  sessionId: string | null;
  /** The CLI did not know the session the turn asked to continue. */
  unknownSession: boolean;
  exitCode: number | null;
  stdout: string;
  /** For a failure message: how the stdout was cut, so a run can be replayed. */
  seed: number;
}

interface TurnOptions {
  /** Writes the raw stdout to the fixture of this name when recording. */
  record?: string;
  /** CLAUDE_CODE_MAX_RETRIES: 0 unless a test wants the CLI's retry. */
  maxRetries?: number;
  /** Cancels the turn (SIGTERM, as the runtimes stop a command) once the session is announced and the API asked. */
  cancelMidStream?: boolean;
}

let fake: FakeAnthropic;
let repo: string;
let home: string;
const adapter = new ClaudeCodeAdapter({ binary: claudeBinary });

beforeEach(async () => {
  fake = await startFakeAnthropic();
  // realpath: the CLI reports paths resolved, so compare against the same form.
  repo = await realpath(await mkdtemp(join(tmpdir(), 'berth-claude-repo-')));
  await execa('git', ['init', '--quiet'], { cwd: repo });
  home = await mkdtemp(join(tmpdir(), 'berth-claude-home-'));
  await writeFile(join(home, '.claude.json'), JSON.stringify(headlessClaudeConfig(FAKE_API_KEY, [repo])));
});

afterEach(async () => {
  await fake.close();
  await rm(repo, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

/** A small seeded generator, so that a failing cut can be replayed from its seed. */
function randomSizes(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return 1 + (((t ^ (t >>> 14)) >>> 0) % 97);
  };
}

function request(overrides: Partial<AgentTurnRequest> & { message: string }): AgentTurnRequest {
  return { sessionId: null, mode: 'workspace', permissionMode: 'acceptEdits', ...overrides };
}

/** Runs one turn as the chat service will: the adapter's argv and env, stdout through its parser. */
async function runTurn(turnRequest: AgentTurnRequest, options: TurnOptions = {}): Promise<Turn> {
  const [program, ...args] = adapter.commandLine(turnRequest);
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    CLAUDE_CODE_MAX_RETRIES: String(options.maxRetries ?? 0),
    ...adapter.environment({ apiKey: FAKE_API_KEY, baseUrl: fake.url }),
  };
  const parser = adapter.createParser();
  const seed = Math.floor(Math.random() * 2 ** 32);
  const nextSize = randomSizes(seed);
  const events: ChatEvent[] = [];
  const decoder = new StringDecoder('utf8');
  let stdout = '';
  let stderr = '';
  let cancelled = false;
  let cancelling = false;

  // stdin ignored: with an open pipe the CLI waits for piped input first.
  const child = spawn(program!, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (bytes: Buffer) => {
    const chunk = decoder.write(bytes);
    stdout += chunk;
    for (let start = 0; start < chunk.length; ) {
      const end = start + nextSize();
      events.push(...parser.push(chunk.slice(start, end)));
      start = end;
    }
    if (options.cancelMidStream === true && !cancelling && parser.sessionId() !== null) {
      cancelling = true;
      void fake.waitForRequest((r) => r.isMain).then(() => {
        cancelled = true;
        child.kill('SIGTERM');
      });
    }
  });
  child.stderr.on('data', (bytes: Buffer) => (stderr += bytes.toString('utf8')));
  const closed = new Promise<number | null>((resolve) => {
    child.once('close', (code) => resolve(code));
    // A program that cannot start (missing, E2BIG) fails the turn the way a runtime reports it.
    child.once('error', (error) => {
      stderr += error.message;
      resolve(null);
    });
  });
  // A hang fails the test with what was seen, rather than as a bare test timeout.
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, 45_000);
  const exitCode = await closed;
  clearTimeout(timer);
  const rest = decoder.end();
  stdout += rest;
  events.push(...parser.push(rest), ...parser.end({ exitCode, stderr, cancelled, timedOut }));
  if (RECORD && options.record !== undefined) await writeFile(join(FIXTURES, `${options.record}.jsonl`), stdout);
  return { events, sessionId: parser.sessionId(), unknownSession: parser.unknownSession(), exitCode, stdout, seed };
}

function eventsOf<T extends ChatEvent['type']>(turn: Turn, type: T): Array<Extract<ChatEvent, { type: T }>> {
  return turn.events.filter((event): event is Extract<ChatEvent, { type: T }> => event.type === type);
}

function typesOf(turn: Turn): string[] {
  return turn.events.map((event) => event.type);
}

/** The prompt as the API received it: the last text block of the last user message. */
function promptSentToApi(requestIndex: number): string | undefined {
  const content = fake.mainRequests()[requestIndex]?.body?.messages?.filter((m) => m.role === 'user').at(-1)?.content;
  if (typeof content === 'string') return content;
  return content?.filter((block) => block.type === 'text').at(-1)?.text as string | undefined;
}

describe('Claude Code adapter against the real CLI and the fake API', () => {
  it('reports a text turn: session, text, a successful result with usage', async () => {
    fake.reply(message(text('Hello from the fake.')));

    const turn = await runTurn(request({ message: 'Say hello' }), { record: 'text-turn' });

    expect(typesOf(turn), `seed ${turn.seed}`).toEqual(['session', 'text', 'result']);
    const [session] = eventsOf(turn, 'session');
    expect(session?.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(turn.sessionId).toBe(session?.sessionId);
    expect(session?.tools).toEqual(expect.arrayContaining(['Bash', 'Write', 'Read']));
    expect(session?.model).not.toBe('');
    expect(eventsOf(turn, 'text')).toEqual([{ type: 'text', text: 'Hello from the fake.' }]);
    const [result] = eventsOf(turn, 'result');
    expect(result).toMatchObject({ ok: true, turns: 1 });
    expect(result?.error).toBeUndefined();
    expect(result?.tokensIn).toBeGreaterThan(0);
    expect(result?.tokensOut).toBeGreaterThan(0);
    expect(result?.costUsd).toBeGreaterThan(0);
    expect(result?.durationMs).toBeGreaterThan(0);
    // The adapter's environment carried the key and the base URL.
    expect(fake.mainRequests()[0]?.headers['x-api-key']).toBe(FAKE_API_KEY);
    expect(promptSentToApi(0)).toBe('Say hello');
  });

  it('reports a Write: the call with its input, a successful result, and the file exists', async () => {
    const target = join(repo, 'hello.txt');
    const write = toolUse('Write', { file_path: target, content: 'hello from the fake\n' });
    fake.reply(message(text('Writing it.'), write), message(text('Done.')));

    const turn = await runTurn(request({ message: 'Create hello.txt' }), { record: 'write-tool-turn' });

    expect(typesOf(turn), `seed ${turn.seed}`).toEqual(['session', 'text', 'tool_call', 'tool_result', 'text', 'result']);
    expect(eventsOf(turn, 'tool_call')).toEqual([{ type: 'tool_call', id: write.id, name: 'Write', input: write.input }]);
    expect(eventsOf(turn, 'tool_result')).toEqual([
      { type: 'tool_result', id: write.id, ok: true, content: expect.stringContaining(target) },
    ]);
    expect(eventsOf(turn, 'result')[0]).toMatchObject({ ok: true, turns: 2 });
    expect(await readFile(target, 'utf8')).toBe('hello from the fake\n');
  });

  it('passes --allowedTools rules with spaces so a piped Bash command runs, and reports the denial without them', async () => {
    const command = 'printf piped | tee tee-proof.txt';
    const allowedCall = toolUse('Bash', { command, description: 'Write a proof file' });
    fake.reply(message(allowedCall), message(text('Ran it.')));
    const allowed = await runTurn(request({ message: 'Run tee', allowedTools: ['Bash(printf *)', 'Bash(tee *)'] }), {
      record: 'bash-tool-turn',
    });

    const deniedCall = toolUse('Bash', { command });
    fake.reply(message(deniedCall), message(text('It was denied.')));
    const denied = await runTurn(request({ message: 'Run tee again' }), { record: 'bash-denied-turn' });

    expect(eventsOf(allowed, 'tool_call')).toEqual([{ type: 'tool_call', id: allowedCall.id, name: 'Bash', input: allowedCall.input }]);
    expect(eventsOf(allowed, 'tool_result'), `seed ${allowed.seed}`).toEqual([
      { type: 'tool_result', id: allowedCall.id, ok: true, content: 'piped' },
    ]);
    expect(await readFile(join(repo, 'tee-proof.txt'), 'utf8')).toBe('piped');
    expect(eventsOf(denied, 'tool_result'), `seed ${denied.seed}`).toEqual([
      { type: 'tool_result', id: deniedCall.id, ok: false, content: expect.stringContaining('requires approval') },
    ]);
    // A denied tool does not fail the turn: the model hears of it and answers.
    expect(eventsOf(denied, 'result')[0]).toMatchObject({ ok: true });
  });

  it('takes --disallowedTools away from the agent', async () => {
    fake.reply(message(text('No writing today.')));

    const turn = await runTurn(request({ message: 'Hi', disallowedTools: ['Write'] }));

    expect(eventsOf(turn, 'session')[0]?.tools).not.toContain('Write');
    expect(fake.mainRequests()[0]?.body?.tools?.map((tool) => tool.name)).not.toContain('Write');
    expect(eventsOf(turn, 'session')[0]?.tools).toContain('Read');
  });

  it('turns a 500 from the API into one failed result carrying the API error, with no text or crash report', async () => {
    fake.whenQueueEmpty(serverError());

    const turn = await runTurn(request({ message: 'This will fail' }), { record: 'api-error-turn' });

    expect(turn.exitCode).toBe(1);
    expect(typesOf(turn), `seed ${turn.seed}`).toEqual(['session', 'result']);
    expect(eventsOf(turn, 'result')[0]).toMatchObject({ ok: false, error: expect.stringMatching(/^API Error: 500 Internal server error/) });
  });

  it('shows the CLI retrying after a 429 as a status event, then the answer', async () => {
    fake.reply(rateLimitError(1), message(text('Made it.')));

    const turn = await runTurn(request({ message: 'Try twice' }), { record: 'api-retry-turn', maxRetries: 1 });

    expect(typesOf(turn), `seed ${turn.seed}`).toEqual(['session', 'status', 'text', 'result']);
    expect(eventsOf(turn, 'status')[0]?.text).toBe('the API answered 429 (rate_limit); retry 1 of 1 in 1 s');
    expect(eventsOf(turn, 'result')[0]).toMatchObject({ ok: true });
  });

  it('resumes the session of an earlier turn: same session id, the API sees the first exchange', async () => {
    fake.reply(message(text('First answer.')), message(text('Second answer.')));

    const first = await runTurn(request({ message: 'First question' }));
    const second = await runTurn(request({ message: 'Second question', sessionId: first.sessionId }), { record: 'resumed-turn' });

    expect(first.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.sessionId).toBe(first.sessionId);
    expect(eventsOf(second, 'text')).toEqual([{ type: 'text', text: 'Second answer.' }]);
    const messages = fake.mainRequests()[1]?.body?.messages ?? [];
    expect(JSON.stringify(messages)).toContain('First question');
    expect(messages).toContainEqual({ role: 'assistant', content: [{ type: 'text', text: 'First answer.' }] });
    expect(promptSentToApi(1)).toBe('Second question');
  });

  it('reports a session the CLI does not know as unknownSession (no event: the turn starts a new conversation), announcing no session', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';

    const turn = await runTurn(request({ message: 'Anyone there?', sessionId: unknown }), { record: 'missing-session-turn' });

    expect(typesOf(turn)).toEqual([]);
    expect(turn.unknownSession).toBe(true);
    expect(turn.stdout).toContain(`No conversation found with session ID: ${unknown}`);
    expect(turn.sessionId).toBeNull();
    expect(fake.mainRequests()).toHaveLength(0);
  });

  it('ends a turn cancelled mid-stream with an error event that says so, without hanging', async () => {
    fake.reply(slow(message(text('This reply streams very slowly, word by word.')), 2_000));

    const turn = await runTurn(request({ message: 'Stream slowly' }), { record: 'cancelled-turn', cancelMidStream: true });

    expect(typesOf(turn)).toEqual(['session', 'error']);
    expect(turn.events.at(-1)).toEqual({ type: 'error', message: 'the turn was cancelled before it reported a result' });
  });

  it.each([
    ['-rf'],
    ['--help'],
    ['--bare --permission-mode bypassPermissions'],
    ['doctor'],
    ['first line\nsecond line\n\ttabbed, then a blank line\n\nend'],
    [`it's "double" and 'single' quoted, a back\\slash and a \\n that is not a newline`],
    ['$(touch injected-dollar) `touch injected-backtick`; touch injected-semicolon && echo $HOME | cat > injected-pipe'],
    ['ünïcødé, emoji 🚢 and a right-to-left mark \u200f'],
  ])('delivers the message %j to the API unchanged, as the prompt', async (prompt) => {
    fake.reply(message(text('Noted.')));

    const turn = await runTurn(request({ message: prompt }));

    expect(eventsOf(turn, 'result')[0], turn.stdout).toMatchObject({ ok: true });
    expect(promptSentToApi(0)).toBe(prompt);
    expect((await readdir(repo)).filter((name) => name.startsWith('injected'))).toEqual([]);
  });

  it('delivers the longest message a command line can carry', async () => {
    fake.reply(message(text('That was long.')));
    const longest = `${'é'.repeat((MAX_MESSAGE_BYTES - 'the end'.length) / 2)}the end`;
    expect(Buffer.byteLength(longest)).toBe(MAX_MESSAGE_BYTES);

    const turn = await runTurn(request({ message: longest }));

    expect(eventsOf(turn, 'result')[0]).toMatchObject({ ok: true });
    expect(promptSentToApi(0)).toBe(longest);
  });
});
