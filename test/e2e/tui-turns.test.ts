/**
 * Turns in the control center, in a real terminal (tmux), with the built
 * binary, the real claude CLI and the fake API, workspace mode: Esc ends
 * the whole turn (its Bash tool runs in a process group of its own). The
 * turn belongs to the daemon, not to the screen: SIGTERM, a kill -9 of the
 * control center or its terminal going away (SIGHUP, as when an SSH
 * connection drops) leave it to finish, and a new control center shows it whole.
 * A daemon killed under an open control center is replaced by a new one,
 * which the screen follows.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareClaudeEnv, type ClaudeEnv } from '../fixtures/claude-env.js';
import { message, startFakeAnthropic, text, toolUse, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
import { daemonStatus, stopDaemonOf } from '../helpers/daemon.js';
import { processesRunning, waitFor } from '../helpers/processes.js';
import { useTempDirs } from '../helpers/temp.js';
import { TmuxSession } from '../helpers/tmux.js';

const CLI_BIN_DIR = fileURLToPath(new URL('../../node_modules/.bin', import.meta.url));

describe('turns in the control center end whole, however they end (tmux, real CLI, fake API)', () => {
  const tempDir = useTempDirs();
  let fake: FakeAnthropic | undefined;
  let cli: ClaudeEnv | undefined;
  let session: TmuxSession | undefined;
  let home = '';

  afterEach(async () => {
    await session?.kill();
    session = undefined;
    // The daemon's agent writes to the CLI's home until it ends: it goes first.
    if (home) await stopDaemonOf(home);
    await fake?.close();
    await cli?.cleanup();
  });

  /** The control center on project web's chat, with a turn whose Bash tool sleeps `seconds`, then writes late.txt. */
  async function turnRunning(seconds: number): Promise<TmuxSession> {
    fake = await startFakeAnthropic();
    home = await tempDir('berth-e2e-turns-');
    cli = await prepareClaudeEnv({ baseUrl: fake.url });
    expect((await runBerth(['project', 'add', 'web'], { home })).exitCode).toBe(0);
    expect((await runBerth(['project', 'set', 'web', 'claude.allowedTools', 'Bash'], { home })).exitCode).toBe(0);
    fake.reply(message(toolUse('Bash', { command: `sleep ${seconds} && date > late.txt`, description: 'wait, then write' })), message(text('Done.')));
    const terminal = await TmuxSession.start({
      columns: 100,
      rows: 30,
      cwd: home,
      env: { ...cli.env, PATH: `${CLI_BIN_DIR}:${cli.env.PATH}`, BERTH_HOME: home },
    });
    session = terminal;
    await terminal.type(`node ${BERTH_BIN}; echo "berth exited $?"`);
    await terminal.press('Enter');
    await terminal.waitFor((screen) => /web\s+workspace/.test(screen));
    await terminal.press('Enter');
    await terminal.waitFor((screen) => screen.includes('chat · web'));
    await terminal.type('wait a little');
    await terminal.press('Enter');
    await waitFor(async () => (await processesRunning(`sleep ${seconds}`)).length > 0, 'the Bash tool sleeping');
    return terminal;
  }

  const lateFile = () => path.join(home, 'workspaces', 'web', 'late.txt');
  const turnEnds = async () =>
    (await runBerth(['history', 'web', '--json'], { home })).stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; outcome?: string })
      .filter((entry) => entry.type === 'turn_end');

  it('Esc cancels the turn and ends its Bash tool too', async () => {
    const terminal = await turnRunning(3.7);
    await terminal.press('Escape');
    await terminal.waitFor((screen) => screen.includes('✗ cancelled'));
    await waitFor(async () => (await processesRunning('sleep 3.7')).length === 0, 'the Bash tool ended', 5_000);
    await sleep(3_700);
    expect(existsSync(lateFile())).toBe(false);
    expect(await turnEnds()).toEqual([expect.objectContaining({ outcome: 'cancelled' })]);
  });

  /** The turn finished without the screen: its tool wrote its file, and a new control center shows it whole. */
  async function finishedWithoutTheScreen(): Promise<void> {
    await waitFor(async () => (await turnEnds()).length > 0, 'the turn to end in the daemon', 30_000);
    expect(await turnEnds()).toEqual([expect.objectContaining({ outcome: 'success' })]);
    expect(existsSync(lateFile())).toBe(true);
    const again = await TmuxSession.start({ columns: 100, rows: 30, cwd: home, env: { ...cli!.env, PATH: `${CLI_BIN_DIR}:${cli!.env.PATH}`, BERTH_HOME: home } });
    session = again;
    await again.type(`node ${BERTH_BIN}`);
    await again.press('Enter');
    await again.waitFor((screen) => /web\s+workspace/.test(screen));
    await again.press('Enter');
    await again.waitFor((screen) => screen.includes('wait a little') && screen.includes('Done.') && screen.includes('● Bash'));
  }

  it('SIGTERM ends the control center (exit 143); the turn goes on in the daemon', async () => {
    const terminal = await turnRunning(2.8);
    await terminal.signalForeground('SIGTERM');
    await terminal.waitFor((screen) => screen.includes('berth exited 143'));
    await session?.kill();
    session = undefined;
    await finishedWithoutTheScreen();
  });

  it('a kill -9 of the control center leaves the turn to finish', async () => {
    const terminal = await turnRunning(2.6);
    await terminal.signalForeground('SIGKILL');
    await terminal.waitFor((screen) => screen.includes('berth exited 137'));
    await session?.kill();
    session = undefined;
    await finishedWithoutTheScreen();
  });

  it('the terminal going away (SIGHUP, tmux kill-session) leaves the turn to finish', async () => {
    const terminal = await turnRunning(2.9);
    const [berth] = await terminal.foregroundPids();
    await terminal.kill();
    session = undefined;
    await waitFor(() => !existsSync(`/proc/${berth}`), 'berth gone', 15_000);
    await finishedWithoutTheScreen();
  });

  it('a kill -9 of the daemon under the open chat: a new daemon is started, the turn reads interrupted, and the next message is answered', async () => {
    // Longer than a new daemon can take to come up on a loaded machine: the tool must be ended by it, not end by itself.
    const terminal = await turnRunning(20.1);
    const old = (await daemonStatus(home))!;
    // The killed turn never asks for its scripted 'Done.': the next message is answered with it.
    expect(fake!.pendingReplies()).toBe(1);
    process.kill(old.pid, 'SIGKILL');
    await waitFor(async () => ((await daemonStatus(home).catch(() => undefined))?.pid ?? old.pid) !== old.pid, 'a new daemon', 20_000);
    // The new daemon ended the old one's agent and its tool, and recorded the turn; the screen read the conversation again.
    await waitFor(async () => (await processesRunning('sleep 20.1')).length === 0, 'the Bash tool ended', 10_000);
    await terminal.waitFor((screen) => screen.includes('✗ interrupted') && screen.includes('the berth daemon went away: a new one runs'));
    expect(await turnEnds()).toEqual([expect.objectContaining({ outcome: 'interrupted' })]);
    await terminal.type('are you back?');
    await terminal.press('Enter');
    await terminal.waitFor((screen) => screen.includes('Done.'));
    expect((await turnEnds()).map((end) => end.outcome)).toEqual(['interrupted', 'success']);
  });
});
