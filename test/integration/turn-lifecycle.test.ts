/**
 * A turn in workspace mode, through the built berth and the real claude CLI
 * against the fake API, ends everything it started however it ends: cancel
 * (Ctrl-C), SIGTERM, SIGHUP, its time limit, or a kill -9 of berth (then the
 * next berth ends it). Turns of one project never run at once, in any number
 * of berth processes; a conversation the CLI lost starts anew.
 *
 * Claude Code runs each Bash tool in a process group of its own, so a tool
 * that sleeps and then writes a file is what must not survive.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClaudeEnv } from '../fixtures/claude-env.js';
import { message, slow, text, toolUse, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
import { daemonStatus, stopDaemonOf } from '../helpers/daemon.js';
import { processesRunning, waitFor } from '../helpers/processes.js';
import { useTempDirs } from '../helpers/temp.js';
import { useWorkspaceChat, type Entry } from '../helpers/workspace-chat.js';

describe('a turn ends all it started, and turns of a project never overlap (workspace mode)', () => {
  const session = useWorkspaceChat({ allowBash: true, prefix: 'berth-turns-' });
  const tempDir = useTempDirs();
  let fake: FakeAnthropic;
  let cli: ClaudeEnv;
  let home: string;
  let env: Record<string, string>;
  const started: ResultPromise[] = [];

  beforeEach(() => ({ fake, cli, home, env } = session));

  afterEach(async () => {
    const running = started.splice(0);
    for (const child of running) child.kill('SIGKILL');
    await Promise.allSettled(running);
  });

  const workspace = session.workspace;
  const chat = (...args: string[]) => {
    const child = execa('node', [BERTH_BIN, 'chat', 'web', ...args], { cwd: home, env: { BERTH_HOME: home, NO_COLOR: '1', ...env }, reject: false, stdin: 'ignore' });
    started.push(child);
    return child;
  };
  /** A Bash tool that sleeps, then writes a file: proof, if the file appears, that the tool outlived its turn. */
  const sleepyTool = (seconds: number, file: string) =>
    message(toolUse('Bash', { command: `sleep ${seconds} && date > ${file}`, description: 'wait, then write' }));
  const history = session.history;
  const registryProject = async () =>
    (JSON.parse(await readFile(path.join(home, 'projects.json'), 'utf8')) as { projects: Array<Record<string, unknown>> }).projects[0]!;

  /** Claims that keep the project busy: a live agent between turns holds one without a turn. */
  const busyClaims = async () => ((await registryProject()).work as Array<{ turn?: number }> | undefined ?? []).filter((claim) => claim.turn !== undefined);

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} to berth chat cancels the turn, kills the tool in its own process group, records it cancelled, and exits ${code}`, async () => {
      fake.reply(sleepyTool(3.1, 'late.txt'), message(text('Done.')));
      const child = chat('wait a little');
      await waitFor(async () => (await processesRunning('sleep 3.1')).length > 0, 'the Bash tool sleeping');
      child.kill(signal);
      const result = await child;
      expect(result.exitCode, result.stderr).toBe(code);
      expect(result.stdout, result.stderr).toContain('✗ cancelled');
      // Ended before berth exited, not merely orphaned.
      expect(await processesRunning('sleep 3.1')).toEqual([]);
      const ends = (await history()).filter((entry) => entry.type === 'turn_end');
      expect(ends).toEqual([expect.objectContaining({ outcome: 'cancelled' })]);
      expect(await registryProject()).toMatchObject({ usage: { turns: 1 } });
      expect(await busyClaims()).toEqual([]);
      await sleep(3_500);
      expect(existsSync(path.join(workspace(), 'late.txt'))).toBe(false);
    });
  }

  it('SIGHUP to berth chat (its terminal went away) leaves the turn to finish in the daemon, and exits 129', async () => {
    fake.reply(sleepyTool(2.1, 'late.txt'), message(text('Done without my terminal.')));
    const child = chat('wait a little');
    await waitFor(async () => (await processesRunning('sleep 2.1')).length > 0, 'the Bash tool sleeping');
    child.kill('SIGHUP');
    expect((await child).exitCode).toBe(129);
    await waitFor(async () => (await history()).some((entry) => entry.type === 'turn_end'), 'the turn to end in the daemon');
    expect((await history()).filter((entry) => entry.type === 'turn_end')).toEqual([expect.objectContaining({ outcome: 'success' })]);
    expect(existsSync(path.join(workspace(), 'late.txt'))).toBe(true);
  });

  it('the time limit ends the tool too', async () => {
    expect((await runBerth(['project', 'set', 'web', 'chat.turnTimeout', '10s'], { home })).exitCode).toBe(0);
    fake.reply(sleepyTool(11.3, 'late.txt'), message(text('Done.')));
    const result = await chat('take your time');
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain('(chat.turnTimeout) and was stopped');
    expect(await processesRunning('sleep 11.3')).toEqual([]);
    await sleep(2_000);
    expect(existsSync(path.join(workspace(), 'late.txt'))).toBe(false);
  }, 40_000);

  it('after a kill -9 of the daemon, the next berth ends what it left running and records the turn as interrupted', async () => {
    fake.reply(sleepyTool(4.2, 'late.txt'));
    const child = chat('wait');
    await waitFor(async () => (await processesRunning('sleep 4.2')).length > 0, 'the Bash tool sleeping');
    const daemon = (await daemonStatus(home))!;
    process.kill(daemon.pid, 'SIGKILL');
    await child;
    // Left running, unsupervised: the claude CLI and its tool.
    expect(await processesRunning('sleep 4.2')).not.toEqual([]);
    expect((await registryProject()).work).toEqual([expect.objectContaining({ kind: 'session', turn: 1 })]);

    const entries = await history();
    expect(await processesRunning('sleep 4.2')).toEqual([]);
    expect(entries.filter((entry) => entry.type === 'turn_end')).toEqual([expect.objectContaining({ turn: 1, outcome: 'interrupted' })]);
    expect(entries.find((entry) => entry.type === 'error')?.message).toMatch(/^berth was stopped during this turn \(a turn of berth process \d+, which ended without finishing it; what it left running was ended\)$/);
    expect(await registryProject()).toMatchObject({ usage: { turns: 1 } });
    expect((await registryProject()).work).toBeUndefined();
    await sleep(4_500);
    expect(existsSync(path.join(workspace(), 'late.txt'))).toBe(false);

    // The conversation goes on.
    fake.reply(message(text('Still here.')));
    const next = await runBerth(['chat', 'web', 'are you there?'], { home, env });
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stdout).toContain('Still here.');
  }, 40_000);

  it('five parallel chats take turns on one conversation: each waits, says so, and the model sees all five', async () => {
    fake.reply(...[1, 2, 3, 4, 5].map((n) => slow(message(text(`Answer ${n}.`)), 60)));
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => chat(`message ${n}`)));
    for (const result of results) expect(result.exitCode, result.stderr).toBe(0);
    expect(results.filter((result) => /^berth: a turn is running in web: this message is queued \((next|\d+(st|nd|rd|th)) in line\)…$/.test(result.stderr)).length).toBeGreaterThanOrEqual(3);
    const requests = fake.mainRequests();
    expect(requests).toHaveLength(5);
    const last = JSON.stringify(requests.at(-1)!.body?.messages);
    for (const n of [1, 2, 3, 4, 5]) expect(last).toContain(`message ${n}`);
    const sessions = new Set((await history()).filter((entry) => entry.type === 'session').map((entry) => entry.sessionId));
    expect(sessions.size).toBe(1);
    expect(await registryProject()).toMatchObject({ usage: { turns: 5 } });
  }, 60_000);

  it('--no-wait fails in one line while another turn runs, and starts nothing', async () => {
    fake.reply(slow(message(text('Slowly.')), 400));
    const first = chat('slow one');
    await fake.waitForRequest((request) => request.isMain);
    const second = await runBerth(['chat', 'web', '--no-wait', 'me too'], { home, env });
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(/^berth: a turn is running in web: wait for it \(without --no-wait the message is queued\), or cancel it\n$/);
    expect((await first).exitCode).toBe(0);
    expect(fake.mainRequests()).toHaveLength(1);
    expect((await history()).filter((entry) => entry.type === 'user')).toHaveLength(1);
  });

  it('a conversation the CLI no longer knows is not a dead end: a new one starts, the old transcript stays', async () => {
    fake.reply(message(text('First.')));
    expect((await runBerth(['chat', 'web', 'remember heron'], { home, env })).exitCode).toBe(0);
    const before = await readdir(path.join(home, 'transcripts', 'web'));
    // The live agent ends with the daemon (it writes its session store as it goes), then that store is gone (a new machine, a wiped home).
    expect((await runBerth(['daemon', 'stop'], { home, env })).exitCode).toBe(0);
    await rm(path.join(cli.home, '.claude', 'projects'), { recursive: true, force: true });

    fake.reply(message(text('Fresh start.')));
    const lost = await runBerth(['chat', 'web', 'and now?'], { home, env });
    expect(lost.exitCode, lost.stdout + lost.stderr).toBe(0);
    expect(lost.stdout).toMatch(/… the agent no longer knows conversation [0-9a-f-]{36}: this turn starts a new one \(the old transcript is kept\)/);
    expect(lost.stdout).toContain('Fresh start.');
    const after = await readdir(path.join(home, 'transcripts', 'web'));
    expect(after).toHaveLength(2);
    expect(after).toEqual(expect.arrayContaining(before));
    const sessions = (await history()).filter((entry) => entry.type === 'session').map((entry) => entry.sessionId);
    expect(new Set(sessions).size).toBe(2);
    // The old file holds its own turn only; the new one, this turn, whole.
    const turnsOf = async (file: string) => (await readFile(path.join(home, 'transcripts', 'web', file), 'utf8')).trim().split('\n').map((line) => (JSON.parse(line) as Entry).turn);
    expect(new Set(await turnsOf(before[0]!))).toEqual(new Set([1]));
    expect(new Set(await turnsOf(after.find((file) => !before.includes(file))!))).toEqual(new Set([2]));

    fake.reply(message(text('Still the new one.')));
    expect((await runBerth(['chat', 'web', 'again'], { home, env })).exitCode).toBe(0);
    expect(JSON.stringify(fake.mainRequests().at(-1)!.body?.messages)).toContain('and now?');
  });

  it('a turn whose session and usage could not be saved (the disk filled up) is not a success, and says which file', async () => {
    // berth's data on a small disk of its own, filled up while the agent answers.
    const disk = await tempDir('berth-full-');
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', disk]);
    try {
      const berth = (args: string[]) => runBerth(args, { home: disk, env });
      expect((await berth(['project', 'add', 'web', '--path', workspace()])).exitCode).toBe(0);
      fake.reply(slow(message(text('one '), text('two '), text('three')), 400));
      const turn = execa('node', [BERTH_BIN, 'chat', 'web', '--json', 'hello'], { cwd: disk, env: { BERTH_HOME: disk, NO_COLOR: '1', ...env }, reject: false, stdin: 'ignore' });
      started.push(turn);
      await fake.waitForRequest((request) => request.isMain);
      await execa('sh', ['-c', `cat /dev/zero > ${disk}/filler 2>/dev/null; true`]);
      const result = await turn;
      expect(result.exitCode, result.stdout).toBe(1);
      const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Entry);
      const errors = events.filter((event) => event.type === 'error').map((event) => String(event.message));
      expect(errors).toContainEqual(expect.stringMatching(new RegExp(`^the turn's session and usage were not saved: cannot write ${disk}/(spend|projects)\\.json: no space left on device$`)));
      expect(events.at(-1)).toMatchObject({ type: 'turn_end', outcome: 'error' });
    } finally {
      // The daemon keeps its log on that disk.
      await stopDaemonOf(disk);
      await execa('umount', [disk]);
    }
  });

  it('--new starts a new conversation on purpose', async () => {
    fake.reply(message(text('One.')), message(text('Two.')));
    expect((await runBerth(['chat', 'web', 'remember heron'], { home, env })).exitCode).toBe(0);
    const fresh = await runBerth(['chat', 'web', '--new', 'which bird?'], { home, env });
    expect(fresh.exitCode, fresh.stderr).toBe(0);
    const sent = JSON.stringify(fake.mainRequests().at(-1)!.body?.messages);
    expect(sent).toContain('which bird?');
    expect(sent).not.toContain('remember heron');
    const sessions = (await history()).filter((entry) => entry.type === 'session').map((entry) => entry.sessionId);
    expect(new Set(sessions).size).toBe(2);
  });
});
