import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { chmod, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { FAKE_API_KEY, QUIET_CLI_ENV } from '../fixtures/claude-env.js';
import { message, rateLimitError, serverError, slow, startFakeAnthropic, text, toolUse, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
import { createDockerClient, describeWithDocker, removeBerthContainers } from '../helpers/engine.js';
import { daemonStatus } from '../helpers/daemon.js';
import { waitFor } from '../helpers/processes.js';
import { useTempDirs } from '../helpers/temp.js';
import { WORKSPACE_IMAGE_BUILD_TIMEOUT_MS, ensureWorkspaceImage } from '../helpers/workspace-image.js';

interface Entry {
  type: string;
  [field: string]: unknown;
}

const parseLines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Entry);

describeWithDocker('berth chat in container mode (the image\'s claude CLI, the fake API on the host loopback)', () => {
  const tempDir = useTempDirs();
  const homes: string[] = [];
  let docker: Docker;
  let image: string;
  let fake: FakeAnthropic;
  let home: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    docker = createDockerClient();
    image = await ensureWorkspaceImage(docker);
  }, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS);

  beforeEach(async () => {
    fake = await startFakeAnthropic();
    home = await tempDir();
    await chmod(home, 0o755);
    homes.push(home);
    env = { ...QUIET_CLI_ENV, HOME: home, ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_API_KEY: FAKE_API_KEY, CLAUDE_CODE_MAX_RETRIES: '0' };
    for (const args of [
      ['config', 'set', 'container.image', image],
      ['project', 'add', 'boxed', '--mode', 'container'],
      // The agent is not root in its container: it may run its tools unasked.
      ['project', 'set', 'boxed', 'claude.permissionMode', 'bypassPermissions'],
    ]) {
      expect((await runBerth(args, { home, env })).exitCode, args.join(' ')).toBe(0);
    }
  });

  afterEach(async () => {
    await fake.close();
    // Its network and firewall rules too, also when a test removed the container behind berth's back.
    await runBerth(['project', 'rm', 'boxed'], { home, env });
  });

  afterAll(async () => {
    await removeBerthContainers(docker, homes);
  });

  const workspace = () => path.join(home, 'workspaces', 'boxed');

  it('starts the container lazily, runs Write and Bash tools in it, reports the changed files, and resumes', async () => {
    fake.reply(
      message(text('Writing.'), toolUse('Write', { file_path: '/workspace/written.txt', content: 'from the container\n' })),
      message(toolUse('Bash', { command: 'echo ran > from-bash.txt', description: 'write a file' })),
      message(text('Both done.')),
      message(text('Still here.')),
    );
    const first = await runBerth(['chat', 'boxed', '--json', 'write two files'], { home, env });
    expect(first.exitCode, first.stderr + first.stdout).toBe(0);
    const events = parseLines(first.stdout);
    expect(events.find((event) => event.type === 'status')?.text).toMatch(/starting the container/);
    expect(events.filter((event) => event.type === 'tool_call').map((event) => event.name)).toEqual(['Write', 'Bash']);
    const changed = events.find((event) => event.type === 'changed_files') as unknown as { files: Array<{ path: string; kind: string }> };
    expect(changed.files).toEqual(
      expect.arrayContaining([
        { path: 'written.txt', kind: 'created' },
        { path: 'from-bash.txt', kind: 'created' },
      ]),
    );
    expect(await readFile(path.join(workspace(), 'written.txt'), 'utf8')).toBe('from the container\n');
    expect(await readFile(path.join(workspace(), 'from-bash.txt'), 'utf8')).toBe('ran\n');
    expect(fake.mainRequests().every((request) => request.headers['x-api-key'] === FAKE_API_KEY)).toBe(true);

    const second = await runBerth(['chat', 'boxed', 'and now?'], { home, env });
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).not.toContain('starting the container');
    expect(JSON.stringify(fake.mainRequests().at(-1)!.body?.messages)).toContain('write two files');

    // The key travelled in the exec's environment only.
    const [info] = await docker.listContainers({ filters: { label: [`berth.workspace=${workspace()}`] } });
    const inspected = await docker.getContainer(info!.Id).inspect();
    expect(JSON.stringify(inspected)).not.toContain(FAKE_API_KEY);
  });

  it('passes a message with shell metacharacters, quotes and newlines to the API unchanged', async () => {
    fake.reply(message(text('Noted.')));
    const tricky = `-rf "quoted" 'single' $(touch /tmp/pwned) \`id\`; echo | cat && exit 1\nsecond line`;
    const result = await runBerth(['chat', 'boxed', '--', tricky], { home, env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.stringify(fake.mainRequests()[0]!.body?.messages)).toContain(JSON.stringify(tricky).slice(1, -1));
    expect(existsSync('/tmp/pwned')).toBe(false);
  });

  it('turns a 500 and a 429 from the API into failed turns, exit code 1', async () => {
    fake.reply(serverError());
    const failed = await runBerth(['chat', 'boxed', 'hello'], { home, env });
    expect(failed.exitCode).toBe(1);
    expect(failed.stdout).toMatch(/✗ .*500/);
    fake.reply(rateLimitError(1));
    const limited = await runBerth(['chat', 'boxed', 'hello again'], { home, env });
    expect(limited.exitCode).toBe(1);
    expect(limited.stdout).toMatch(/✗ .*429/);
  });

  it('fails the turn clearly, without hanging, when the image has no agent CLI', async () => {
    expect((await runBerth(['project', 'set', 'boxed', 'container.image', 'debian:bookworm-slim'], { home })).exitCode).toBe(0);
    const result = await runBerth(['chat', 'boxed', '--json', 'hello'], { home, env });
    expect(result.exitCode).toBe(1);
    const events = parseLines(result.stdout);
    expect(events.some((event) => event.type === 'error')).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'turn_end', outcome: 'error' });
    expect(fake.mainRequests()).toHaveLength(0);
  });

  it('fails the turn clearly when the agent CLI crashes inside the container', async () => {
    // The host's claude, mounted read-only into the container, is here a program that fails at once.
    const bin = await tempDir('berth-crashing-cli-');
    await symlink('/bin/false', path.join(bin, 'claude'));
    for (const [key, value] of [
      ['claude.mountHostCli', 'true'],
      ['container.image', image],
    ]) {
      expect((await runBerth(['project', 'set', 'boxed', key!, value!], { home })).exitCode).toBe(0);
    }
    const result = await runBerth(['chat', 'boxed', '--json', 'hello'], { home, env: { ...env, PATH: `${bin}:${process.env.PATH}` } });
    expect(result.exitCode).toBe(1);
    const events = parseLines(result.stdout);
    expect(events.find((event) => event.type === 'error')?.message).toMatch(/exit|code 1/i);
    expect(events.at(-1)).toMatchObject({ type: 'turn_end', outcome: 'error' });
  });

  it('keeps the transcript written so far when berth is killed mid-turn', async () => {
    fake.reply(slow(message(text('first part. '), text('second part. '), text('third part.')), 2_000));
    const running = execa('node', [BERTH_BIN, 'chat', 'boxed', 'slow answer please'], {
      env: { BERTH_HOME: home, NO_COLOR: '1', ...env },
      reject: false,
      stdin: 'ignore',
    });
    await fake.waitForRequest((request) => request.isMain, 60_000);
    running.kill('SIGKILL');
    await running;
    const history = await runBerth(['history', 'boxed', '--json'], { home, env });
    expect(history.exitCode).toBe(0);
    const entries = parseLines(history.stdout);
    expect(entries[0]).toMatchObject({ type: 'user', text: 'slow answer please' });
    expect(entries.some((entry) => entry.type === 'status')).toBe(true);
  });

  const startChat = (...args: string[]) =>
    execa('node', [BERTH_BIN, 'chat', 'boxed', ...args], { env: { BERTH_HOME: home, NO_COLOR: '1', ...env }, reject: false, stdin: 'ignore' });
  /** A Bash tool that sleeps, then writes a file: proof, if the file appears, that the tool outlived its turn. */
  const sleepyTool = (seconds: number, file: string) =>
    message(toolUse('Bash', { command: `sleep ${seconds} && date > ${file}`, description: 'wait, then write' }));
  /** Whether a process in the project's container (none yet: no) has `text` in its command line. */
  const runningInside = async (text: string) => {
    const [info] = await docker.listContainers({ filters: { label: [`berth.workspace=${workspace()}`] } });
    return info !== undefined && (await inside('cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "')).includes(text);
  };

  it('cancels a turn on Ctrl-C, killing the CLI and its Bash tool (in a process group of its own) inside the container', async () => {
    fake.reply(sleepyTool(3.3, 'late.txt'), message(text('Done.')));
    const running = startChat('take your time');
    await waitFor(() => runningInside('sleep 3.3'), 'the Bash tool sleeping in the container', 60_000);
    const interruptedAt = Date.now();
    running.kill('SIGINT');
    const result = await running;
    expect(result.stdout, `exit ${result.exitCode} ${result.signal} ${result.stderr}`).toContain('✗ cancelled');
    expect(result.exitCode).toBe(130);
    console.log(`cancel took ${Date.now() - interruptedAt} ms`);
    expect(await runningInside('take your time')).toBe(false);
    expect(await runningInside('sleep 3.3')).toBe(false);
    await sleep(3_500);
    expect(existsSync(path.join(workspace(), 'late.txt'))).toBe(false);
  });

  /** A kill -9 of the daemon that runs the project's agent. */
  const killDaemon = async () => process.kill((await daemonStatus(home))!.pid, 'SIGKILL');

  it('after a kill -9 of the daemon, the next berth ends what it left in the container and records the turn as interrupted', async () => {
    fake.reply(sleepyTool(4.4, 'late.txt'));
    const running = startChat('wait');
    await waitFor(() => runningInside('sleep 4.4'), 'the Bash tool sleeping in the container', 60_000);
    await killDaemon();
    await running;
    expect(await runningInside('sleep 4.4')).toBe(true);
    const history = await runBerth(['history', 'boxed', '--json'], { home, env });
    expect(history.exitCode, history.stderr).toBe(0);
    expect(await runningInside('sleep 4.4')).toBe(false);
    expect(parseLines(history.stdout).filter((entry) => entry.type === 'turn_end')).toEqual([expect.objectContaining({ outcome: 'interrupted' })]);
    await sleep(4_500);
    expect(existsSync(path.join(workspace(), 'late.txt'))).toBe(false);
  });

  it('refuses a turn while what a killed daemon left cannot be ended (a paused container), and goes on once it can', async () => {
    fake.reply(sleepyTool(30.5, 'never.txt'));
    const running = startChat('wait');
    await waitFor(() => runningInside('sleep 30.5'), 'the Bash tool sleeping in the container', 60_000);
    await killDaemon();
    await running;
    const [info] = await docker.listContainers({ filters: { label: [`berth.workspace=${workspace()}`] } });
    const container = docker.getContainer(info!.Id);
    await container.pause();
    try {
      const refused = await runBerth(['chat', 'boxed', 'next'], { home, env });
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toMatch(/^berth: a turn of berth process \d+, which ended without finishing it, left processes in boxed that could not be ended \(container \S+ is paused: docker unpause \S+ lets berth end what runs in it\): try again once they can be\n$/);
    } finally {
      await container.unpause();
    }
    fake.reply(message(text('Back.')));
    const next = await runBerth(['chat', 'boxed', 'next'], { home, env });
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stdout).toContain('Back.');
    expect(await runningInside('sleep 30.5')).toBe(false);
  });

  for (const [how, act, said] of [
    ['stopped', (id: string) => docker.getContainer(id).kill(), 'the container was stopped during the turn'],
    ['removed', (id: string) => docker.getContainer(id).remove({ force: true }), 'the container was removed during the turn'],
  ] as const) {
    it(`says that the container was ${how} during the turn, when it was`, async () => {
      fake.reply(sleepyTool(20, 'never.txt'));
      const running = startChat('--json', 'wait');
      await waitFor(() => runningInside('sleep 20'), 'the Bash tool sleeping in the container', 60_000);
      const [info] = await docker.listContainers({ filters: { label: [`berth.workspace=${workspace()}`] } });
      await act(info!.Id);
      const result = await running;
      expect(result.exitCode).toBe(1);
      const events = parseLines(result.stdout);
      expect(events.filter((event) => event.type === 'error').map((event) => event.message)).toEqual([said]);
      expect(events.at(-1)).toMatchObject({ type: 'turn_end', outcome: 'error' });
    });
  }

  it('five parallel first turns of a new project make one container and one conversation, each turn in its turn', async () => {
    fake.reply(...[1, 2, 3, 4, 5].map((n) => message(text(`Answer ${n}.`))));
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => startChat('--json', `message ${n}`)));
    for (const result of results) expect(result.exitCode, result.stderr).toBe(0);
    const sessions = new Set(results.flatMap((result) => parseLines(result.stdout).filter((event) => event.type === 'session').map((event) => event.sessionId)));
    expect(sessions.size).toBe(1);
    const last = JSON.stringify(fake.mainRequests().at(-1)!.body?.messages);
    for (const n of [1, 2, 3, 4, 5]) expect(last).toContain(`message ${n}`);
    expect(await docker.listContainers({ all: true, filters: { label: [`berth.workspace=${workspace()}`] } })).toHaveLength(1);
  }, 120_000);

  it('says that the agent ran out of memory when the kernel killed it for that', async () => {
    expect((await runBerth(['project', 'set', 'boxed', 'container.memory', '512m'], { home })).exitCode).toBe(0);
    // Many middling processes: the kernel kills the biggest one in the container, the agent CLI.
    const hog = `for i in $(seq 16); do node -e 'b=Buffer.alloc(6e7,1);setTimeout(()=>{},6e4)' & done; wait`;
    fake.reply(message(toolUse('Bash', { command: hog, description: 'use memory' })), message(text('Survived.')));
    const result = await runBerth(['chat', 'boxed', '--json', 'use memory'], { home, env });
    const errors = parseLines(result.stdout).filter((event) => event.type === 'error').map((event) => event.message);
    expect(errors, result.stdout).toEqual(['the agent ran out of memory in the container and was killed (its limit, container.memory, is 512m)']);
    expect(await runningInside('Buffer.alloc')).toBe(false);
  });

  /** What a command run as the agent prints inside the project's container. */
  async function inside(command: string): Promise<string> {
    const [info] = await docker.listContainers({ filters: { label: [`berth.workspace=${workspace()}`] } });
    const exec = await docker.getContainer(info!.Id).exec({ Cmd: ['sh', '-c', command], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({});
    return new Promise<string>((resolve) => {
      let text = '';
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      stream.on('end', () => resolve(text));
    });
  }

  it('gives the agent only its project token for the credential proxy: the key is in no process inside, the API still gets it', async () => {
    fake.reply(slow(message(text('one '), text('two '), text('three')), 1_000));
    const running = execa('node', [BERTH_BIN, 'chat', 'boxed', 'slowly'], { env: { BERTH_HOME: home, NO_COLOR: '1', ...env }, reject: false, stdin: 'ignore' });
    await fake.waitForRequest((request) => request.isMain, 60_000);
    // While the agent streams: every process's environment, as its own user can read them.
    const environs = await inside('cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n"');
    expect(environs).toMatch(/^ANTHROPIC_API_KEY=berth-[A-Za-z0-9_-]{43}$/m);
    expect(environs).not.toContain(FAKE_API_KEY);
    const result = await running;
    expect(result.exitCode, result.stderr).toBe(0);
    expect(fake.mainRequests().at(-1)!.headers['x-api-key']).toBe(FAKE_API_KEY);
  });

  it('refuses the next turn once the project has spent its daily cap (limits.dailyUsd), saying so in one line', async () => {
    expect((await runBerth(['project', 'set', 'boxed', 'limits.dailyUsd', '0.01'], { home, env })).exitCode).toBe(0);
    fake.reply(message(text('That one was expensive.')));
    const first = await runBerth(['chat', 'boxed', 'spend'], { home, env });
    expect(first.exitCode, first.stderr).toBe(0);
    const requestsBefore = fake.mainRequests().length;
    const second = await runBerth(['chat', 'boxed', 'more'], { home, env });
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(/^berth: project boxed has spent \$\d+\.\d+ on the model today, its cap is \$0\.01 \(limits\.dailyUsd\)\n$/);
    expect(fake.mainRequests().length).toBe(requestsBefore);
  });
});
