/**
 * The whole control center, end to end, in a real terminal (tmux) against the
 * built binary, the real Docker engine, the image's real Claude Code CLI and
 * the scripted fake API: add a container project with the form, chat with it
 * (the agent writes a file), leave a slow turn running for the dashboard,
 * cancel it, open a shell in the container, quit, and find the terminal clean.
 */
import { chmod, readFile } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { FAKE_API_KEY, QUIET_CLI_ENV } from '../fixtures/claude-env.js';
import { message, slow, startFakeAnthropic, text, toolUse, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
import { createDockerClient, describeWithDocker } from '../helpers/engine.js';
import { useTempDirs } from '../helpers/temp.js';
import { TmuxSession } from '../helpers/tmux.js';
import { ensureWorkspaceImage, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS } from '../helpers/workspace-image.js';

const ESCAPE_SETTLE_MS = 300;
/** An SGR sequence that sets a foreground colour: 30–37, 90–97, or 38;5/38;2. */
const COLOUR_ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*(3[0-7]|9[0-7]|38;[25])[;m]`);

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describeWithDocker('the control center end to end (tmux, real engine, real CLI, fake API)', () => {
  const tempDir = useTempDirs();
  let docker: Docker;
  let image: string;
  let fake: FakeAnthropic;
  let session: TmuxSession | undefined;
  let home: string | undefined;

  beforeAll(async () => {
    docker = createDockerClient();
    image = await ensureWorkspaceImage(docker);
  }, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS);

  // After each test, while its home is there (each test has one of its own): the project goes as a user removes it,
  // with its container, network and firewall rules.
  afterEach(async () => {
    await session?.kill();
    session = undefined;
    await fake?.close();
    if (home) await runBerth(['project', 'rm', 'boat'], { home });
    home = undefined;
  });

  it('creates a project, chats with it, keeps a turn running behind the dashboard, cancels it, shells in, and quits clean', async () => {
    fake = await startFakeAnthropic();
    home = await tempDir('berth-e2e-');
    // The agent in the container runs as another user: it must reach the workspace under this folder.
    await chmod(home, 0o755);
    expect((await runBerth(['config', 'set', 'container.image', image], { home })).exitCode).toBe(0);
    fake.reply(
      message(text('Writing it now.'), toolUse('Write', { file_path: '/workspace/hello.txt', content: 'hello from the agent\n' })),
      message(text('Done: hello.txt is written.')),
      slow(message(text('one two three four five six seven eight nine ten')), 1_500),
    );
    session = await TmuxSession.start({
      columns: 100,
      rows: 30,
      cwd: home,
      env: {
        ...QUIET_CLI_ENV,
        BERTH_HOME: home,
        HOME: home,
        ANTHROPIC_BASE_URL: fake.url,
        ANTHROPIC_API_KEY: FAKE_API_KEY,
        CLAUDE_CODE_MAX_RETRIES: '0',
        // As on a CI machine, where Ink would draw nothing live unless berth sees to it.
        CI: 'true',
      },
    });
    await session.type('echo before-berth');
    await session.press('Enter');
    await session.waitFor((screen) => screen.includes('before-berth\n$'));
    await session.type(`node ${BERTH_BIN}`);
    await session.press('Enter');
    await session.waitFor((screen) => screen.includes('No projects yet'));

    // A new project, in container mode, through the form.
    await session.type('n');
    await session.waitFor((screen) => /Name/.test(screen) && /Mode/.test(screen));
    await session.type('boat');
    await session.press('Tab');
    await session.press('Tab');
    await session.press('Space');
    await session.waitFor((screen) => /● container/.test(screen));
    await session.press('Enter');
    await session.waitFor((screen) => /boat\s+container/.test(screen));

    // Chat: the container starts lazily, the agent writes a file, the reply and the changed file show.
    await session.press('Enter');
    await session.waitFor((screen) => screen.includes('Enter sends'));
    await session.type('please write hello.txt');
    await session.press('Enter');
    const replied = await session.waitFor((screen) => screen.includes('Done: hello.txt is written.') && /hello\.txt/.test(screen.split('changed')[1] ?? ''), 120_000);
    expect(replied).toContain('please write hello.txt');
    expect(replied).toMatch(/Write/);
    expect(await readFile(path.join(home, 'workspaces', 'boat', 'hello.txt'), 'utf8')).toBe('hello from the agent\n');

    // A slow turn keeps streaming while the user looks at the dashboard.
    await session.type('count to ten slowly');
    await session.press('Enter');
    await session.waitFor((screen) => /cancel the turn/.test(screen));
    // The slow reply is streaming (the fake has the request) before the user looks away.
    await waitUntil(() => fake.mainRequests().length >= 3, 60_000);
    await session.press('Tab');
    const dashboard = await session.waitFor((screen) => /boat\s+container/.test(screen) && /⟳ working/.test(screen.split('\n').find((line) => line.includes('boat')) ?? ''));
    expect(dashboard).toMatch(/running|healthy|starting/);
    // Quitting does not stop it: the daemon runs the turn, and a new control center shows it running.
    await session.press('C-c');
    await session.waitFor((screen) => !screen.includes('boat') && screen.trimEnd().endsWith('\n$'));
    await session.type(`node ${BERTH_BIN}`);
    await session.press('Enter');
    await session.waitFor((screen) => /boat\s+container/.test(screen) && /⟳ working/.test(screen));

    // Back in the chat, Esc cancels it.
    await session.press('Enter');
    await session.waitFor((screen) => screen.includes('count to ten slowly'));
    await session.press('Escape');
    await session.waitFor((screen) => /cancelled/.test(screen), 30_000);
    await new Promise((resolve) => setTimeout(resolve, ESCAPE_SETTLE_MS));

    // Esc with no turn running goes back; e hands the terminal to a shell in the container.
    await session.press('Escape');
    await session.waitFor((screen) => screen.includes('? help'));
    await session.type('e');
    await session.waitFor((screen) => screen.includes('exit it to come back'));
    await session.type('whoami; pwd');
    await session.press('Enter');
    await session.waitFor((screen) => /\bagent\b/.test(screen) && screen.includes('/workspace'));
    await session.type('exit');
    await session.press('Enter');
    const back = await session.waitFor((screen) => /boat\s+container/.test(screen) && screen.includes('? help'));
    expect(back).not.toContain('whoami');

    // Quit: the terminal is as it was.
    await session.type('q');
    const restored = await session.waitFor((screen) => !screen.includes('boat') && screen.trimEnd().endsWith('\n$'));
    expect(restored).toContain(`$ node ${BERTH_BIN}`);
    expect(fake.mainRequests().every((request) => request.headers['x-api-key'] === FAKE_API_KEY)).toBe(true);
  }, 240_000);

  it('starts and stops a container, follows its logs, removes it after asking, resizes, and draws no colour under NO_COLOR', async () => {
    fake = await startFakeAnthropic();
    home = await tempDir('berth-e2e-keys-');
    await chmod(home, 0o755);
    for (const args of [['config', 'set', 'container.image', image], ['project', 'add', 'boat', '--mode', 'container']]) {
      expect((await runBerth(args, { home })).exitCode, args.join(' ')).toBe(0);
    }
    session = await TmuxSession.start({ columns: 100, rows: 30, cwd: home, env: { BERTH_HOME: home, HOME: home, NO_COLOR: '1', TERM: 'xterm-256color' } });
    await session.type(`node ${BERTH_BIN}`);
    await session.press('Enter');
    const boatRow = (screen: string) => screen.split('\n').find((line) => /boat\s+container/.test(line)) ?? '';
    await session.waitFor((screen) => /none/.test(boatRow(screen)));

    // s starts it; the row shows its state and, once sampled, its CPU and memory.
    await session.type('s');
    await session.waitFor((screen) => /running|healthy|starting/.test(boatRow(screen)) && /\d%/.test(boatRow(screen)), 60_000);
    // Memory used of the limit (container.memory, 2g by default).
    expect(boatRow(await session.screen())).toMatch(/\d+(\.\d)?[BKMG]\/2\.0G/);

    // l follows its logs: a line written to the container's output shows up.
    await session.type('l');
    await session.waitFor((screen) => screen.includes('logs · boat') && screen.includes('following'));
    const [info] = await docker.listContainers({ filters: { label: [`berth.workspace=${path.join(home, 'workspaces', 'boat')}`] } });
    // As the container's user: it owns PID 1, whose output is the container's log.
    const exec = await docker.getContainer(info!.Id).exec({ Cmd: ['sh', '-c', 'echo hello-from-the-logs > /proc/1/fd/1'] });
    await exec.start({ Detach: true });
    await session.waitFor((screen) => screen.includes('hello-from-the-logs'));
    await session.type('q');
    await session.waitFor((screen) => screen.includes('? help'));

    // s again stops it.
    await session.type('s');
    await session.waitFor((screen) => /stopped/.test(boatRow(screen)), 60_000);

    // x asks first: n keeps the container, y removes it.
    await session.type('x');
    await session.waitFor((screen) => screen.includes("Remove boat's container?"));
    await session.type('n');
    await session.waitFor((screen) => !screen.includes('Remove boat') && /stopped/.test(boatRow(screen)));
    await session.type('x');
    await session.waitFor((screen) => screen.includes("Remove boat's container?"));
    await session.type('y');
    await session.waitFor((screen) => /none/.test(boatRow(screen)), 30_000);
    expect(await docker.listContainers({ all: true, filters: { label: [`berth.workspace=${path.join(home, 'workspaces', 'boat')}`] } })).toEqual([]);

    // The screen follows the terminal's size, and never runs past it.
    await session.resize(80, 24);
    const small = await session.waitFor((screen) => screen.split('\n')[0]!.startsWith('berth') && screen.includes('? help') && screen.split('\n').every((line) => line.length <= 80));
    expect(small.split('\n').length).toBeLessThanOrEqual(24);
    // NO_COLOR: no colour escapes at all (bold and dim are not colours).
    expect(await session.styledScreen()).not.toMatch(COLOUR_ESCAPE);

    await session.type('q');
    await session.waitFor((screen) => !screen.includes('boat') && screen.trimEnd().endsWith('$'));
  }, 180_000);
});
