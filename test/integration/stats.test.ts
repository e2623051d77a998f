// Stats read from the real engine: CPU% of a busy container across two reads,
// memory and pids, and the sampler's bounds (running containers only, a few
// requests at once, rounds skipped rather than queued).
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { containerLabels, type ObservedContainer } from '../../src/domain/container.js';
import { cpuPercent } from '../../src/domain/stats.js';
import { DockerEngine } from '../../src/runtime/docker/docker-engine.js';
import type { ContainerEngine, RawStats } from '../../src/runtime/types.js';
import { StatsSampler } from '../../src/services/stats-sampler.js';
import { TEST_RUN_LABEL, createDockerClient, describeWithDocker, newTestRunId, removeTestContainers } from '../helpers/engine.js';

const BASE_IMAGE = 'debian:bookworm-slim';
const MEMORY_LIMIT = 256 * 1024 * 1024;

describeWithDocker('container stats from the engine', () => {
  const runId = newTestRunId();
  const projectName = (role: string) => `stats-${runId}-${role}`;
  let docker: Docker;
  let engine: DockerEngine;
  let busy: Docker.Container;
  let stopped: Docker.Container;
  const sleepers: Docker.Container[] = [];

  async function runContainer(role: string, cmd: string[], start = true): Promise<Docker.Container> {
    const project = { name: projectName(role), path: `/tmp/berth-stats-test/${role}` };
    const container = await docker.createContainer({
      name: `berth-test-stats-${runId}-${role}`,
      Image: BASE_IMAGE,
      Cmd: cmd,
      Labels: { ...containerLabels(project, new Date()), [TEST_RUN_LABEL]: runId },
      HostConfig: { NetworkMode: 'none', Memory: MEMORY_LIMIT },
    });
    if (start) await container.start();
    return container;
  }

  /** This suite's containers only: other suites create berth containers in parallel. */
  async function ours(): Promise<ObservedContainer[]> {
    return (await engine.listManaged()).filter((container) => container.project.startsWith(`stats-${runId}-`));
  }

  beforeAll(async () => {
    docker = createDockerClient();
    engine = new DockerEngine({ docker });
    busy = await runContainer('busy', ['sh', '-c', 'while :; do :; done']);
    stopped = await runContainer('stopped', ['sleep', 'infinity'], false);
    for (let index = 0; index < 4; index += 1) sleepers.push(await runContainer(`sleeper${index}`, ['sleep', 'infinity']));
  });

  afterAll(async () => {
    if (docker) await removeTestContainers(docker, runId);
  });

  it('shows a busy container well above 0% CPU across two reads, with memory and pids', async () => {
    const first = await engine.stats(busy.id);
    await sleep(1_000);
    const second = await engine.stats(busy.id);
    // One spinning shell: about 100% alone, less on a loaded machine, never near 0.
    expect(cpuPercent(first, second)).toBeGreaterThan(20);
    expect(second.time).toBeGreaterThan(first.time);
    expect(second.memoryUsed).toBeGreaterThan(0);
    expect(second.memoryUsed).toBeLessThanOrEqual(second.memoryLimit);
    expect(second.memoryLimit).toBe(MEMORY_LIMIT);
    expect(second.pids).toBeGreaterThanOrEqual(1);
    expect(second.onlineCpus).toBeGreaterThanOrEqual(1);
  });

  it('refuses to read a container that is not running, in one line', async () => {
    await expect(engine.stats(stopped.id)).rejects.toThrow(/^container \S+ is not running/);
  });

  it('samples running containers only, keeping the previous read for CPU% and a history', async () => {
    const requested: string[] = [];
    const counting: ContainerEngine = withStats(engine, (id, read) => {
      requested.push(id);
      return read();
    });
    const sampler = new StatsSampler(counting, { listContainers: ours });
    const published: number[] = [];
    sampler.subscribe((snapshot) => published.push(snapshot.size));

    await sampler.sampleOnce();
    await sleep(1_000);
    const round = await sampler.sampleOnce();

    expect(round).toMatchObject({ sampled: 1 + sleepers.length, failed: 0 });
    expect(published).toEqual([1 + sleepers.length, 1 + sleepers.length]);
    const snapshot = sampler.snapshot();
    expect(snapshot.has(projectName('stopped'))).toBe(false);
    expect(requested).not.toContain(stopped.id);
    const busyStats = snapshot.get(projectName('busy'))!;
    expect(busyStats.containerId).toBe(busy.id);
    expect(busyStats.history).toHaveLength(2);
    expect(busyStats.history[0]!.cpuPercent).toBe(0);
    expect(busyStats.latest.cpuPercent).toBeGreaterThan(20);
    expect(busyStats.latest.memoryUsed).toBeGreaterThan(0);
    expect(snapshot.get(projectName('sleeper0'))!.latest.pids).toBeGreaterThanOrEqual(1);
  });

  it('drops a container that stopped from the snapshot and samples it no more', async () => {
    const sleeper = sleepers[3]!;
    const requested: string[] = [];
    const counting = withStats(engine, (id, read) => {
      requested.push(id);
      return read();
    });
    const sampler = new StatsSampler(counting, { listContainers: ours });
    await sampler.sampleOnce();
    expect(requested).toContain(sleeper.id);
    expect(sampler.snapshot().has(projectName('sleeper3'))).toBe(true);

    await sleeper.kill();
    requested.length = 0;
    await sampler.sampleOnce();
    expect(requested).not.toContain(sleeper.id);
    expect(requested).toContain(busy.id);
    expect(sampler.snapshot().has(projectName('sleeper3'))).toBe(false);
  });

  it('keeps at most `concurrency` reads in flight and skips rounds while one runs', async () => {
    let inFlight = 0;
    let mostInFlight = 0;
    const slow = withStats(engine, async (_id, read) => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      try {
        // Slower than the interval: rounds would pile up if the sampler queued them.
        await sleep(150);
        return await read();
      } finally {
        inFlight -= 1;
      }
    });
    let rounds = 0;
    const sampler = new StatsSampler(slow, { listContainers: ours, intervalMs: 25, concurrency: 2 });
    sampler.subscribe(() => (rounds += 1));
    sampler.start();
    while (rounds < 2) await sleep(50);
    await sampler.stop();

    expect(mostInFlight).toBe(2);
    // A round reads 4 running containers 2 at a time, 150 ms each: at least 300 ms, while ticks come every 25 ms.
    expect(sampler.skippedRounds()).toBeGreaterThan(0);
    expect(inFlight).toBe(0);
  });
});

/** The engine with its `stats` wrapped; everything else as it is. */
function withStats(
  engine: ContainerEngine,
  stats: (id: string, read: () => Promise<RawStats>) => Promise<RawStats>,
): ContainerEngine {
  return new Proxy(engine, {
    get(target, property, receiver) {
      if (property === 'stats') return (id: string) => stats(id, () => target.stats(id));
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
