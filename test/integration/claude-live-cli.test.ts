/**
 * A live Claude Code session end to end: the real CLI (the devDependency's binary) runs
 * with the adapter's sessionCommandLine, its stdin open, against the scripted fake API;
 * the adapter's session writes to its stdin and reads its stdout, cut into random-sized
 * pieces as a pipe may deliver it.
 *
 * BERTH_RECORD_CLAUDE_STREAMS=1 also writes each named process's raw stdout to
 * test/fixtures/claude-streams/live-<name>.jsonl: the fixtures of
 * test/unit/claude-live-session.test.ts. Record again after upgrading the CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClaudeCodeAdapter } from '../../src/agents/claude/claude-adapter.js';
import { deniedMessage } from '../../src/agents/claude/live-session.js';
import type { AgentSession, AgentSessionOptions, AgentSessionRequest } from '../../src/agents/types.js';
import type { ChatEvent } from '../../src/domain/chat.js';
import { claudeBinary, prepareClaudeEnv, type ClaudeEnv } from '../fixtures/claude-env.js';
import { message, slow, startFakeAnthropic, text, toolUse, type FakeAnthropic } from '../fixtures/fake-anthropic.js';

const RECORD = process.env.BERTH_RECORD_CLAUDE_STREAMS === '1';
const FIXTURES = fileURLToPath(new URL('../fixtures/claude-streams/', import.meta.url));
const adapter = new ClaudeCodeAdapter({ binary: claudeBinary });

let fake: FakeAnthropic;
let repo: string;
let cli: ClaudeEnv;
const running: Live[] = [];

beforeEach(async () => {
  fake = await startFakeAnthropic();
  // realpath: the CLI reports paths resolved, so compare against the same form.
  repo = await realpath(await mkdtemp(join(tmpdir(), 'berth-claude-live-')));
  await execa('git', ['init', '--quiet'], { cwd: repo });
  cli = await prepareClaudeEnv({ baseUrl: fake.url, trustedDirs: [repo] });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((live) => live.stop()));
  await fake.close();
  await cli.cleanup();
  await rm(repo, { recursive: true, force: true });
});

/** A small seeded generator, so that a failing cut can be replayed from its seed. */
function randomSizes(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return 1 + (state % 97);
  };
}

type Exit = Parameters<AgentSession['end']>[0];

/** One live CLI process and its session, as a daemon would hold them. */
class Live {
  readonly events: ChatEvent[] = [];
  readonly session: AgentSession;
  readonly exited: Promise<Exit>;
  readonly seed = Math.floor(Math.random() * 2 ** 32);
  stdout = '';
  private stderr = '';
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly child: ChildProcess,
    options: AgentSessionOptions,
    private readonly record: string | undefined,
  ) {
    this.session = adapter.createSession({ write: (line) => void child.stdin!.write(line) }, options);
    const decoder = new StringDecoder('utf8');
    const nextSize = randomSizes(this.seed);
    child.stdout!.on('data', (bytes: Buffer) => {
      const chunk = decoder.write(bytes);
      this.stdout += chunk;
      for (let start = 0; start < chunk.length; ) {
        const end = start + nextSize();
        this.events.push(...this.session.push(chunk.slice(start, end)));
        start = end;
      }
      this.listeners.forEach((listener) => listener());
    });
    child.stderr!.on('data', (bytes: Buffer) => (this.stderr += bytes.toString('utf8')));
    // Writes after the process died fail on the pipe, not in the session.
    child.stdin!.on('error', () => undefined);
    this.exited = new Promise<Exit>((resolve) => {
      child.once('close', (exitCode) => {
        const rest = decoder.end();
        this.stdout += rest;
        const exit = { exitCode, stderr: this.stderr, cancelled: false, timedOut: false };
        this.events.push(...this.session.push(rest), ...this.session.end(exit));
        this.listeners.forEach((listener) => listener());
        resolve(exit);
      });
    });
  }

  /** Resolves with the first event (seen or to come) that matches; fails with what was seen. */
  waitFor(matches: (event: ChatEvent, index: number) => boolean, what: string, timeoutMs = 20_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const index = this.events.findIndex(matches);
        if (index === -1) return;
        this.listeners.delete(check);
        clearTimeout(timer);
        resolve(index);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`no ${what} within ${timeoutMs} ms (seed ${this.seed}): ${JSON.stringify(this.events)}\n${this.stderr}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** The index of the result of the nth turn (1-based). */
  turnEnd(nth: number): Promise<number> {
    return this.waitFor((event, index) => event.type === 'result' && this.events.slice(0, index + 1).filter((e) => e.type === 'result').length === nth, `result ${nth}`);
  }

  eventsOf<T extends ChatEvent['type']>(type: T): Array<Extract<ChatEvent, { type: T }>> {
    return this.events.filter((event): event is Extract<ChatEvent, { type: T }> => event.type === type);
  }

  /** Ends the process as berth does (its input closed), kills what is left of its group, records its stdout. */
  async stop(): Promise<void> {
    this.child.stdin!.end();
    const killer = setTimeout(() => this.killGroup(), 5_000);
    await this.exited;
    clearTimeout(killer);
    this.killGroup();
    if (RECORD && this.record !== undefined) await writeFile(join(FIXTURES, `live-${this.record}.jsonl`), this.stdout);
  }

  private killGroup(): void {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // Nothing left.
    }
  }
}

interface StartOptions extends Partial<AgentSessionRequest> {
  record?: string;
  session?: Partial<AgentSessionOptions>;
  /** Spawn options the CLI runs under (a user id). */
  runAs?: { uid: number; gid: number };
}

function startLive(options: StartOptions = {}): Live {
  const { record, session, runAs, ...request } = options;
  const sessionRequest: AgentSessionRequest = { sessionId: null, mode: 'workspace', permissionMode: 'default', ...request };
  const [program, ...args] = adapter.sessionCommandLine(sessionRequest);
  // Its own process group, so that the clean-up reaches whatever it started.
  const child = spawn(program!, args, { cwd: repo, env: cli.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true, ...runAs });
  const live = new Live(child, { mode: sessionRequest.mode, ...session }, record);
  running.push(live);
  return live;
}

/** The text blocks and tool results of the last message the CLI sent in a main request. */
function lastMessageOf(requestIndex: number): Array<Record<string, unknown>> {
  const content = fake.mainRequests()[requestIndex]?.body?.messages?.at(-1)?.content;
  return typeof content === 'string' ? [{ type: 'text', text: content }] : (content ?? []);
}

function deltasBetween(live: Live, from: number, to: number): string {
  return live.events
    .slice(from, to)
    .flatMap((event) => (event.type === 'text_delta' ? [event.text] : []))
    .join('');
}

describe('a live Claude Code session against the real CLI and the fake API', () => {
  it('streams text deltas before the turn has ended', async () => {
    const answer = 'This answer arrives a few characters at a time.';
    fake.reply({ ...slow(message(text(answer)), 150), deltaChunks: 8 });
    const live = startLive({ record: 'text-deltas' });

    live.session.send('Stream it');
    const firstDelta = await live.waitFor((event) => event.type === 'text_delta', 'text delta');
    const resultsAtFirstDelta = live.eventsOf('result').length;
    const end = await live.turnEnd(1);

    expect(resultsAtFirstDelta).toBe(0);
    expect(firstDelta).toBeLessThan(end);
    expect(live.eventsOf('text_delta').length).toBeGreaterThan(2);
    expect(deltasBetween(live, 0, end)).toBe(answer);
    // The whole text still comes, for the transcript.
    expect(live.eventsOf('text')).toEqual([{ type: 'text', text: answer }]);
    expect(live.events[end]).toMatchObject({ type: 'result', ok: true });
  });

  it('takes two messages as two turns of one process and one conversation', async () => {
    fake.reply(message(text('First answer.')), message(text('Second answer.')));
    const live = startLive({ record: 'two-turns' });

    live.session.send('First question');
    await live.turnEnd(1);
    const firstSession = live.session.sessionId();
    live.session.send('Second question');
    await live.turnEnd(2);

    expect(live.child.exitCode).toBeNull();
    expect(firstSession).toMatch(/^[0-9a-f-]{36}$/);
    expect(live.session.sessionId()).toBe(firstSession);
    // Each turn announces the session again, with the same id.
    expect(live.eventsOf('session').map((event) => event.sessionId)).toEqual([firstSession, firstSession]);
    expect(live.eventsOf('text').map((event) => event.text)).toEqual(['First answer.', 'Second answer.']);
    expect(live.eventsOf('result').map((event) => event.ok)).toEqual([true, true]);
    const messages = fake.mainRequests()[1]?.body?.messages ?? [];
    expect(JSON.stringify(messages)).toContain('First question');
    expect(messages).toContainEqual({ role: 'assistant', content: [{ type: 'text', text: 'First answer.' }] });
    expect(JSON.stringify(messages.at(-1))).toContain('Second question');
  });

  it('interrupts a slow stream: the turn ends within a second and the same process takes the next message', async () => {
    // ~15 events at 0.5 s each: the rest of the reply would take several seconds.
    fake.reply(slow(message(text('This reply streams very slowly, word by word.')), 500), message(text('After the interrupt.')));
    const live = startLive({ record: 'interrupted-turn' });

    live.session.send('Stream slowly');
    await live.waitFor((event) => event.type === 'text_delta', 'text delta');
    const interruptedAt = Date.now();
    await live.session.interrupt();
    const end = await live.turnEnd(1);
    const took = Date.now() - interruptedAt;
    const sessionId = live.session.sessionId();
    live.session.send('Go on');
    await live.turnEnd(2);

    expect(took).toBeLessThan(1_000);
    expect(live.events[end]).toMatchObject({ type: 'result', ok: false, error: 'the turn was interrupted' });
    expect(live.child.exitCode).toBeNull();
    expect(live.session.sessionId()).toBe(sessionId);
    expect(live.eventsOf('result')[1]).toMatchObject({ ok: true });
    expect(live.eventsOf('text').at(-1)).toEqual({ type: 'text', text: 'After the interrupt.' });
    // The conversation goes on: the API hears of the interrupted start and of the new message.
    expect(JSON.stringify(fake.mainRequests()[1]?.body?.messages)).toContain('[Request interrupted by user]');
    expect(JSON.stringify(lastMessageOf(1))).toContain('Go on');
  });

  it('changes the permission mode and the model of the live session, and rejects what the CLI refuses', async () => {
    fake.reply(message(text('Answered by another model.')));
    // A container session as berth sees it, in a CLI started without the container's flag.
    const live = startLive({ record: 'control-responses', session: { mode: 'container' } });

    await live.session.setPermissionMode('acceptEdits');
    await live.session.setModel('claude-haiku-4-5');
    const refused = live.session.setPermissionMode('bypassPermissions');
    await expect(refused).rejects.toThrow(/^claude refused the set_permission_mode request: .*--dangerously-skip-permissions/);
    live.session.send('Which model?');
    await live.turnEnd(1);

    expect(fake.mainRequests()[0]?.body?.model).toBe('claude-haiku-4-5');
    expect(live.stdout).toContain('"permissionMode":"acceptEdits"');
    await expect(live.session.setModel(null)).resolves.toBeUndefined();
  });

  it('in a container (not root), the live session may switch to bypassPermissions', async () => {
    // Root is what a container's agent is not: run the CLI as nobody when the tests run as root.
    const runAs = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
    if (runAs !== undefined) await execa('chown', ['-R', `${runAs.uid}:${runAs.gid}`, repo, cli.home]);
    fake.reply(message(text('Bypassing.')));
    const live = startLive({ mode: 'container', ...(runAs && { runAs }) });

    await live.session.setPermissionMode('bypassPermissions');
    live.session.send('Hello');
    await live.turnEnd(1);

    expect(live.stdout).toContain('"permissionMode":"bypassPermissions"');
  });

  it('denies a tool call the permission mode does not allow, with a message the agent and the user see', async () => {
    const bash = toolUse('Bash', { command: 'echo berth > proof.txt', description: 'Write a proof file' });
    fake.reply(message(bash), message(text('It was denied.')));
    const live = startLive({ record: 'permission-denied' });

    live.session.send('Write a proof file');
    await live.turnEnd(1);

    expect(live.eventsOf('status')).toEqual([{ type: 'status', text: deniedMessage('Bash') }]);
    expect(live.eventsOf('tool_result')).toEqual([{ type: 'tool_result', id: bash.id, ok: false, content: deniedMessage('Bash') }]);
    expect(lastMessageOf(1)).toContainEqual(expect.objectContaining({ type: 'tool_result', tool_use_id: bash.id, is_error: true, content: deniedMessage('Bash') }));
    expect(live.eventsOf('result')[0]).toMatchObject({ ok: true });
    expect(await readdir(repo)).not.toContain('proof.txt');
  });

  it('runs a tool call that decide() allows, with its input unchanged', async () => {
    const bash = toolUse('Bash', { command: 'echo berth > proof.txt', description: 'Write a proof file' });
    fake.reply(message(bash), message(text('Written.')));
    const asked: unknown[] = [];
    const live = startLive({
      record: 'permission-allowed',
      session: { decide: async (request) => (asked.push(request), { allow: true }) },
    });

    live.session.send('Write a proof file');
    await live.turnEnd(1);

    expect(asked).toEqual([{ id: expect.any(String), tool: 'Bash', input: bash.input }]);
    expect(live.eventsOf('status')).toEqual([]);
    expect(live.eventsOf('tool_result')).toEqual([expect.objectContaining({ id: bash.id, ok: true })]);
    expect((await stat(join(repo, 'proof.txt'))).isFile()).toBe(true);
  });

  it('reports a --resume of a conversation the CLI does not have as unknownSession, and the process ends by itself', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const live = startLive({ sessionId: unknown, record: 'unknown-session' });

    const exit = await live.exited;

    expect(exit.exitCode).toBe(1);
    expect(live.session.unknownSession()).toBe(true);
    expect(live.events).toEqual([]);
    expect(live.stdout).toContain(`No conversation found with session ID: ${unknown}`);
    // Too late for a message: refused in one line, nothing written.
    expect(() => live.session.send('Anyone there?')).toThrow(/^claude has exited/);
    expect(fake.mainRequests()).toHaveLength(0);
  });
});
