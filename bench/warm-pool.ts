// What the warm pool saves on a project's first message: the time from asking
// for the project's container until a command has run in it (what a chat
// turn waits for before the agent starts), with no warm container waiting and
// with one. Each run uses a new project; the pool is filled between runs,
// untimed. Needs root and a local Docker engine, as the pool does.
//   first argument or BENCH_RUNS   runs of each kind (10)
//   BENCH_IMAGE                    the workspace image (berth-workspace:dev; built if missing)
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Dockerode from 'dockerode';
import { createContext } from '../src/services/context.js';
import { berth } from './tui-support.js';
import { reportFigure } from './figures.js';

const runs = Number(process.argv[2] ?? process.env.BENCH_RUNS ?? 10);
const image = process.env.BENCH_IMAGE ?? 'berth-workspace:dev';

async function main(): Promise<void> {
  const home = await mkdtemp(path.join(tmpdir(), 'berth-bench-pool-'));
  const docker = new Dockerode();
  try {
    if (!(await docker.getImage(image).inspect().then(() => true, () => false))) {
      process.stdout.write(`building ${image} (berth image build --network host)…\n`);
      await berth(home, ['image', 'build', '--network', 'host', '--tag', image]);
    }
    const context = createContext({ BERTH_HOME: home, PATH: process.env.PATH ?? '/usr/bin:/bin' });
    await context.settings().set('container.image', image);
    await context.settings().set('container.memory', '256m');
    await context.settings().set('policies.maxRunning', String(2 * runs + 2));
    const runtime = await context.runtime();
    const firstCommand = async (name: string): Promise<number> => {
      await context.projects.add(name, { mode: 'container' });
      const started = performance.now();
      await runtime.exec(name, { argv: ['true'] });
      return performance.now() - started;
    };
    const cold: number[] = [];
    const warm: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      await context.settings().set('policies.warmPool', '0');
      cold.push(await firstCommand(`cold-${run}`));
      await context.settings().set('policies.warmPool', '1');
      const filled = await runtime.maintainWarmPool();
      if (filled.unavailable) throw new Error(filled.unavailable);
      warm.push(await firstCommand(`warm-${run}`));
    }
    await context.settings().set('policies.warmPool', '0');
    await runtime.maintainWarmPool();
    await runtime.close();
    process.stdout.write(`\nfirst command in a new project's container (${runs} runs each, ${image})\n`);
    process.stdout.write(`${'pool'.padEnd(22)}${'min'.padEnd(10)}${'median'.padEnd(10)}p95\n`);
    for (const [label, times] of [['no warm container', cold], ['a warm container', warm]] as const) {
      const sorted = [...times].sort((a, b) => a - b);
      const at = (q: number) => `${Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!)} ms`;
      process.stdout.write(`${label.padEnd(22)}${at(0.0001).padEnd(10)}${at(0.5).padEnd(10)}${at(0.95)}\n`);
    }
    const median = (times: number[]) => [...times].sort((a, b) => a - b)[Math.floor((times.length - 1) / 2)]!;
    reportFigure({ bench: 'warm-pool', what: "first command in a new project's container, a warm one waiting", value: median(warm), unit: 'ms', reference: `none waiting ${median(cold).toFixed(0)} ms`, ratio: median(warm) / median(cold) });
  } finally {
    const containers = await docker.listContainers({ all: true, filters: { label: ['berth.managed=true'] } });
    await Promise.all(
      containers.filter((info) => info.Labels['berth.workspace']?.startsWith(home)).map((info) => docker.getContainer(info.Id).remove({ force: true })),
    );
    await execa('umount', ['-R', path.join(home, 'pool')], { reject: false });
    await rm(home, { recursive: true, force: true });
  }
}

await main();
