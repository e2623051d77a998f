// What sampling the stats of many containers costs: the sampler's round
// latency and CPU time, and the engine's CPU while it answers.
//
// Starts BENCH_CONTAINERS (50) containers of debian:bookworm-slim running
// `sleep infinity`, measures the engine idle for BENCH_BASELINE_SECONDS (10),
// then runs the StatsSampler for BENCH_SECONDS (60; or the first argument),
// prints the figures and removes the containers.
//   BENCH_CONCURRENCY   stats reads in flight at once (the sampler's default)
//   BENCH_INTERVAL_MS   the sampler's interval (its default)
//   BENCH_SOURCE        reconciler (default: the events-fed view, as berth wires it)
//                       or engine (a list and an inspect per container every round)
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Dockerode from 'dockerode';
import { containerLabels } from '../src/domain/container.js';
import { DockerEngine } from '../src/runtime/docker/docker-engine.js';
import { Reconciler } from '../src/services/reconciler.js';
import { StatsSampler, type StatsRound } from '../src/services/stats-sampler.js';
import { ProjectRegistry } from '../src/store/project-registry.js';
import { reportFigure } from './figures.js';

const IMAGE = 'debian:bookworm-slim';
const BENCH_LABEL = 'berth.bench';
// Linux reports /proc/<pid>/stat times in clock ticks of 1/100 s on every common build.
const CLOCK_TICKS_PER_SECOND = 100;

const containers = numberFromEnv('BENCH_CONTAINERS', 50);
const seconds = Number(process.argv[2] ?? numberFromEnv('BENCH_SECONDS', 60));
const baselineSeconds = numberFromEnv('BENCH_BASELINE_SECONDS', 10);
const concurrency = optionalNumber('BENCH_CONCURRENCY');
const intervalMs = optionalNumber('BENCH_INTERVAL_MS');
const source = process.env.BENCH_SOURCE ?? 'reconciler';

// Ctrl-C still removes the containers.
const interrupted = new AbortController();
process.once('SIGINT', () => interrupted.abort());

async function main(): Promise<void> {
  const benchId = randomUUID().slice(0, 8);
  const docker = new Dockerode();
  const engine = new DockerEngine({ docker });
  const home = await mkdtemp(path.join(tmpdir(), 'berth-bench-'));
  const prefix = `bench-${benchId}-`;
  const reconciler = new Reconciler(engine, new ProjectRegistry(path.join(home, 'projects.json')));
  try {
    console.log(`starting ${containers} containers (${BENCH_LABEL}=${benchId})…`);
    await startContainers(docker, benchId, prefix);
    await reconciler.start();
    const engineProcesses = await engineProcessIds();

    const before = await cpuTicks(engineProcesses);
    await sleep(baselineSeconds * 1000, undefined, { signal: interrupted.signal });
    const baseline = cpuPercents(before, await cpuTicks(engineProcesses), baselineSeconds * 1000);

    const rounds: StatsRound[] = [];
    const listContainers =
      source === 'engine'
        ? async () => (await engine.listManaged()).filter((container) => container.project.startsWith(prefix))
        : async () => reconciler.observedContainers().filter((container) => container.project.startsWith(prefix));
    const sampler = new StatsSampler(engine, {
      listContainers,
      ...(concurrency ? { concurrency } : {}),
      ...(intervalMs ? { intervalMs } : {}),
      onRound: (round) => rounds.push(round),
    });
    console.log(`sampling for ${seconds} s (interval ${sampler.intervalMs} ms, concurrency ${sampler.concurrency}, source ${source})…`);
    const engineBefore = await cpuTicks(engineProcesses);
    const selfBefore = process.cpuUsage();
    const startedAt = performance.now();
    sampler.start();
    await sleep(seconds * 1000, undefined, { signal: interrupted.signal }).finally(() => sampler.stop());
    const wallMs = performance.now() - startedAt;
    const self = process.cpuUsage(selfBefore);
    const engineLoad = cpuPercents(engineBefore, await cpuTicks(engineProcesses), wallMs);

    const latencies = rounds.map((round) => round.durationMs).sort((a, b) => a - b);
    const selfMs = (self.user + self.system) / 1000;
    const last = sampler.snapshot();
    const report: Array<[string, string]> = [
      ['containers sampled', `${last.size} of ${containers}`],
      ['rounds completed', `${rounds.length} in ${(wallMs / 1000).toFixed(1)} s (${sampler.skippedRounds()} ticks skipped)`],
      ['stats reads', `${sum(rounds.map((round) => round.sampled))} ok, ${sum(rounds.map((round) => round.failed))} failed`],
      ['round latency', `mean ${fixed(mean(latencies))} ms, p95 ${fixed(percentile(latencies, 0.95))} ms, max ${fixed(latencies.at(-1) ?? 0)} ms`],
      ['sample age per container', `about ${fixed(wallMs / Math.max(1, rounds.length))} ms between samples`],
      ['sampler CPU time', `${fixed(selfMs)} ms (${((selfMs / wallMs) * 100).toFixed(2)}% of one core)`],
    ];
    for (const [name, load] of Object.entries(engineLoad)) {
      report.push([`${name} CPU`, `${load.toFixed(2)}% of one core (idle baseline ${baseline[name]?.toFixed(2) ?? '?'}%)`]);
    }
    if (Object.keys(engineLoad).length === 0) report.push(['engine CPU', 'not measured: no local dockerd process found']);
    reportFigure({ bench: 'stats-sampling', what: `sampler CPU, ${containers} containers`, value: (selfMs / wallMs) * 100, unit: '%' });
    reportFigure({ bench: 'stats-sampling', what: `round latency, ${containers} containers, mean`, value: mean(latencies), unit: 'ms' });
    const width = Math.max(...report.map(([name]) => name.length));
    for (const [name, value] of report) console.log(`${name.padEnd(width)}  ${value}`);
  } finally {
    await reconciler.stop();
    const removed = await removeContainers(docker, benchId);
    console.log(`removed ${removed} containers`);
    await rm(home, { recursive: true, force: true });
  }
}

async function startContainers(docker: Dockerode, benchId: string, prefix: string): Promise<void> {
  const indexes = Array.from({ length: containers }, (_, index) => index);
  await inBatches(indexes, 8, async (index) => {
    const project = { name: `${prefix}${index}`, path: `/tmp/berth-bench/${benchId}/${index}` };
    const container = await docker.createContainer({
      name: `berth-bench-${benchId}-${index}`,
      Image: IMAGE,
      Cmd: ['sleep', 'infinity'],
      Labels: { ...containerLabels(project, new Date()), [BENCH_LABEL]: benchId },
      HostConfig: { NetworkMode: 'none' },
    });
    await container.start();
  });
}

async function removeContainers(docker: Dockerode, benchId: string): Promise<number> {
  const listed = await docker.listContainers({ all: true, filters: { label: [`${BENCH_LABEL}=${benchId}`] } });
  await inBatches(listed, 8, (info) => docker.getContainer(info.Id).remove({ force: true, v: true }));
  return listed.length;
}

async function inBatches<T>(items: readonly T[], size: number, work: (item: T) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < items.length; start += size) await Promise.all(items.slice(start, start + size).map(work));
}

/** The local engine's processes by name: dockerd, containerd and the shims that answer its stats. */
async function engineProcessIds(): Promise<Map<string, number[]>> {
  const groups = new Map<string, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const name = (await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '')).trim();
    const group = name === 'dockerd' || name === 'containerd' ? name : name.startsWith('containerd-shim') ? 'containerd shims' : undefined;
    if (group) groups.set(group, [...(groups.get(group) ?? []), Number(entry)]);
  }
  return groups;
}

/** utime + stime of each process of each group, in clock ticks. */
async function cpuTicks(groups: Map<string, number[]>): Promise<Map<string, Map<number, number>>> {
  const ticks = new Map<string, Map<number, number>>();
  for (const [name, pids] of groups) {
    const byPid = new Map<number, number>();
    for (const pid of pids) {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
      if (stat === undefined) continue;
      // Fields after the command (which may hold spaces) start at field 3; utime and stime are 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byPid.set(pid, Number(fields[11] ?? 0) + Number(fields[12] ?? 0));
    }
    ticks.set(name, byPid);
  }
  return ticks;
}

/** Per group, the CPU its processes used between two reads (those alive at both), in % of one core. */
function cpuPercents(
  before: Map<string, Map<number, number>>,
  after: Map<string, Map<number, number>>,
  wallMs: number,
): Record<string, number> {
  const percents: Record<string, number> = {};
  for (const [name, byPid] of after) {
    let used = 0;
    for (const [pid, ticks] of byPid) {
      const earlier = before.get(name)?.get(pid);
      if (earlier !== undefined) used += ticks - earlier;
    }
    percents[name] = ((used / CLOCK_TICKS_PER_SECOND) * 1000 * 100) / wallMs;
  }
  return percents;
}

function numberFromEnv(name: string, fallback: number): number {
  return optionalNumber(name) ?? fallback;
}

function optionalNumber(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not ${JSON.stringify(text)}`);
  return value;
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const mean = (values: number[]) => (values.length === 0 ? 0 : sum(values) / values.length);
const percentile = (sorted: number[], fraction: number) => sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * fraction) - 1)] ?? 0;
const fixed = (value: number) => value.toFixed(0);

await main();
