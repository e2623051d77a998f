/**
 * Output that cannot hurt the terminal, with the built CLI, real pipes and
 * the real claude CLI against the fake API: a reader that goes away ends
 * nothing but the output, and what the agent, the model or a tool wrote is
 * shown with its control characters visible, never run by the terminal.
 */
import type Docker from 'dockerode';
import { execa } from 'execa';
import { chmod, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { message, text, toolUse, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN, runBerth, runBerthSteps } from '../helpers/berth-cli.js';
import { createDockerClient, describeWithDocker, removeBerthContainers } from '../helpers/engine.js';
import { useTempDirs } from '../helpers/temp.js';
import { useWorkspaceChat, type Entry } from '../helpers/workspace-chat.js';
import { ACTED_ON, HOSTILE, HOSTILE_SHOWN } from '../helpers/terminal-text.js';
import { WORKSPACE_IMAGE_BUILD_TIMEOUT_MS, ensureWorkspaceImage } from '../helpers/workspace-image.js';

/** A Bash command printing the same bytes: printf's octal escapes, U+009B as UTF-8. */
const PRINT_HOSTILE = "printf '\\033]52;c;aGk=\\007\\033[2J\\033[H\\033]0;owned\\007\\302\\23331m\\010\\r'";

/**
 * `berth <args> | <reader>` in bash: berth's exit code and its stderr (the
 * reader's output is dropped). A berth still running after a minute is ended
 * (exit code 124): it should have stopped when its reader left.
 */
async function pipeBerth(home: string, reader: string, args: string[], env: Record<string, string> = {}) {
  const script = `timeout 60 node "$0" "$@" | ${reader} >/dev/null; echo "berth exited $\{PIPESTATUS[0]}" >&3`;
  const result = await execa('bash', ['-c', `exec 3>&1; ${script}`, BERTH_BIN, ...args], {
    reject: false,
    cwd: home,
    env: { BERTH_HOME: home, NO_COLOR: '1', ...env },
  });
  return { exitCode: Number(/berth exited (\d+)/.exec(result.stdout)?.[1] ?? -1), stderr: result.stderr };
}

describe('berth output and a terminal (the real claude CLI, workspace mode)', () => {
  const session = useWorkspaceChat({ allowBash: true });
  let fake: FakeAnthropic;
  let home: string;
  let env: Record<string, string>;

  beforeEach(() => ({ fake, home, env } = session));

  const berthInto = (reader: string, args: string[], withEnv: Record<string, string> = {}) => pipeBerth(home, reader, args, withEnv);

  const historyJson = async () =>
    (await runBerth(['history', 'web', '--json'], { home, env })).stdout.trim().split('\n').map((line) => JSON.parse(line) as Entry);

  it('ends quietly when its reader goes away: project ls | head -0, history | head -1', async () => {
    expect(await berthInto('head -0', ['project', 'ls'])).toEqual({ exitCode: 0, stderr: '' });
    expect(await berthInto('head -0', ['project', 'ls', '--json'])).toEqual({ exitCode: 0, stderr: '' });
    expect(await berthInto('head -0', ['--help'])).toEqual({ exitCode: 0, stderr: '' });

    // More than a pipe holds, so the writes go on after head has left.
    const long = Array.from({ length: 3000 }, (_, index) => `line ${index} of a long answer, to fill the pipe`).join('\n');
    fake.reply(message(text(long)));
    expect((await runBerth(['chat', 'web', 'say a lot'], { home, env })).exitCode).toBe(0);
    expect(await berthInto('head -1', ['history', 'web'], env)).toEqual({ exitCode: 0, stderr: '' });
    expect(await berthInto('head -1', ['history', 'web', '--json'], env)).toEqual({ exitCode: 0, stderr: '' });
  });

  it('finishes and records a turn whose reader left mid-turn: chat | grep -q Hello', async () => {
    // grep leaves at "Hello"; the tool takes a second, and what berth prints after it goes nowhere.
    fake.reply(message(text('Hello there.'), toolUse('Bash', { command: 'sleep 1; echo slept', description: 'wait' })), message(text('All done.')));
    expect(await berthInto('grep -q Hello', ['chat', 'web', 'greet me'], env)).toEqual({ exitCode: 0, stderr: '' });

    const entries = await historyJson();
    expect(entries.at(-1)).toMatchObject({ type: 'turn_end', outcome: 'success' });
    expect(entries).toContainEqual(expect.objectContaining({ type: 'text', text: 'All done.' }));
    const registry = JSON.parse(await readFile(path.join(home, 'projects.json'), 'utf8')) as { projects: Array<{ usage?: { turns: number } }> };
    expect(registry.projects[0]?.usage?.turns).toBe(1);
  });

  it('shows what the model and a tool wrote with its controls visible; --json keeps it exact', async () => {
    // Claude Code refuses a command with control characters in it: the tool's output carries them.
    const command = `${PRINT_HOSTILE}; echo; ${PRINT_HOSTILE}`;
    fake.reply(
      message(text(`Look: ${HOSTILE}`), toolUse('Bash', { command, description: `print ${HOSTILE}` })),
      message(text(`It printed ${HOSTILE}.`)),
    );
    const chat = await runBerth(['chat', 'web', `print ${HOSTILE}`], { home, env });
    expect(chat.exitCode, chat.stderr).toBe(0);
    expect(chat.stdout).not.toMatch(ACTED_ON);
    expect(chat.stdout).toContain(`Look: ${HOSTILE_SHOWN}`);
    expect(chat.stdout).toContain(`It printed ${HOSTILE_SHOWN}.`);
    expect(chat.stdout).toContain('  ⎿ ok\n');

    const history = await runBerth(['history', 'web'], { home, env });
    expect(history.stdout).not.toMatch(ACTED_ON);
    expect(history.stdout).toContain(`It printed ${HOSTILE_SHOWN}.`);

    // JSON escapes every control, C1 too, and reads back as the exact text.
    const json = await runBerth(['history', 'web', '--json'], { home, env });
    expect(json.stdout).not.toMatch(ACTED_ON);
    const entries = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as Entry);
    expect(entries).toContainEqual(expect.objectContaining({ type: 'text', text: `It printed ${HOSTILE}.` }));
    expect(entries).toContainEqual(expect.objectContaining({ type: 'tool_call', input: { command, description: `print ${HOSTILE}` } }));
    expect(entries).toContainEqual(expect.objectContaining({ type: 'tool_result', ok: true, content: expect.stringContaining(HOSTILE.replace(/\r$/, '')) }));

    fake.reply(message(text(`Again ${HOSTILE}`)));
    const live = await runBerth(['chat', 'web', '--json', 'again'], { home, env });
    expect(live.stdout).not.toMatch(ACTED_ON);
    expect(live.stdout.trim().split('\n').map((line) => JSON.parse(line) as Entry)).toContainEqual(
      expect.objectContaining({ type: 'text', text: `Again ${HOSTILE}` }),
    );
  });

  it('shows a bad name in an error line instead of running it', async () => {
    // JSON.stringify in the message escapes ESC, but leaves a C1 CSI raw.
    const result = await runBerth(['chat', 'gh\u009B2Jost', 'hi'], { home, env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).not.toMatch(ACTED_ON);
    expect(result.stderr).toMatch(/^berth: invalid project name "gh\\u009b2Jost": .*\n$/);
  });
});

describeWithDocker('berth logs and a terminal (real engine)', () => {
  const tempDir = useTempDirs();
  let docker: Docker;
  let home: string | undefined;

  beforeAll(async () => {
    docker = createDockerClient();
  });

  // Before the temporary folder goes (after-hooks run last registered, first): berth removes the project's container and network.
  afterEach(async () => {
    if (home === undefined) return;
    await runBerth(['project', 'rm', 'box'], { home });
    await removeBerthContainers(docker, [home]);
  });

  it('shows what the container printed with its controls visible; exec and stats end when no one reads', async () => {
    const image = await ensureWorkspaceImage(docker);
    home = await tempDir();
    await chmod(home, 0o755);
    await runBerthSteps((args) => runBerth(args, { home: home! }), [
      ['config', 'set', 'container.image', image],
      ['project', 'add', 'box', '--mode', 'container'],
      ['up', 'box'],
    ]);
    // The container's own output, as its main process would print it.
    const printed = await runBerth(['exec', 'box', '--', 'sh', '-c', `${PRINT_HOSTILE} > /proc/1/fd/1; echo after > /proc/1/fd/1`], { home });
    expect(printed.exitCode, printed.stderr).toBe(0);
    const logs = await runBerth(['logs', 'box'], { home });
    expect(logs.exitCode, logs.stderr).toBe(0);
    expect(logs.stdout).toContain(`${HOSTILE_SHOWN}after\n`);
    expect(logs.stdout).not.toMatch(ACTED_ON);

    // A command whose output no one reads any more ends, as a pipe's writer would on SIGPIPE.
    expect(await pipeBerth(home, 'head -1', ['exec', 'box', '--', 'yes'])).toEqual({ exitCode: 141, stderr: '' });
    // Sampling stops too, once its reader is gone.
    expect(await pipeBerth(home, 'head -1', ['stats', '--json'])).toEqual({ exitCode: 0, stderr: '' });
    expect((await runBerth(['exec', 'box', '--', 'sh', '-c', 'pgrep -x yes || echo none'], { home })).stdout).toBe('none\n');
  }, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS);
});
