/**
 * Turns in the control center, in a real terminal (tmux), with the built
 * binary, the real claude CLI and the fake API, workspace mode: Esc ends
 * the whole turn (its Bash tool runs in a process group of its own), and so
 * do SIGTERM and the terminal going away (SIGHUP, as when an SSH connection
 * drops), after which the turn is recorded as cancelled and berth exits.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareClaudeEnv, type ClaudeEnv } from '../fixtures/claude-env.js';
import { message, startFakeAnthropic, text, toolUse, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
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

  it('SIGTERM cancels the turn, records it, and berth exits 143', async () => {
    const terminal = await turnRunning(3.8);
    await terminal.signalForeground('SIGTERM');
    await terminal.waitFor((screen) => screen.includes('berth exited 143'));
    expect(await processesRunning('sleep 3.8')).toEqual([]);
    expect(await turnEnds()).toEqual([expect.objectContaining({ outcome: 'cancelled' })]);
    await sleep(3_800);
    expect(existsSync(lateFile())).toBe(false);
  });

  it('the terminal going away (SIGHUP) cancels the turn and records it', async () => {
    const terminal = await turnRunning(3.9);
    const [berth] = await terminal.foregroundPids();
    await terminal.kill();
    session = undefined;
    await waitFor(() => !existsSync(`/proc/${berth}`), 'berth gone', 15_000);
    expect(await processesRunning('sleep 3.9')).toEqual([]);
    expect(await turnEnds()).toEqual([expect.objectContaining({ outcome: 'cancelled' })]);
    await sleep(3_900);
    expect(existsSync(lateFile())).toBe(false);
  });
});
