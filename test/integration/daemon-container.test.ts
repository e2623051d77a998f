/**
 * The berth daemon with a container project (the real engine, the image's
 * claude CLI, the fake API on the host): one live agent in the container for
 * turn after turn; a kill -9 of the daemon mid-turn leaves nothing running in
 * the container; the policies act with no control center open.
 */
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { FAKE_API_KEY, QUIET_CLI_ENV } from '../fixtures/claude-env.js';
import { message, startFakeAnthropic, text, toolUse, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
import { daemonCall, daemonStatus, stopDaemonOf } from '../helpers/daemon.js';
import { TmuxSession } from '../helpers/tmux.js';
import { createDockerClient, describeWithDocker, removeBerthContainers } from '../helpers/engine.js';
import { waitFor } from '../helpers/processes.js';
import { useTempDirs } from '../helpers/temp.js';
import { parseEntries } from '../helpers/workspace-chat.js';
import { socketPath, sseReader } from '../../src/daemon/protocol.js';
import { WORKSPACE_IMAGE_BUILD_TIMEOUT_MS, ensureWorkspaceImage } from '../helpers/workspace-image.js';

describeWithDocker('the berth daemon with a container project', () => {
  const tempDir = useTempDirs();
  const homes: string[] = [];
  let docker: Docker;
  let image: string;
  let fake: FakeAnthropic;
  let home: string;
  let env: Record<string, string>;
  const berth = (args: string[]) => runBerth(args, { home, env });

  beforeAll(async () => {
    docker = createDockerClient();
    image = await ensureWorkspaceImage(docker);
  }, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS);

  beforeEach(async () => {
    fake = await startFakeAnthropic();
    home = await tempDir('berth-daemon-box-');
    await chmod(home, 0o755);
    homes.push(home);
    env = { ...QUIET_CLI_ENV, HOME: home, ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_API_KEY: FAKE_API_KEY, CLAUDE_CODE_MAX_RETRIES: '0' };
    for (const args of [
      ['config', 'set', 'container.image', image],
      ['project', 'add', 'boxed', '--mode', 'container'],
      ['project', 'set', 'boxed', 'claude.permissionMode', 'bypassPermissions'],
    ]) {
      expect((await berth(args)).exitCode, args.join(' ')).toBe(0);
    }
  });

  afterEach(async () => {
    await stopDaemonOf(home);
    await fake.close();
    await berth(['project', 'rm', 'boxed']);
  });

  afterAll(async () => {
    await removeBerthContainers(docker, homes);
  });

  /** What runs in the project's container, one `ps` line each (berth exec: the agent's own place). */
  const inContainer = async (): Promise<string[]> => (await berth(['exec', 'boxed', '--', 'ps', '-eo', 'pid,args'])).stdout.split('\n').slice(1);
  // The agent itself, not the exec wrapper (`sh -c … berth-exec claude …`) that holds it.
  const agentsInContainer = async () => (await inContainer()).filter((line) => line.includes('stream-json') && !line.includes('berth-exec'));

  it('keeps one live agent in the container for the next turn, which continues the conversation', async () => {
    fake.reply(message(text('First, in the box.')), message(text('Second, same box.')));
    expect((await berth(['chat', 'boxed', 'one'])).exitCode).toBe(0);
    const agents = await agentsInContainer();
    expect(agents).toHaveLength(1);
    const marker = (await daemonStatus(home))!.sessions[0]!.marker;
    expect((await berth(['chat', 'boxed', 'two'])).stdout).toContain('Second, same box.');
    expect(await agentsInContainer()).toEqual(agents);
    expect((await daemonStatus(home))!.sessions[0]!.marker).toBe(marker);
    expect(JSON.stringify(fake.mainRequests().at(-1)?.body)).toContain('First, in the box.');
  }, 180_000);

  it('starts the agent ahead of a message in a running container only, and the message goes to it', async () => {
    const daemon = execa('node', [BERTH_BIN, 'daemon'], { reject: false, env: { BERTH_HOME: home, ...env } });
    try {
      await waitFor(async () => (await daemonStatus(home)) !== undefined, 'the daemon');
      // A container that does not run is not started for it.
      const state = async () => (JSON.parse((await berth(['ps', '--json'])).stdout) as Array<{ project: string; state: string }>).find((row) => row.project === 'boxed')?.state;
      expect(await state()).not.toBe('running');
      expect((await daemonCall(home, 'POST', '/v1/projects/boxed/warm')).status).toBe(200);
      await sleep(1_500);
      expect((await daemonStatus(home))!.sessions).toEqual([]);
      expect(await state()).not.toBe('running');

      expect((await berth(['up', 'boxed'])).exitCode).toBe(0);
      expect((await daemonCall(home, 'POST', '/v1/projects/boxed/warm')).status).toBe(200);
      await waitFor(async () => (await daemonStatus(home))!.sessions.some((session) => session.marker !== undefined), 'the agent started ahead', 60_000);
      await waitFor(async () => (await agentsInContainer()).length === 1, 'the agent in the container', 60_000);
      const agents = await agentsInContainer();
      expect(fake.mainRequests()).toHaveLength(0);
      fake.reply(message(text('Ready in the box.')));
      expect((await berth(['chat', 'boxed', 'hello'])).stdout).toContain('Ready in the box.');
      expect(await agentsInContainer()).toEqual(agents);
    } finally {
      await stopDaemonOf(home);
      await daemon;
    }
  }, 180_000);

  it('a tool call that needs permission waits for berth approve, then runs in the container; a question is answered', async () => {
    // acceptEdits, not the suite's bypassPermissions: the Bash call is asked.
    expect((await berth(['project', 'set', 'boxed', 'claude.permissionMode', 'acceptEdits'])).exitCode).toBe(0);
    const command = "sh -c 'id -un > proof.txt'";
    const question = { question: 'Which box?', header: 'Box', options: [{ label: 'Small', description: 'one core' }, { label: 'Large', description: 'two cores' }], multiSelect: false };
    fake.reply(message(toolUse('Bash', { command, description: 'Write who runs it' })), message(toolUse('AskUserQuestion', { questions: [question] })), message(text('All done in the box.')));
    const turn = execa('node', [BERTH_BIN, 'chat', 'boxed', 'Prove it', '--json'], { reject: false, env: { BERTH_HOME: home, NO_COLOR: '1', ...env }, stdin: 'ignore' });
    let stdout = '';
    turn.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const requests = () => parseEntries(stdout.split('\n').filter((line) => line.startsWith('{')).join('\n')).filter((entry) => entry.type === 'permission_request');

    await waitFor(() => requests().length === 1, 'the Bash request', 120_000);
    expect(requests()[0]).toMatchObject({ tool: 'Bash', detail: `$ ${command}`, waiting: true });
    expect((await berth(['approve', 'boxed'])).stdout).toBe('allowed Bash in boxed\n');
    await waitFor(() => requests().length === 2, 'the question', 60_000);
    expect((await berth(['approve', 'boxed', '--answer', '2'])).exitCode).toBe(0);

    expect((await turn).exitCode).toBe(0);
    expect(stdout).toContain('All done in the box.');
    // It ran in the container, as its user, on the bind-mounted workspace.
    expect(await readFile(path.join(home, 'workspaces', 'boxed', 'proof.txt'), 'utf8')).toBe('agent\n');
    const answered = JSON.stringify(fake.mainRequests()[2]?.body?.messages?.at(-1));
    expect(answered).toContain('Large');
  }, 240_000);

  it("berth attach opens the agent's own TUI in the container on the conversation, and berth carries it on after", async () => {
    fake.reply(message(text('Said in berth.')), message(text('Said in the TUI.')), message(text('Back in berth.')));
    expect((await berth(['chat', 'boxed', 'first words'])).exitCode).toBe(0);
    const terminal = await TmuxSession.start({ columns: 110, rows: 32, cwd: home, env: { ...env, BERTH_HOME: home } });
    try {
      await terminal.type(`node ${BERTH_BIN} attach boxed`);
      await terminal.press('Enter');
      // No first-run prompt (onboarding, the token, the folder): the conversation, at once.
      await terminal.waitFor((screen) => screen.includes('first words') && screen.includes('Said in berth.'), 60_000);
      // It runs in the container, as its user, with the proxy's token and not the key.
      const tui = (await inContainer()).filter((line) => /claude\b.*--resume/.test(line) && !line.includes('stream-json'));
      expect(tui).toHaveLength(1);
      const pid = tui[0]!.trim().split(/\s+/)[0]!;
      const environment = (await berth(['exec', 'boxed', '--', 'sh', '-c', `tr '\\0' '\\n' < /proc/${pid}/environ`])).stdout;
      expect(environment).toMatch(/^ANTHROPIC_API_KEY=./m);
      expect(environment).not.toContain(FAKE_API_KEY);
      await terminal.type('words in the tui');
      await terminal.press('Enter');
      await terminal.waitFor((screen) => screen.includes('Said in the TUI.'), 60_000);
      await terminal.type('/exit');
      await terminal.waitFor((screen) => screen.includes('Exit the CLI'));
      await terminal.press('Enter');
      await terminal.waitFor((screen) => screen.includes("berth: back from the agent's own TUI; berth chat boxed continues the conversation"), 30_000);
    } finally {
      await terminal.kill();
    }
    const after = await berth(['chat', 'boxed', 'last words']);
    expect(after.stdout).toContain('Back in berth.');
    const said = JSON.stringify(fake.mainRequests().at(-1)?.body?.messages);
    for (const words of ['first words', 'words in the tui', 'last words']) expect(said).toContain(words);
  }, 240_000);

  it('after a kill -9 of the daemon mid-turn, nothing keeps running in the container and the turn reads interrupted', async () => {
    fake.reply(message(toolUse('Bash', { command: 'sleep 6.4 && date > late.txt', description: 'slow' })));
    fake.reply(message(text('Back in the box.')));
    const child = execa('node', [BERTH_BIN, 'chat', 'boxed', 'go slowly'], { reject: false, env: { BERTH_HOME: home, NO_COLOR: '1', ...env }, stdin: 'ignore' });
    try {
      await waitFor(async () => (await inContainer()).some((line) => line.includes('sleep 6.4')), 'the Bash tool sleeping in the container', 120_000);
      process.kill((await daemonStatus(home))!.pid, 'SIGKILL');
      await child;
      const next = await berth(['chat', 'boxed', 'still there?']);
      expect(next.stdout).toContain('Back in the box.');
      expect((await inContainer()).filter((line) => line.includes('sleep 6.4'))).toEqual([]);
      await sleep(7_000);
      expect(existsSync(path.join(home, 'workspaces', 'boxed', 'late.txt'))).toBe(false);
      const ends = parseEntries((await berth(['history', 'boxed', '--json'])).stdout).filter((entry) => entry.type === 'turn_end');
      expect(ends.map((entry) => entry.outcome)).toEqual(['interrupted', 'success']);
    } finally {
      child.kill('SIGKILL');
    }
  }, 240_000);

  it("sends a container's stats history in a stream's first snapshot only, then each round's newest sample", async () => {
    expect((await berth(['up', 'boxed'])).exitCode).toBe(0);
    expect((await berth(['daemon', 'restart'])).exitCode).toBe(0);
    type WireStats = { containerId: string; latest: { time: number }; history?: Array<{ time: number }> };
    /** The project's stats in each snapshot of a new events stream, as they come. */
    const follow = () => {
      const seen: WireStats[] = [];
      const events = request({ socketPath: socketPath(home), path: '/v1/events', headers: { host: 'berth' } });
      events.on('response', (response) => {
        response.setEncoding('utf8');
        response.on('data', sseReader((event, data) => {
          const stats = event === 'snapshot' ? (data as { projects: Array<{ project: { name: string }; stats?: WireStats }> }).projects.find((view) => view.project.name === 'boxed')?.stats : undefined;
          if (stats) seen.push(stats);
        }));
      });
      events.end();
      // A snapshot of a later round than the first seen (the sampler reads every 2 s).
      const later = () => seen.find((stats) => stats.latest.time > seen[0]!.latest.time);
      return { seen, later, untilLater: () => waitFor(() => later() !== undefined, 'a later stats round', 30_000), close: () => events.destroy() };
    };
    const first = follow();
    const second = follow();
    try {
      await first.untilLater();
      // A client that comes once the daemon has sampled a while gets all of it at once.
      const third = follow();
      try {
        await third.untilLater();
        expect(third.seen[0]!.history!.length).toBeGreaterThan(1);
        expect(third.later()).not.toHaveProperty('history');
      } finally {
        third.close();
      }
    } finally {
      first.close();
      second.close();
    }
    for (const stream of [first, second]) {
      expect(stream.seen[0]!.history?.length).toBeGreaterThan(0);
      expect(stream.later()!.containerId).toBe(stream.seen[0]!.containerId);
      expect(stream.later()).not.toHaveProperty('history');
    }
  }, 120_000);

  it('applies the policies with no control center open: the daemon stops an idle container', async () => {
    expect((await berth(['config', 'set', 'policies.idleTimeout', '2s'])).exitCode).toBe(0);
    expect((await berth(['config', 'set', 'policies.tick', '1s'])).exitCode).toBe(0);
    expect((await berth(['up', 'boxed'])).exitCode).toBe(0);
    const daemon = execa('node', [BERTH_BIN, 'daemon'], { reject: false, env: { BERTH_HOME: home, ...env } });
    try {
      await waitFor(async () => {
        const rows = JSON.parse((await berth(['ps', '--json'])).stdout) as Array<{ project: string; state: string }>;
        return rows.some((row) => row.project === 'boxed' && row.state === 'stopped');
      }, 'the idle container to be stopped by the daemon', 60_000);
      expect(await readFile(path.join(home, 'audit.jsonl'), 'utf8')).toMatch(/"action":"stop".*idle for/);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  }, 180_000);
});
