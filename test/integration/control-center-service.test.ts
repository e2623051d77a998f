/**
 * The control center's state service against the real things: the Docker
 * engine (reached through a relay the test can cut, to see berth recover),
 * the real Claude Code CLI and the scripted fake API.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createContext, type BerthContext } from '../../src/services/context.js';
import type { ControlCenterSnapshot, ProjectView } from '../../src/services/control-center-state.js';
import { ControlCenterService } from '../../src/services/control-center.js';
import { FAKE_API_KEY, prepareClaudeEnv, QUIET_CLI_ENV, type ClaudeEnv } from '../fixtures/claude-env.js';
import { message, slow, startFakeAnthropic, text, toolUse, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { createDockerClient, describeWithDocker, removeBerthContainers } from '../helpers/engine.js';
import { useTempDirs } from '../helpers/temp.js';
import { ensureWorkspaceImage, TEST_WORKSPACE_IMAGE, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS } from '../helpers/workspace-image.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PATH_WITH_CLI = `${path.join(ROOT, 'node_modules/.bin')}${path.delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`;
const DOCKER_SOCKET = '/var/run/docker.sock';

const tempDir = useTempDirs();
const saved = { PATH: process.env.PATH, HOME: process.env.HOME };
let service: ControlCenterService | undefined;

afterEach(async () => {
  await service?.close();
  service = undefined;
});

/** Resolves with the first snapshot that satisfies `check`. */
function until(check: (snapshot: ControlCenterSnapshot) => boolean, timeoutMs = 20_000): Promise<ControlCenterSnapshot> {
  const source = service!;
  return new Promise((resolve, reject) => {
    if (check(source.snapshot())) return resolve(source.snapshot());
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no snapshot matched within ${timeoutMs} ms; last: ${JSON.stringify(summary(source.snapshot()))}`));
    }, timeoutMs);
    const unsubscribe = source.subscribe((snapshot) => {
      if (!check(snapshot)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(snapshot);
    });
  });
}

function summary(snapshot: ControlCenterSnapshot) {
  return {
    engine: snapshot.engine.status,
    status: snapshot.status?.text,
    projects: snapshot.projects.map((view) => ({ name: view.project.name, state: view.state, turn: view.turn, progress: view.progress })),
  };
}

const viewOf = (snapshot: ControlCenterSnapshot, name: string): ProjectView | undefined =>
  snapshot.projects.find((view) => view.project.name === name);

describe('the control center service, workspace projects (no engine needed)', () => {
  let fake: FakeAnthropic;
  let cli: ClaudeEnv;
  let context: BerthContext;
  let workspace: string;

  beforeAll(() => {
    process.env.PATH = PATH_WITH_CLI;
  });
  afterAll(() => {
    process.env.PATH = saved.PATH;
    process.env.HOME = saved.HOME;
  });
  beforeEach(async () => {
    fake = await startFakeAnthropic();
    const home = await tempDir('berth-cc-home-');
    context = createContext({
      BERTH_HOME: home,
      PATH: PATH_WITH_CLI,
      ANTHROPIC_BASE_URL: fake.url,
      ANTHROPIC_API_KEY: FAKE_API_KEY,
      CLAUDE_CODE_MAX_RETRIES: '0',
      ...QUIET_CLI_ENV,
    });
    workspace = (await context.projects.add('alpha', { mode: 'workspace' })).project.path;
    cli = await prepareClaudeEnv({ baseUrl: fake.url, trustedDirs: [workspace] });
    process.env.HOME = cli.home;
  });
  afterEach(async () => {
    await fake.close();
    await cli.cleanup();
  });

  it('lists the projects, samples the host and leaves the engine alone', async () => {
    service = new ControlCenterService({ context, hostIntervalMs: 200 });
    await service.start();
    const snapshot = await until((current) => current.host !== undefined);
    expect(snapshot.engine.status).toEqual({ state: 'unused' });
    expect(snapshot.projects.map((view) => [view.project.name, view.state])).toEqual([['alpha', 'ready']]);
    expect(snapshot.host!.memoryTotal).toBeGreaterThan(snapshot.host!.memoryUsed);
  });

  it('sees a project another berth adds, and adds one itself with a one-line refusal for a bad one', async () => {
    service = new ControlCenterService({ context });
    await service.start();
    await context.projects.add('beta', { mode: 'workspace' });
    await until((snapshot) => viewOf(snapshot, 'beta') !== undefined, 10_000);
    expect(await service.addProject({ name: 'Bad Name', path: '', mode: 'workspace' })).toMatch(/invalid project name/);
    expect(await service.addProject({ name: 'alpha', path: '', mode: 'workspace' })).toMatch(/exists already/);
    expect(await service.addProject({ name: 'gamma', path: '', mode: 'workspace' })).toBeUndefined();
    await until((snapshot) => viewOf(snapshot, 'gamma') !== undefined);
    expect((await context.projects.list()).map((project) => project.name)).toEqual(['alpha', 'beta', 'gamma']);
  });

  it('streams a turn that writes a file into the conversation, then shows its outcome and cost', async () => {
    fake.reply(message(toolUse('Write', { file_path: path.join(workspace, 'hello.txt'), content: 'hi\n' })));
    fake.reply(message(text('I wrote hello.txt.')));
    service = new ControlCenterService({ context });
    await service.start();
    service.openConversation('alpha');
    await until((snapshot) => snapshot.conversations.get('alpha')?.loaded === true);
    service.send('alpha', 'write hello.txt');
    await until((snapshot) => viewOf(snapshot, 'alpha')?.turn?.running === true);
    const ended = await until((snapshot) => viewOf(snapshot, 'alpha')?.turn?.outcome !== undefined, 60_000);
    expect(viewOf(ended, 'alpha')!.turn).toMatchObject({ running: false, outcome: 'success' });
    expect(viewOf(ended, 'alpha')!.turn!.usage!.tokensOut).toBeGreaterThan(0);
    const types = ended.conversations.get('alpha')!.entries.map((entry) => entry.type);
    expect(types).toEqual(expect.arrayContaining(['user', 'tool_call', 'tool_result', 'text', 'result', 'changed_files', 'turn_end']));
    const changed = ended.conversations.get('alpha')!.entries.find((entry) => entry.type === 'changed_files');
    expect(changed).toMatchObject({ files: [{ path: 'hello.txt', kind: 'created' }] });

    // A new service (berth restarted) shows the last turn from the transcript.
    await service.close();
    service = new ControlCenterService({ context });
    await service.start();
    service.openConversation('alpha');
    const reloaded = await until((snapshot) => snapshot.conversations.get('alpha')?.loaded === true);
    expect(reloaded.conversations.get('alpha')!.entries.map((entry) => entry.type)).toEqual(types);
    expect(viewOf(reloaded, 'alpha')!.turn).toMatchObject({ outcome: 'success' });
  });

  it('cancels a slow turn, showing it as cancelling, then cancelled', async () => {
    fake.reply(slow(message(text('a b c d e f g h i j k l m n o p')), 2_000));
    service = new ControlCenterService({ context });
    await service.start();
    service.send('alpha', 'take your time');
    await until((snapshot) => viewOf(snapshot, 'alpha')?.turn?.running === true);
    expect(service.anyTurnRunning()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(service.cancel('alpha')).toBe(true);
    expect(viewOf(await until((snapshot) => viewOf(snapshot, 'alpha')?.turn?.cancelling === true), 'alpha')).toBeDefined();
    const ended = await until((snapshot) => viewOf(snapshot, 'alpha')?.turn?.running === false, 15_000);
    expect(viewOf(ended, 'alpha')!.turn!.outcome).toBe('cancelled');
    expect(service.anyTurnRunning()).toBe(false);
  });

  it('says in the status line, in one line, what it cannot do', async () => {
    service = new ControlCenterService({ context });
    await service.start();
    await service.startOrStop('alpha');
    expect(service.snapshot().status?.text ?? (await until((snapshot) => snapshot.status !== undefined)).status!.text).toMatch(/runs on the host/);
    await service.restart('alpha');
    const refused = await until((snapshot) => snapshot.status?.level === 'error');
    expect(refused.status!.text).toMatch(/workspace mode/);
    expect(refused.status!.text).not.toContain('\n');
  });
});

describeWithDocker('the control center service with a real engine', () => {
  const docker = createDockerClient();
  let context: BerthContext;
  let relay: EngineRelay;

  beforeAll(async () => {
    await ensureWorkspaceImage(docker);
  }, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS);

  beforeEach(async () => {
    const home = await tempDir('berth-cc-engine-');
    relay = new EngineRelay(path.join(home, 'engine.sock'));
    context = createContext({ BERTH_HOME: home, PATH: process.env.PATH ?? '/usr/bin:/bin' });
    await context.settings().set('container.image', TEST_WORKSPACE_IMAGE);
    await context.settings().set('container.memory', '256m');
    await context.projects.add('boat', { mode: 'container' });
  });

  afterEach(async () => {
    await service?.close();
    service = undefined;
    await relay.close();
    await removeBerthContainers(docker, [(await context.projects.require('boat')).path]);
  });

  it('starts and stops a container, with progress, live stats and the state from the engine', async () => {
    await relay.open();
    service = new ControlCenterService({ context, engineFlag: relay.address, statsIntervalMs: 500 });
    await service.start();
    await until((snapshot) => snapshot.engine.status.state === 'connected');
    const starting = service.startOrStop('boat');
    await until((snapshot) => viewOf(snapshot, 'boat')?.progress !== undefined);
    await starting;
    const running = await until((snapshot) => viewOf(snapshot, 'boat')?.container?.status === 'running');
    expect(['starting', 'running', 'healthy']).toContain(viewOf(running, 'boat')!.state);
    const sampled = await until((snapshot) => (viewOf(snapshot, 'boat')?.stats?.history.length ?? 0) >= 2);
    expect(viewOf(sampled, 'boat')!.stats!.latest.memoryLimit).toBe(256 * 1024 * 1024);

    await service.startOrStop('boat');
    const stopped = await until((snapshot) => viewOf(snapshot, 'boat')?.state === 'stopped');
    expect(viewOf(stopped, 'boat')!.stats).toBeUndefined();
    expect(stopped.status?.text).toMatch(/boat stopped/);
  });

  it('applies the policies by itself: an idle container is stopped, and the status line and the details say why', async () => {
    await context.settings().set('policies.idleTimeout', '2s');
    await context.settings().set('policies.tick', '1s');
    await relay.open();
    service = new ControlCenterService({ context, engineFlag: relay.address, statsIntervalMs: 500 });
    await service.start();
    await service.startOrStop('boat');
    const stopped = await until((snapshot) => viewOf(snapshot, 'boat')?.state === 'stopped', 30_000);
    const view = viewOf(stopped, 'boat')!;
    expect(view.policy?.text).toMatch(/^stopped: idle for \d+s \(policies.idleTimeout 2s\)$/);
    const said = await until((snapshot) => snapshot.status?.text.startsWith('policy: stopped boat') === true);
    expect(said.status!.level).toBe('info');
  });

  it("shows a container idle after the project's own policies.idleTimeout, and its reconciler records the same", async () => {
    // berth's timeout is the default hour; the first healthcheck soon, so the container's health settles before it goes idle.
    await context.projects.setSetting('boat', 'policies.idleTimeout', '5s');
    await context.settings().set('container.healthInterval', '1s');
    await relay.open();
    service = new ControlCenterService({ context, engineFlag: relay.address, statsIntervalMs: 500 });
    await service.start();
    await service.startOrStop('boat');
    const idle = await until((snapshot) => viewOf(snapshot, 'boat')?.state === 'idle', 30_000);

    // An event from the engine (an update to the restart policy it has) makes its reconciler record the state, by the same
    // rule: look before the idle-stop policy, told of the event too, stops the container.
    await docker.getContainer(viewOf(idle, 'boat')!.container!.id).update({ RestartPolicy: { Name: 'no' } });
    const states = new Set<string>();
    const deadline = Date.now() + 20_000;
    while (!states.has('idle') && Date.now() < deadline) {
      states.add((await context.projects.require('boat')).state);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect([...states]).toContain('idle');
  }, 90_000);

  it('says the engine is unreachable, then recovers by itself when it answers again', async () => {
    service = new ControlCenterService({ context, engineFlag: relay.address });
    await service.start();
    const down = await until((snapshot) => snapshot.engine.status.state === 'unreachable');
    expect(down.engine.address).toBe(relay.address);
    await relay.open();
    await until((snapshot) => snapshot.engine.status.state === 'connected', 20_000);

    // The engine goes away under a running berth, and comes back.
    await relay.close();
    await until((snapshot) => snapshot.engine.status.state === 'unreachable', 20_000);
    await relay.open();
    await until((snapshot) => snapshot.engine.status.state === 'connected', 40_000);
    await service.startOrStop('boat');
    await until((snapshot) => viewOf(snapshot, 'boat')?.container?.status === 'running');
  }, 90_000);
});

/** A unix socket that forwards to the Docker socket, opened and cut at will: an engine that goes and comes back. */
class EngineRelay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly socketPath: string) {}

  get address(): string {
    return `unix://${this.socketPath}`;
  }

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(DOCKER_SOCKET);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.socketPath, resolve));
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}
