// The host's CPU, memory and disk read from this machine through
// systeminformation, and the sampler's timer: it publishes, stops, never keeps
// the process alive and loads systeminformation only when it first samples.
import { execa } from 'execa';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HostStats } from '../../src/services/control-center-state.js';
import { HostStatsSampler } from '../../src/services/host-stats.js';
import { diskUseOf } from '../../src/services/policy-facts.js';
import { useTempDirs } from '../helpers/temp.js';

const BUILT_MODULE = fileURLToPath(new URL('../../dist/services/host-stats.js', import.meta.url));
const TRACER = fileURLToPath(new URL('../fixtures/trace-imports.mjs', import.meta.url));

function expectSane(stats: HostStats): void {
  expect(stats.cpuPercent).toBeGreaterThanOrEqual(0);
  expect(stats.cpuPercent).toBeLessThanOrEqual(100);
  expect(stats.memoryUsed).toBeGreaterThan(0);
  expect(stats.memoryUsed).toBeLessThanOrEqual(stats.memoryTotal);
  expect(stats.diskTotal).toBeGreaterThan(0);
  expect(stats.diskUsed).toBeGreaterThan(0);
  expect(stats.diskUsed).toBeLessThanOrEqual(stats.diskTotal);
  expect(Math.abs(Date.now() - stats.time)).toBeLessThan(60_000);
}

describe('host stats from this machine', () => {
  const samplers: HostStatsSampler[] = [];
  const tempDir = useTempDirs();
  afterEach(async () => {
    await Promise.all(samplers.splice(0).map((sampler) => sampler.stop()));
  });
  function sampler(options: ConstructorParameters<typeof HostStatsSampler>[0]): HostStatsSampler {
    const made = new HostStatsSampler(options);
    samplers.push(made);
    return made;
  }

  it('reads CPU, memory and the disk of /tmp in sane ranges', async () => {
    const host = sampler({ diskPath: tmpdir() });
    expect(host.snapshot()).toBeUndefined();
    const first = await host.sampleOnce();
    expectSane(first);
    expect(host.snapshot()).toBe(first);
    // currentLoad() measures since its previous call: the second read is a real interval.
    await sleep(300);
    expectSane(await host.sampleOnce());
  });

  it('measures the filesystem of the nearest existing folder when the path does not exist yet', async () => {
    const dir = await tempDir();
    const missing = await sampler({ diskPath: path.join(dir, 'not', 'made', 'yet') }).sampleOnce();
    const existing = await sampler({ diskPath: dir }).sampleOnce();
    expect(missing.diskTotal).toBe(existing.diskTotal);
  });

  it('publishes to subscribers on its interval, and nothing after stop', async () => {
    const host = sampler({ diskPath: tmpdir(), intervalMs: 100 });
    const seen: HostStats[] = [];
    const unsubscribe = host.subscribe((stats) => seen.push(stats));
    host.start();
    const deadline = Date.now() + 10_000;
    while (seen.length < 2 && Date.now() < deadline) await sleep(50);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(host.snapshot()).toBe(seen.at(-1));

    await host.stop();
    const count = seen.length;
    await sleep(400);
    expect(seen).toHaveLength(count);
    unsubscribe();
  });

  it('skips its own round when one was taken less than an interval ago, so another beat can carry it', async () => {
    const host = sampler({ diskPath: tmpdir(), intervalMs: 1_000 });
    const seen: HostStats[] = [];
    host.subscribe((stats) => seen.push(stats));
    await host.sampleOnce();
    // Its first tick comes at once: the round just taken is fresh, so it is skipped.
    host.start();
    for (let beat = 0; beat < 6; beat += 1) {
      await sleep(200);
      await host.sampleOnce();
    }
    expect(seen).toHaveLength(7);
    // Nobody else samples: its own timer does again, two intervals after the last round.
    await sleep(3_300);
    expect(seen.length).toBeGreaterThanOrEqual(8);
  });

  it('stops telling a listener that unsubscribed', async () => {
    const host = sampler({ diskPath: tmpdir() });
    const seen: HostStats[] = [];
    host.subscribe((stats) => seen.push(stats))();
    await host.sampleOnce();
    expect(seen).toEqual([]);
  });

  it('forks no process to sample, round after round (the control center samples every 2 s)', async () => {
    const dir = await tempDir();
    const forks = path.join(dir, 'forks.txt');
    // Before anything loads child_process: every way to start a process writes a line.
    const spy = path.join(dir, 'spy.cjs');
    await writeFile(
      spy,
      `const cp = require('node:child_process'); const { appendFileSync } = require('node:fs');
       for (const name of ['exec', 'execSync', 'execFile', 'execFileSync', 'spawn', 'spawnSync', 'fork']) {
         const original = cp[name];
         cp[name] = function (...args) { appendFileSync(${JSON.stringify(forks)}, name + ' ' + String(args[0]) + '\\n'); return original.apply(this, args); };
       }`,
    );
    const script = `
      const { HostStatsSampler } = await import(${JSON.stringify(BUILT_MODULE)});
      const host = new HostStatsSampler({ diskPath: '/tmp' });
      for (let round = 0; round < 3; round += 1) console.log(JSON.stringify(await host.sampleOnce()));
    `;
    const run = await execa('node', ['--require', spy, '--input-type=module', '-e', script], { timeout: 20_000 });
    const rounds = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as HostStats);
    expect(rounds).toHaveLength(3);
    for (const stats of rounds) expectSane(stats);
    expect(await readFile(forks, 'utf8').catch(() => '')).toBe('');
  });

  it('does not keep the process alive, and loads systeminformation only when it samples', async () => {
    const dir = await tempDir();
    const trace = path.join(dir, 'imports.txt');
    const script = `
      const { HostStatsSampler } = await import(${JSON.stringify(BUILT_MODULE)});
      const host = new HostStatsSampler({ diskPath: '/tmp', intervalMs: 50 });
      if (process.argv[1] === 'start') host.start();
    `;
    const run = (mode: string) =>
      execa('node', ['--import', TRACER, '--input-type=module', '-e', script, mode], {
        env: { BERTH_TRACE_IMPORTS: trace },
        timeout: 20_000,
      });

    await run('construct');
    expect(await readFile(trace, 'utf8')).not.toMatch(/node_modules\/systeminformation\//);

    // An unref'd timer: the process ends by itself once the first round is done.
    const started = await run('start');
    expect(started.exitCode).toBe(0);
    expect(await readFile(trace, 'utf8')).toMatch(/node_modules\/systeminformation\//);
  });
});

// A filesystem of its own (ext4 in a file, mounted through a loop device) with
// 40% of its blocks reserved for root, as ext4 reserves some by default: where
// "full" could mean two things, the header and the disk policy must say one.
describe.skipIf(process.getuid?.() !== 0)('how full a disk is: one figure for the header and the disk policy', () => {
  let dir: string | undefined;
  let mountPoint: string;
  let mounted = false;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-disk-'));
    const image = path.join(dir, 'disk.img');
    mountPoint = path.join(dir, 'mnt');
    await writeFile(image, '');
    await truncate(image, 16 * 1024 * 1024);
    await execa('mkfs.ext4', ['-q', '-F', '-m', '40', image]);
    await execa('mkdir', [mountPoint]);
    await execa('mount', ['-o', 'loop', image, mountPoint]);
    mounted = true;
    await writeFile(path.join(mountPoint, 'fill'), Buffer.alloc(5 * 1024 * 1024, 1));
  });

  afterAll(async () => {
    if (mounted) await execa('umount', [mountPoint]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is the same in the header as in the disk policy, and as df counts it', async () => {
    const header = await new HostStatsSampler({ diskPath: mountPoint }).sampleOnce();
    const policy = (await diskUseOf([mountPoint])).get(mountPoint)!;
    expect(header.diskUsed / header.diskTotal).toBeCloseTo(policy, 6);
    // df rounds its Use% up.
    const df = (await execa('df', ['-P', mountPoint])).stdout.split('\n')[1]!.split(/\s+/)[4]!;
    expect(Math.ceil(policy * 100)).toBe(Number(df.replace('%', '')));
  });
});
