// Discovery by label and the engine's events stream, against the real engine:
// a stale registry is corrected on start, changes made behind berth's back
// (docker run, kill, rm) are followed, and a broken events stream (cut by a
// proxy of our own in front of the engine's socket; dockerd itself is never
// touched, other suites use it) is reconnected, with what it missed caught up.
// The reconciler and the runtime (berth ps) give one answer: a project's own
// idle timeout, and which of two containers with its labels is its own.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { containerLabels, containerName } from '../../src/domain/container.js';
import type { LifecycleState } from '../../src/domain/lifecycle.js';
import type { Project } from '../../src/domain/project.js';
import { watchDockerEvents } from '../../src/runtime/docker/docker-events.js';
import { DockerEngine } from '../../src/runtime/docker/docker-engine.js';
import type { EngineEvent } from '../../src/runtime/types.js';
import { createContext, type BerthContext } from '../../src/services/context.js';
import { Reconciler } from '../../src/services/reconciler.js';
import type { RuntimeService } from '../../src/services/runtime-service.js';
import { ProjectRegistry } from '../../src/store/project-registry.js';
import { runBerth } from '../helpers/berth-cli.js';
import { TEST_RUN_LABEL, createDockerClient, describeWithDocker, newTestRunId, removeTestContainers } from '../helpers/engine.js';

const BASE_IMAGE = 'debian:bookworm-slim';
const ENGINE_SOCKET = '/var/run/docker.sock';

describeWithDocker('reconciling the registry with the engine', () => {
  const runId = newTestRunId();
  const name = (role: string) => `rc-${runId}-${role}`;
  let docker: Dockerode;
  let home: string;
  let registry: ProjectRegistry;
  let reconciler: Reconciler;
  const errors: unknown[] = [];

  beforeAll(async () => {
    docker = createDockerClient();
    home = await mkdtemp(path.join(tmpdir(), 'berth-reconcile-'));
    registry = new ProjectRegistry(path.join(home, 'projects.json'));
  });

  afterAll(async () => {
    await reconciler?.stop();
    if (docker) await removeTestContainers(docker, runId);
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('corrects stale states on start, reports orphans and loses no registry entry', async () => {
    await registry.update((projects) => {
      projects.push(
        { ...containerProject(name('gone')), state: 'running' },
        { ...containerProject(name('killed')), state: 'running' },
        { ...containerProject(name('live')), state: 'none' },
        // A field written by a newer berth, which must survive the rewrite.
        { ...workspaceProject(name('ws')), futureField: 42 } as Project,
      );
    });
    await runContainer(docker, runId, containerProject(name('killed')), 'killed');
    await runContainer(docker, runId, containerProject(name('live')));
    const orphan = await runContainer(docker, runId, containerProject(name('orphan')));
    const before = await registry.list();

    reconciler = new Reconciler(new DockerEngine({ docker }), registry, { onError: (error) => errors.push(error) });
    const report = await reconciler.start();

    expect(report.changes.filter((change) => change.project.startsWith(`rc-${runId}-`))).toEqual(
      expect.arrayContaining([
        { project: name('gone'), from: 'running', to: 'none' },
        { project: name('killed'), from: 'running', to: 'stopped' },
        { project: name('live'), from: 'none', to: 'running' },
      ]),
    );
    expect(report.orphans.map((container) => container.id)).toContain(orphan.id);
    const after = await registry.list();
    expect(after.map((project) => project.name)).toEqual(before.map((project) => project.name));
    expect(after.find((project) => project.name === name('ws'))).toEqual(before.find((project) => project.name === name('ws')));
    expect(await statesOf(registry, ['gone', 'killed', 'live'].map(name))).toEqual(['none', 'stopped', 'running']);
    const snapshot = reconciler.snapshot();
    expect(snapshot.containers.get(name('live'))?.status).toBe('running');
    expect(snapshot.containers.get(name('killed'))?.status).toBe('exited');
    expect(snapshot.containers.has(name('gone'))).toBe(false);
    expect(snapshot.orphans.map((container) => container.id)).toContain(orphan.id);
    expect(snapshot.connected).toBe(true);
  });

  it('follows a container created, killed and removed behind berth’s back', async () => {
    const project = containerProject(name('late'));
    await registry.update((projects) => void projects.push(project));
    const container = await runContainer(docker, runId, project);
    await waitFor('the registry to say running', async () => (await statesOf(registry, [project.name]))[0] === 'running');
    expect(reconciler.snapshot().containers.get(project.name)?.id).toBe(container.id);

    await container.kill();
    await waitFor('the registry to say stopped', async () => (await statesOf(registry, [project.name]))[0] === 'stopped');

    await container.remove({ force: true });
    await waitFor('the registry to say none', async () => (await statesOf(registry, [project.name]))[0] === 'none');
    expect(reconciler.snapshot().containers.has(project.name)).toBe(false);
    expect((await registry.list()).map((entry) => entry.name)).toEqual(
      expect.arrayContaining(['gone', 'killed', 'live', 'ws', 'late'].map(name)),
    );
    expect(errors).toEqual([]);
  });
});

describeWithDocker('one answer from the reconciler and the runtime', () => {
  const runId = newTestRunId();
  let docker: Dockerode;
  let home: string;
  let context: BerthContext;
  let runtime: RuntimeService;
  let reconciler: Reconciler | undefined;

  beforeAll(async () => {
    docker = createDockerClient();
    home = await mkdtemp(path.join(tmpdir(), 'berth-one-answer-'));
    context = createContext({ BERTH_HOME: home, PATH: process.env.PATH ?? '/usr/bin:/bin' });
    runtime = await context.runtime({});
  });

  afterAll(async () => {
    await reconciler?.stop();
    await runtime?.close();
    if (docker) await removeTestContainers(docker, runId);
    if (home) await rm(home, { recursive: true, force: true });
  });

  const newReconciler = () => (reconciler = new Reconciler(runtime.connect(), context.registry, { settings: () => context.settings().load() }));

  it("shows a running container idle after the project's own policies.idleTimeout, berth's being longer", async () => {
    await context.projects.add(`idle-${runId}`, { mode: 'container' });
    const project = await context.projects.setSetting(`idle-${runId}`, 'policies.idleTimeout', '1s');
    await runContainer(docker, runId, project);
    await context.projects.record(project.name, { lastActive: new Date(Date.now() - 5_000).toISOString() });

    await newReconciler().start();
    expect(await statesOf(context.registry, [project.name])).toEqual(['idle']);
    expect((await runtime.statuses()).find((status) => status.project.name === project.name)?.state).toBe('idle');
    // berth ps agrees, and leaves the registry as the reconciler wrote it.
    const ps = await runBerth(['ps', '--json'], { home });
    expect(JSON.parse(ps.stdout)).toContainEqual(expect.objectContaining({ project: project.name, state: 'idle' }));
    expect(await statesOf(context.registry, [project.name])).toEqual(['idle']);
    await reconciler!.stop();
  });

  it('takes the container named for the project, not a newer running one with its labels', async () => {
    const project = (await context.projects.add(`two-${runId}`, { mode: 'container' })).project;
    const own = await runContainer(docker, runId, project, 'killed');
    const leftover = await runContainer(docker, runId, project, 'running', `berth-leftover-${runId}`);

    const report = await newReconciler().start();
    expect(reconciler!.snapshot().containers.get(project.name)?.id).toBe(own.id);
    expect(report.orphans.map((container) => container.id)).toContain(leftover.id);
    expect(await statesOf(context.registry, [project.name])).toEqual(['stopped']);
    const status = (await runtime.statuses()).find((entry) => entry.project.name === project.name);
    expect({ id: status?.container?.id, state: status?.state }).toEqual({ id: own.id, state: 'stopped' });
    const ps = await runBerth(['ps', '--json'], { home });
    expect(JSON.parse(ps.stdout)).toContainEqual(expect.objectContaining({ project: project.name, containerId: own.id.slice(0, 12), state: 'stopped' }));
    await reconciler!.stop();
  });
});

describeWithDocker('the events stream when the connection breaks', () => {
  const runId = newTestRunId();
  let docker: Dockerode;
  let home: string;
  let proxy: SocketProxy;
  let abort: AbortController;

  beforeAll(async () => {
    docker = createDockerClient();
    home = await mkdtemp(path.join(tmpdir(), 'berth-events-'));
    proxy = new SocketProxy(path.join(home, 'docker.sock'), ENGINE_SOCKET);
    await proxy.listen();
  });

  afterAll(async () => {
    abort?.abort();
    await proxy?.close();
    if (docker) await removeTestContainers(docker, runId);
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('says disconnected, then reconnected, and events after it still arrive, whole', async () => {
    const events: EngineEvent[] = [];
    abort = new AbortController();
    const client = new Dockerode({ socketPath: proxy.socketPath });
    // Answers cut into small pieces and run together: event lines arrive split and merged.
    proxy.chopEvents = true;
    watchDockerEvents(client, (event) => events.push(event), abort.signal, { initialMs: 100, maxMs: 1_000, healthyAfterMs: 60_000 });
    await waitFor('the events stream to open', () => proxy.eventsResponses === 1);

    const container = await runContainer(docker, runId, containerProject(`ev-${runId}`), 'created');
    await waitFor('the create event', () => events.some((event) => isEventOf(event, container.id, 'create')));

    // Down for a few attempts: still one `disconnected`, then one `reconnected`.
    proxy.refuse = true;
    proxy.cut();
    await waitFor('two refused reconnection attempts', () => proxy.refused >= 2);
    proxy.refuse = false;
    await waitFor('reconnected', () => events.some((event) => event.kind === 'reconnected'));
    await waitFor('the events stream to open again', () => proxy.eventsResponses === 2);
    await container.start();
    await container.kill();
    await waitFor('the die event', () => events.some((event) => isEventOf(event, container.id, 'die')));

    // Other suites' berth containers have events too: keep ours and the connection's.
    const kinds = events
      .filter((event) => event.kind !== 'container' || event.containerId === container.id)
      .map((event) => (event.kind === 'container' ? event.action : event.kind));
    expect(kinds.filter((kind) => kind === 'disconnected')).toHaveLength(1);
    expect(kinds.filter((kind) => kind === 'reconnected')).toHaveLength(1);
    const disconnected = kinds.indexOf('disconnected');
    const reconnected = kinds.indexOf('reconnected');
    expect(disconnected).toBeGreaterThan(kinds.indexOf('create'));
    expect(reconnected).toBeGreaterThan(disconnected);
    const ours = events.filter((event) => event.kind === 'container' && event.containerId === container.id);
    expect(ours.map((event) => (event.kind === 'container' ? event.action : ''))).toEqual(
      expect.arrayContaining(['create', 'start', 'kill', 'die']),
    );
    expect(ours.every((event) => event.kind === 'container' && event.project === `ev-${runId}`)).toBe(true);
    expect(kinds.indexOf('start')).toBeGreaterThan(reconnected);
    expect(proxy.chopped).toBeGreaterThan(0);

    abort.abort();
    await waitFor('the stream to close on abort', () => proxy.openEventsConnections === 0);
    const opened = proxy.eventsResponses;
    const seen = events.length;
    // Longer than the backoff: an aborted watcher must not come back.
    await sleep(500);
    expect(proxy.eventsResponses).toBe(opened);
    expect(events).toHaveLength(seen);
  });

  it('catches up on what happened while the engine was unreachable', async () => {
    proxy.chopEvents = false;
    const registryHome = await mkdtemp(path.join(home, 'registry-'));
    const registry = new ProjectRegistry(path.join(registryHome, 'projects.json'));
    const project = containerProject(`gap-${runId}`);
    await registry.update((projects) => void projects.push(project));
    const container = await runContainer(docker, runId, project);
    const reconciler = new Reconciler(new DockerEngine({ docker: new Dockerode({ socketPath: proxy.socketPath }) }), registry);
    try {
      await reconciler.start();
      expect(await statesOf(registry, [project.name])).toEqual(['running']);

      proxy.refuse = true;
      proxy.cut();
      await waitFor('the reconciler to see the break', () => !reconciler.snapshot().connected);
      // Its event is lost: nobody is listening.
      await container.remove({ force: true });
      proxy.refuse = false;

      // The registry is written just before the snapshot is published: wait for both.
      await waitFor('the registry to say none', async () => (await statesOf(registry, [project.name]))[0] === 'none');
      await waitFor('the snapshot to follow', () => !reconciler.snapshot().containers.has(project.name));
      expect(reconciler.snapshot().connected).toBe(true);
    } finally {
      await reconciler.stop();
    }
  });
});

/**
 * A unix-socket proxy in front of the engine's socket: it can cut every
 * connection, refuse new ones, and deliver events answers in odd pieces.
 */
class SocketProxy {
  refuse = false;
  /** Connections refused so far. */
  refused = 0;
  chopEvents = false;
  /** Events answers (`HTTP/1.1 200` on a /events request) seen so far. */
  eventsResponses = 0;
  openEventsConnections = 0;
  /** Pieces written in chopped mode. */
  chopped = 0;
  private readonly server = net.createServer((client) => this.accept(client));
  private readonly sockets = new Set<net.Socket>();

  constructor(
    readonly socketPath: string,
    private readonly target: string,
  ) {}

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.socketPath, resolve));
  }

  cut(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: net.Socket): void {
    if (this.refuse) {
      this.refused += 1;
      client.destroy();
      return;
    }
    const upstream = net.connect(this.target);
    this.sockets.add(client).add(upstream);
    let isEvents: boolean | undefined;
    const pieces = new Chopper(client, () => (this.chopped += 1));
    client.on('data', (data: Buffer) => {
      if (isEvents === undefined) {
        isEvents = /^GET \S*\/events\?/.test(data.toString('latin1'));
        if (isEvents) {
          this.openEventsConnections += 1;
          client.once('close', () => (this.openEventsConnections -= 1));
        }
      }
      upstream.write(data);
    });
    let answered = false;
    upstream.on('data', (data: Buffer) => {
      if (isEvents && !answered && data.toString('latin1').startsWith('HTTP/1.1 200')) {
        answered = true;
        this.eventsResponses += 1;
      }
      if (isEvents && this.chopEvents) pieces.write(data);
      else client.write(data);
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.on('close', closeBoth);
      socket.on('error', closeBoth);
    }
  }
}

/** Writes data in pieces of varied sizes, a moment apart: some split a line, some hold several. */
class Chopper {
  private queue = Buffer.alloc(0);
  private flushing = false;
  private turn = 0;

  constructor(
    private readonly socket: net.Socket,
    private readonly onPiece: () => void,
  ) {}

  write(data: Buffer): void {
    this.queue = Buffer.concat([this.queue, data]);
    if (!this.flushing) void this.flush();
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    const sizes = [3, 900, 17, 2_000, 40];
    while (this.queue.length > 0 && !this.socket.destroyed) {
      const size = sizes[this.turn++ % sizes.length]!;
      this.socket.write(this.queue.subarray(0, size));
      this.queue = this.queue.subarray(size);
      this.onPiece();
      await sleep(5);
    }
    this.flushing = false;
  }
}

function containerProject(projectName: string): Project {
  return {
    name: projectName,
    path: `/tmp/berth-reconcile-test/${projectName}`,
    mode: 'container',
    ownsWorkspace: false,
    createdAt: new Date().toISOString(),
    lastActive: null,
    state: 'none',
  };
}

function workspaceProject(projectName: string): Project {
  return { ...containerProject(projectName), mode: 'workspace', state: 'ready' };
}

/** A container as berth would make it for `project` (under another name: a leftover), left in the state asked for. */
async function runContainer(
  docker: Dockerode,
  runId: string,
  project: Project,
  state: 'running' | 'killed' | 'created' = 'running',
  name = containerName(project),
): Promise<Dockerode.Container> {
  const container = await docker.createContainer({
    name,
    Image: BASE_IMAGE,
    Cmd: ['sleep', 'infinity'],
    Labels: { ...containerLabels(project, new Date()), [TEST_RUN_LABEL]: runId },
    HostConfig: { NetworkMode: 'none' },
  });
  if (state === 'created') return container;
  await container.start();
  if (state === 'killed') {
    await container.kill();
    await container.wait();
  }
  return container;
}

async function statesOf(registry: ProjectRegistry, names: string[]): Promise<Array<LifecycleState | undefined>> {
  const projects = JSON.parse(await readFile(registry.file, 'utf8')) as { projects: Project[] };
  return names.map((projectName) => projects.projects.find((project) => project.name === projectName)?.state);
}

function isEventOf(event: EngineEvent, containerId: string, action: string): boolean {
  return event.kind === 'container' && event.containerId === containerId && event.action === action;
}

/** Polls until `condition` holds; the deadline is generous, for a loaded machine, and only bounds a failure. */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
