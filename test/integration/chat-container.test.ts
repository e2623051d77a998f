import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { chmod, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { FAKE_API_KEY, QUIET_CLI_ENV } from '../fixtures/claude-env.js';
import { message, rateLimitError, serverError, slow, startFakeAnthropic, text, toolUse, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
import { createDockerClient, describeWithDocker } from '../helpers/engine.js';
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
  });

  afterAll(async () => {
    const containers = await docker.listContainers({ all: true, filters: { label: ['berth.managed=true'] } });
    const ours = containers.filter((info) => homes.some((dir) => info.Labels['berth.workspace']?.startsWith(dir)));
    await Promise.all(ours.map((info) => docker.getContainer(info.Id).remove({ force: true })));
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

  it('cancels a slow turn on Ctrl-C, killing the CLI inside the container', async () => {
    fake.reply(slow(message(text('one '), text('two '), text('three '), text('four')), 3_000));
    const running = execa('node', [BERTH_BIN, 'chat', 'boxed', 'take your time'], {
      env: { BERTH_HOME: home, NO_COLOR: '1', ...env },
      reject: false,
      stdin: 'ignore',
    });
    await fake.waitForRequest((request) => request.isMain, 60_000);
    const interruptedAt = Date.now();
    running.kill('SIGINT');
    const result = await running;
    expect(result.stdout, `exit ${result.exitCode} ${result.signal} ${result.stderr}`).toContain('✗ cancelled');
    expect(result.exitCode).toBe(1);
    console.log(`cancel took ${Date.now() - interruptedAt} ms`);
    const [info] = await docker.listContainers({ filters: { label: [`berth.workspace=${workspace()}`] } });
    const ps = await docker.getContainer(info!.Id).exec({ Cmd: ['sh', '-c', 'cat /proc/[0-9]*/cmdline | tr "\\0" " "'], AttachStdout: true });
    const stream = await ps.start({});
    const output = await new Promise<string>((resolve) => {
      let text = '';
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      stream.on('end', () => resolve(text));
    });
    expect(output).not.toContain('take your time');
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
