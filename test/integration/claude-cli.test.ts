/**
 * The real Claude Code CLI (the devDependency's native binary) in print mode against the
 * scripted fake API: proves the fake speaks the protocol well enough for the CLI to run
 * tools, report errors, be killed mid-stream and resume a session.
 */
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_API_KEY, prepareClaudeEnv, type ClaudeEnv, type ClaudeEnvOptions } from '../fixtures/claude-env.js';
import {
  apiError,
  message,
  overloadedError,
  rateLimitError,
  serverError,
  slow,
  startFakeAnthropic,
  text,
  toolUse,
  type ErrorReply,
  type FakeAnthropic,
} from '../fixtures/fake-anthropic.js';

/** One line of `--output-format stream-json`; only the fields these tests read are typed. */
interface StreamLine {
  type: string;
  subtype?: string;
  session_id?: string;
  is_error?: boolean;
  api_error_status?: number | null;
  error_status?: number;
  result?: string;
  message?: { role: string; content: Array<Record<string, unknown> & { type: string }> };
  permission_denials?: Array<{ tool_name: string }>;
}

interface ClaudeRun {
  exitCode: number | undefined;
  signal: string | undefined;
  lines: StreamLine[];
  stderr: string;
}

let fake: FakeAnthropic;
let repo: string;
let cli: ClaudeEnv;

async function makeGitRepo(): Promise<string> {
  // realpath: the CLI reports and stores paths resolved, so compare against the same form.
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'berth-claude-repo-')));
  await execa('git', ['init', '--quiet'], { cwd: dir });
  return dir;
}

function envFor(options: Partial<ClaudeEnvOptions> = {}): Promise<ClaudeEnv> {
  return prepareClaudeEnv({ baseUrl: fake.url, trustedDirs: [repo], ...options });
}

const PRINT_MODE_SPAWN = {
  extendEnv: false,
  // An open stdin pipe makes -p wait 3 s for piped input before it starts.
  stdin: 'ignore',
  reject: false,
  // A hang fails here, with the output so far, rather than as a bare test timeout.
  timeout: 30_000,
} as const;

function startClaude(prompt: string, extraArgs: string[] = []) {
  const args = ['-p', prompt, '--output-format', 'stream-json', '--verbose', '--permission-mode', 'acceptEdits', ...extraArgs];
  return execa(cli.binary, args, { ...PRINT_MODE_SPAWN, cwd: repo, env: cli.env });
}

type RunningClaude = ReturnType<typeof startClaude>;

function outputContains(claude: RunningClaude, needle: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    claude.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (seen.includes(needle)) resolve();
    });
    claude.once('exit', () => reject(new Error(`claude exited before printing ${needle}:\n${seen}`)));
  });
}

function parseStreamJson(stdout: string): StreamLine[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as StreamLine);
}

async function runClaude(prompt: string, extraArgs: string[] = []): Promise<ClaudeRun> {
  const result = await startClaude(prompt, extraArgs);
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    lines: parseStreamJson(String(result.stdout)),
    stderr: String(result.stderr),
  };
}

function lineOf(run: ClaudeRun, type: string, subtype?: string): StreamLine | undefined {
  return run.lines.find((line) => line.type === type && (subtype === undefined || line.subtype === subtype));
}

function blocksOf(run: ClaudeRun, role: 'assistant' | 'user', blockType: string): Array<Record<string, unknown>> {
  return run.lines
    .filter((line) => line.type === role)
    .flatMap((line) => line.message?.content ?? [])
    .filter((block) => block.type === blockType);
}

/** The content blocks of the last message the CLI sent in a request. */
function lastMessageBlocks(requestIndex: number): Array<Record<string, unknown>> {
  const content = fake.mainRequests()[requestIndex]?.body?.messages?.at(-1)?.content;
  return typeof content === 'string' ? [{ type: 'text', text: content }] : (content ?? []);
}

function expectSuccess(run: ClaudeRun): void {
  expect(run.exitCode, run.stderr).toBe(0);
  expect(lineOf(run, 'result')).toMatchObject({ subtype: 'success', is_error: false });
}

beforeEach(async () => {
  fake = await startFakeAnthropic();
  repo = await makeGitRepo();
  cli = await envFor();
});

afterEach(async () => {
  await fake.close();
  await cli.cleanup();
  await rm(repo, { recursive: true, force: true });
});

describe('claude -p against the fake API', () => {
  it('runs a scripted Write, sends the tool_result back, and reports success', async () => {
    const target = join(repo, 'hello.txt');
    const write = toolUse('Write', { file_path: target, content: 'hello from the fake\n' });
    fake.reply(message(text('Writing the file.'), write), message(text('Done.')));

    const run = await runClaude('Create hello.txt');

    expectSuccess(run);
    expect(await readFile(target, 'utf8')).toBe('hello from the fake\n');
    expect(lineOf(run, 'system', 'init')?.session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(blocksOf(run, 'assistant', 'tool_use')).toContainEqual(expect.objectContaining({ id: write.id, name: 'Write' }));
    expect(blocksOf(run, 'user', 'tool_result')).toContainEqual(expect.objectContaining({ tool_use_id: write.id }));
    expect(lineOf(run, 'result')?.result).toBe('Done.');

    const [first, second] = fake.mainRequests();
    expect(first?.headers['x-api-key']).toBe(FAKE_API_KEY);
    expect(first?.path).toBe('/v1/messages');
    expect(lastMessageBlocks(1)).toContainEqual(expect.objectContaining({ type: 'tool_result', tool_use_id: write.id }));
    expect(second?.body?.messages).toContainEqual(
      expect.objectContaining({ role: 'assistant', content: expect.arrayContaining([expect.objectContaining({ id: write.id })]) }),
    );
    expect(fake.pendingReplies()).toBe(0);
  });

  it('runs a Bash command that writes a file in the project under acceptEdits', async () => {
    const bash = toolUse('Bash', { command: 'echo berth-was-here > bash-proof.txt', description: 'Write a proof file' });
    fake.reply(message(bash), message(text('Written.')));

    const run = await runClaude('Prove you can run commands');

    expectSuccess(run);
    expect(await readFile(join(repo, 'bash-proof.txt'), 'utf8')).toBe('berth-was-here\n');
    expect(lastMessageBlocks(1)).toContainEqual(expect.objectContaining({ tool_use_id: bash.id, is_error: false }));
  });

  it('denies a Bash command that acceptEdits does not cover, and runs it with --allowedTools Bash', async () => {
    // A pipe into tee is beyond acceptEdits' in-project file commands, so print mode denies it.
    const command = 'printf piped | tee tee-proof.txt';
    fake.reply(message(toolUse('Bash', { command })), message(text('Denied.')));
    const denied = await runClaude('Run tee');

    fake.reply(message(toolUse('Bash', { command })), message(text('Ran it.')));
    const allowed = await runClaude('Run tee', ['--allowedTools', 'Bash']);

    expect(lineOf(denied, 'result')?.permission_denials).toEqual([expect.objectContaining({ tool_name: 'Bash' })]);
    expect(lastMessageBlocks(1)).toContainEqual(expect.objectContaining({ type: 'tool_result', is_error: true }));
    expectSuccess(allowed);
    expect(lineOf(allowed, 'result')?.permission_denials).toEqual([]);
    expect(await readFile(join(repo, 'tee-proof.txt'), 'utf8')).toBe('piped');
  });

  it.each<{ name: string; reply: ErrorReply }>([
    { name: '500 api_error', reply: serverError() },
    { name: '529 overloaded_error', reply: overloadedError() },
    { name: '400 invalid_request_error', reply: apiError(400, { message: 'prompt is too long' }) },
  ])('ends with an error result and a non-zero exit on $name', async ({ reply }) => {
    // Every main request fails; CLAUDE_CODE_MAX_RETRIES=0 (claude-env's default) makes it one request.
    fake.whenQueueEmpty(reply);

    const run = await runClaude('This will fail');

    expect(run.exitCode).not.toBe(0);
    // The CLI still labels the result "success" (the run completed); is_error carries the failure.
    expect(lineOf(run, 'result')).toMatchObject({ is_error: true, api_error_status: reply.status });
    expect(fake.mainRequests()).toHaveLength(1);
  });

  it('retries after a 429 as told by retry-after, then succeeds', async () => {
    await cli.cleanup();
    cli = await envFor({ maxRetries: 1 });
    fake.reply(rateLimitError(1), message(text('Made it.')));

    const run = await runClaude('Try twice');

    expectSuccess(run);
    expect(lineOf(run, 'system', 'api_retry')).toMatchObject({ error_status: 429 });
    expect(fake.mainRequests().map((request) => request.answeredWith)).toEqual(['scripted', 'scripted']);
  });

  it('exits promptly when killed with SIGTERM in the middle of a slow stream', async () => {
    // ~15 events at 2 s each: the reply would take half a minute to finish.
    fake.reply(slow(message(text('This reply streams very slowly, word by word.')), 2_000));
    // Partial messages make the CLI print each stream event it gets: proof it is mid-stream.
    const claude = startClaude('Stream slowly', ['--include-partial-messages']);
    await outputContains(claude, '"type":"stream_event"');
    const mainRequest = await fake.waitForRequest((request) => request.isMain);

    const killedAt = Date.now();
    claude.kill('SIGTERM');
    const result = await claude;

    // The bound only separates "exited" from "waited for the stream"; it is far from both.
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect(result.signal === 'SIGTERM' || result.exitCode === 143).toBe(true);
    await expect.poll(() => mainRequest.clientDisconnected).toBe(true);
  });

  it('resumes a session with --resume, sending the earlier turn to the API', async () => {
    fake.reply(message(text('First answer.')), message(text('Second answer.')));

    const firstRun = await runClaude('First question');
    const sessionId = lineOf(firstRun, 'system', 'init')?.session_id ?? '';
    const secondRun = await runClaude('Second question', ['--resume', sessionId]);

    expectSuccess(firstRun);
    expectSuccess(secondRun);
    expect(lineOf(secondRun, 'result')?.result).toBe('Second answer.');
    const messages = fake.mainRequests()[1]?.body?.messages ?? [];
    expect(JSON.stringify(messages.filter((m) => m.role === 'user'))).toContain('First question');
    expect(messages).toContainEqual({ role: 'assistant', content: [{ type: 'text', text: 'First answer.' }] });
    expect(JSON.stringify(messages.at(-1))).toContain('Second question');
  });
});
