import { describe, expect, it } from 'vitest';
import { SampleHistory, cpuPercent, memoryWithoutCache } from '../../src/domain/stats.js';
import { rawStatsFromEngine, type EngineStatsBody } from '../../src/runtime/docker/docker-stats.js';
import { JsonLines, engineEventOf } from '../../src/runtime/docker/docker-events.js';

// Recorded from dockerd 20.10 on cgroup v1 (`GET /containers/{id}/stats?stream=false`,
// a container running `while :; do :; done`), trimmed to the fields berth reads.
const V1_BUSY = {
  read: '2026-11-24T21:54:51.779991623Z',
  preread: '2026-11-24T21:54:50.776791778Z',
  pids_stats: { current: 1 },
  cpu_stats: {
    cpu_usage: { total_usage: 4061849564, percpu_usage: [4052355695, 9493869] },
    system_cpu_usage: 11436690000000,
    online_cpus: 2,
  },
  precpu_stats: {
    cpu_usage: { total_usage: 3057891755, percpu_usage: [3048397886, 9493869] },
    system_cpu_usage: 11434680000000,
    online_cpus: 2,
  },
  memory_stats: { usage: 606208, limit: 25276510208, stats: { cache: 77824, total_inactive_file: 0, inactive_file: 0 } },
  networks: { eth0: { rx_bytes: 736, tx_bytes: 0 } },
  blkio_stats: { io_service_bytes_recursive: [] },
};

// Recorded the same way from a container limited to 256m that had written a 20 MB file.
const V1_WITH_CACHE: EngineStatsBody = {
  read: '2026-11-24T21:56:34.9276899Z',
  pids_stats: { current: 2 },
  cpu_stats: { cpu_usage: { total_usage: 72524907, percpu_usage: [34324233, 38200674] }, system_cpu_usage: 11641020000000, online_cpus: 2 },
  memory_stats: {
    usage: 23777280,
    limit: 268435456,
    stats: {
      active_file: 1196032,
      cache: 22167552,
      inactive_file: 20971520,
      rss: 229376,
      total_active_file: 1196032,
      total_cache: 22167552,
      total_inactive_file: 20971520,
      total_rss: 229376,
    },
  },
  networks: { eth0: { rx_bytes: 516, tx_bytes: 0 } },
  blkio_stats: { io_service_bytes_recursive: [] },
};

// The shape a cgroup v2 engine answers (no percpu_usage, no `cache`, lower-case
// block ops, one entry per device), with two networks.
const V2: EngineStatsBody = {
  read: '2026-11-24T22:00:02.000000000Z',
  pids_stats: { current: 7 },
  cpu_stats: { cpu_usage: { total_usage: 9_000_000_000 }, system_cpu_usage: 400_000_000_000, online_cpus: 4 },
  memory_stats: {
    usage: 50_000_000,
    limit: 2_147_483_648,
    stats: { anon: 30_000_000, file: 18_000_000, active_file: 6_000_000, inactive_file: 12_000_000 },
  },
  networks: { eth0: { rx_bytes: 1000, tx_bytes: 200 }, eth1: { rx_bytes: 30, tx_bytes: 4 } },
  blkio_stats: {
    io_service_bytes_recursive: [
      { op: 'read', value: 4096 },
      { op: 'write', value: 8192 },
      { op: 'read', value: 100 },
      { op: 'write', value: 1 },
    ],
  },
};

function previousOf(body: typeof V1_BUSY): EngineStatsBody {
  return { ...body, read: body.preread, cpu_stats: body.precpu_stats };
}

describe('stats from the engine', () => {
  it('computes CPU% from two reads as docker stats does: one busy core of two is about 100%', () => {
    const previous = rawStatsFromEngine(previousOf(V1_BUSY), 0)!;
    const current = rawStatsFromEngine(V1_BUSY, 0)!;
    // (4061849564 - 3057891755) / (11436690000000 - 11434680000000) × 2 CPUs × 100
    expect(cpuPercent(previous, current)).toBeCloseTo(99.896, 2);
    expect(current.time - previous.time).toBe(1003);
  });

  it('reads memory without the page cache, pids, summed networks and the limit (cgroup v1)', () => {
    expect(rawStatsFromEngine(V1_WITH_CACHE, 0)).toEqual({
      time: Date.parse('2026-11-24T21:56:34.927Z'),
      cpuTotalNs: 72524907,
      systemCpuNs: 11641020000000,
      onlineCpus: 2,
      // usage 23777280 minus total_inactive_file 20971520, as docker stats shows it.
      memoryUsed: 2805760,
      memoryLimit: 268435456,
      pids: 2,
      network: { rxBytes: 516, txBytes: 0 },
      block: { readBytes: 0, writeBytes: 0 },
    });
  });

  it('reads the cgroup v2 shape: inactive_file, lower-case block ops summed over devices', () => {
    expect(rawStatsFromEngine(V2, 0)).toEqual({
      time: Date.parse('2026-11-24T22:00:02Z'),
      cpuTotalNs: 9_000_000_000,
      systemCpuNs: 400_000_000_000,
      onlineCpus: 4,
      memoryUsed: 38_000_000,
      memoryLimit: 2_147_483_648,
      pids: 7,
      network: { rxBytes: 1030, txBytes: 204 },
      block: { readBytes: 4196, writeBytes: 8193 },
    });
  });

  it('sums cgroup v1 block ops, spelt with capitals, ignoring Sync and Total', () => {
    const body: EngineStatsBody = {
      ...V1_WITH_CACHE,
      blkio_stats: {
        io_service_bytes_recursive: [
          { op: 'Read', value: 1000 },
          { op: 'Write', value: 20 },
          { op: 'Sync', value: 1020 },
          { op: 'Total', value: 1020 },
        ],
      },
    };
    expect(rawStatsFromEngine(body, 0)?.block).toEqual({ readBytes: 1000, writeBytes: 20 });
  });

  it('counts CPUs from per-CPU counters when an old engine omits online_cpus', () => {
    const body: EngineStatsBody = { ...V1_WITH_CACHE, cpu_stats: { cpu_usage: { total_usage: 1, percpu_usage: [1, 0, 0] }, system_cpu_usage: 1 } };
    expect(rawStatsFromEngine(body, 0)?.onlineCpus).toBe(3);
  });

  it('says nothing was read for a stopped container (zero read time)', () => {
    expect(rawStatsFromEngine({ read: '0001-01-01T00:00:00Z', memory_stats: {} }, 0)).toBeUndefined();
  });
});

describe('CPU% and memory math', () => {
  const counters = (cpuTotalNs: number, systemCpuNs: number, onlineCpus = 2) => ({ cpuTotalNs, systemCpuNs, onlineCpus });

  it('is 0 without a previous read', () => {
    expect(cpuPercent(undefined, counters(10, 10))).toBe(0);
  });

  it('scales by online CPUs: two busy cores of four read 200%', () => {
    expect(cpuPercent(counters(0, 0, 4), counters(2_000, 4_000, 4))).toBe(200);
  });

  it('is 0, not negative, when the counters went back (a restarted container)', () => {
    expect(cpuPercent(counters(5_000, 1_000), counters(1_000, 2_000))).toBe(0);
    expect(cpuPercent(counters(1_000, 2_000), counters(2_000, 2_000))).toBe(0);
  });

  it('subtracts the cache counter of each cgroup version, never below zero', () => {
    expect(memoryWithoutCache(1_000, { total_inactive_file: 300, inactive_file: 300, cache: 600 })).toBe(700);
    expect(memoryWithoutCache(1_000, { inactive_file: 400 })).toBe(600);
    expect(memoryWithoutCache(1_000, { cache: 250 })).toBe(750);
    expect(memoryWithoutCache(1_000, { inactive_file: 5_000 })).toBe(1_000);
    expect(memoryWithoutCache(1_000, {})).toBe(1_000);
  });
});

describe('sample history', () => {
  it('keeps only the window before the newest sample, oldest first', () => {
    const history = new SampleHistory<{ time: number }>(100, 180_000);
    for (let time = 0; time <= 300_000; time += 2_000) history.push({ time });
    const times = history.toArray().map((sample) => sample.time);
    expect(times[0]).toBe(120_000);
    expect(times.at(-1)).toBe(300_000);
    expect(times).toHaveLength(91);
  });

  it('stays bounded by its capacity however many samples come', () => {
    const history = new SampleHistory<{ time: number }>(5, 1_000_000);
    for (let time = 1; time <= 1_000; time += 1) history.push({ time });
    expect(history.toArray().map((sample) => sample.time)).toEqual([996, 997, 998, 999, 1000]);
    expect(history.latest()).toEqual({ time: 1000 });
  });

  it('sizes itself for three minutes at the sampling interval', () => {
    expect(SampleHistory.forInterval(2_000).capacity).toBe(92);
  });
});

describe('engine event lines', () => {
  const event = (id: string, action: string) =>
    JSON.stringify({ Type: 'container', Action: action, Actor: { ID: id, Attributes: { 'berth.project': 'alpha' } } });

  it('parses lines split across chunks, and several lines in one chunk', () => {
    const lines = new JsonLines();
    const text = `${event('a', 'start')}\n${event('b', 'die')}\n${event('c', 'destroy')}\n`;
    const bytes = Buffer.from(text);
    const parsed = [
      ...lines.push(bytes.subarray(0, 10)),
      ...lines.push(bytes.subarray(10, text.indexOf('\n') + 5)),
      ...lines.push(bytes.subarray(text.indexOf('\n') + 5)),
    ];
    expect(parsed.map(engineEventOf)).toEqual([
      { kind: 'container', action: 'start', containerId: 'a', project: 'alpha' },
      { kind: 'container', action: 'die', containerId: 'b', project: 'alpha' },
      { kind: 'container', action: 'destroy', containerId: 'c', project: 'alpha' },
    ]);
  });

  it('keeps a multi-byte character split between chunks, and skips a garbled line', () => {
    const lines = new JsonLines();
    const bytes = Buffer.from(`not json\n{"name":"é"}\n`);
    const cut = bytes.indexOf(0xc3) + 1;
    expect([...lines.push(bytes.subarray(0, cut)), ...lines.push(bytes.subarray(cut))]).toEqual([{ name: 'é' }]);
  });

  it('ignores events of other object types', () => {
    expect(engineEventOf({ Type: 'network', Action: 'connect', Actor: { ID: 'n' } })).toBeUndefined();
  });
});
