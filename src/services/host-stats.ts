import { realpath, statfs } from 'node:fs/promises';
import { cpus } from 'node:os';
import path from 'node:path';
// A type-only import, erased from the output: the module itself is loaded lazily below.
import type * as Systeminformation from 'systeminformation';
import type { HostStats } from './control-center-state.js';

type SystemInformation = typeof Systeminformation;

export interface HostStatsSamplerOptions {
  intervalMs?: number;
  /** The disk shown is the filesystem holding this path (or its nearest existing ancestor). */
  diskPath: string;
  /** Told when a round failed; the next round tries again. */
  onError?: (error: unknown) => void;
}

// Loaded on the first round, not at import: `berth --help` and the other
// quick commands never pay for systeminformation.
let systemInformation: Promise<SystemInformation> | undefined;
function loadSystemInformation(): Promise<SystemInformation> {
  systemInformation ??= import('systeminformation');
  return systemInformation;
}

/**
 * Samples the host's CPU, memory and one disk on an interval. Like the
 * container StatsSampler, a round still running when the next is due makes
 * that one skip, never queue; so does a round taken less than two intervals
 * ago (the control center samples the host with each container stats round,
 * so that both reach the screen in one frame). The timer does not keep the
 * process alive.
 */
export class HostStatsSampler {
  readonly intervalMs: number;
  private readonly diskPath: string;
  private readonly onError: (error: unknown) => void;
  private readonly listeners = new Set<(stats: HostStats) => void>();
  private current: HostStats | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<HostStats> | undefined;
  private cpuBefore: CpuTimes[] | undefined;

  constructor(options: HostStatsSamplerOptions) {
    this.intervalMs = options.intervalMs ?? 2_000;
    this.diskPath = path.resolve(options.diskPath);
    this.onError = options.onError ?? (() => {});
  }

  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a round in flight, so nothing is published after. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight?.catch(() => undefined);
  }

  subscribe(listener: (stats: HostStats) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): HostStats | undefined {
    return this.current;
  }

  /** One round now, published to the listeners, unless one is running: then that one's result. */
  sampleOnce(): Promise<HostStats> {
    this.inFlight ??= this.round().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private tick(): void {
    if (this.inFlight) return;
    // Sampled within two intervals (by sampleOnce, on another's beat, which may be slower than ours): fresh enough, and a frame is saved.
    if (this.current && Date.now() - this.current.time < 2 * this.intervalMs) return;
    this.sampleOnce().catch((error: unknown) => this.onError(error));
  }

  private async round(): Promise<HostStats> {
    const si = await loadSystemInformation();
    const [memory, disk] = await Promise.all([si.mem(), existingAncestor(this.diskPath).then(diskUsage)]);
    const times = cpuTimes();
    const load = loadBetween(this.cpuBefore, times);
    this.cpuBefore = times;
    const stats: HostStats = {
      cpuPercent: clampPercent(load),
      // `active` leaves out buffers and page cache, which the kernel gives back on demand.
      memoryUsed: memory.active,
      memoryTotal: memory.total,
      diskUsed: disk.used,
      diskTotal: disk.total,
      time: Date.now(),
    };
    this.current = stats;
    for (const listener of this.listeners) listener(stats);
    return stats;
  }
}

/**
 * How full the filesystem holding `folder` is, the one formula for the
 * header and the disk policy: as df counts it, the blocks in use out of those
 * a user may fill (the blocks reserved for root left out): at 100% a user
 * can write nothing more.
 */
export async function diskUsage(folder: string): Promise<{ used: number; total: number }> {
  const fs = await statfs(folder);
  const used = (fs.blocks - fs.bfree) * fs.bsize;
  return { used, total: used + fs.bavail * fs.bsize };
}

/** The real path of `target`, or of its nearest ancestor that exists (a workspaces folder not made yet). */
async function existingAncestor(target: string): Promise<string> {
  for (let current = target; ; current = path.dirname(current)) {
    try {
      return await realpath(current);
    } catch (error) {
      if (current === path.dirname(current)) throw error;
    }
  }
}

export interface CpuTimes {
  busy: number;
  total: number;
}

/**
 * Each core's time since boot, busy and in all, as the kernel counts it
 * (os.cpus(), read in-process: systeminformation's currentLoad forks
 * `sh -c 'cat /proc/stat | grep cpu'` on every call, and waits for it).
 */
function cpuTimes(): CpuTimes[] {
  return cpus().map(({ times }) => {
    const total = times.user + times.nice + times.sys + times.irq + times.idle;
    return { busy: total - times.idle, total };
  });
}

/**
 * The busy share, in %, of the cores' time between two readings (since boot
 * without a first one). A core counts only when it is in both and its
 * counters went forward: one brought online or taken offline meanwhile
 * (hotplug) would add its whole history, or take it away.
 */
export function loadBetween(before: readonly CpuTimes[] | undefined, after: readonly CpuTimes[]): number {
  let busy = 0;
  let total = 0;
  after.forEach((core, index) => {
    const previous = before === undefined ? { busy: 0, total: 0 } : before[index];
    if (previous === undefined || core.total < previous.total || core.busy < previous.busy) return;
    busy += core.busy - previous.busy;
    total += core.total - previous.total;
  });
  return total > 0 ? (100 * busy) / total : 0;
}

function clampPercent(value: number): number {
  return Number.isFinite(value) ? Math.min(100, Math.max(0, value)) : 0;
}
