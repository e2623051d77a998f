/**
 * Container stats as berth shows them: CPU% from two counter reads, memory
 * without the page cache, and a short history per container. Pure: the
 * engine's reads come in as RawStats, nothing here does I/O.
 */

/** The CPU counters of one stats read, as the runtime's RawStats carries them. */
export interface CpuCounters {
  /** CPU time the container used since it started. */
  cpuTotalNs: number;
  /** CPU time of the whole host, all CPUs, since boot. */
  systemCpuNs: number;
  onlineCpus: number;
}

/**
 * CPU% between two reads, as `docker stats` computes it: the container's CPU
 * time over the host's, times the CPUs, so one busy core reads 100%. Zero
 * without a previous read, or when a counter went backwards (the container
 * restarted and its counters began again).
 */
export function cpuPercent(previous: CpuCounters | undefined, current: CpuCounters): number {
  if (!previous) return 0;
  const cpuDelta = current.cpuTotalNs - previous.cpuTotalNs;
  const systemDelta = current.systemCpuNs - previous.systemCpuNs;
  if (cpuDelta <= 0 || systemDelta <= 0) return 0;
  return (cpuDelta / systemDelta) * Math.max(1, current.onlineCpus) * 100;
}

/**
 * Memory in use without the page cache the kernel can drop, as `docker stats`
 * shows it. The cgroup counters differ: v1 has `total_inactive_file` (and, on
 * old kernels, only `cache`), v2 has `inactive_file`.
 */
export function memoryWithoutCache(usage: number, counters: Readonly<Record<string, number | undefined>>): number {
  const cache = counters.total_inactive_file ?? counters.inactive_file ?? counters.cache ?? 0;
  // A cache counter above usage is the kernel's accounting lag: show usage then.
  return cache < usage ? usage - cache : usage;
}

export const STATS_HISTORY_MS = 3 * 60_000;

/**
 * The samples of one container over the last `windowMs`, in a ring of fixed
 * capacity: memory stays bounded however often samples come.
 */
export class SampleHistory<T extends { time: number }> {
  private readonly ring: Array<T | undefined>;
  private next = 0;
  private size = 0;

  constructor(
    readonly capacity: number,
    readonly windowMs: number = STATS_HISTORY_MS,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, not ${capacity}`);
    this.ring = new Array<T | undefined>(capacity);
  }

  /** Enough room for one sample every `intervalMs` over the window, plus slack for late rounds. */
  static forInterval<T extends { time: number }>(intervalMs: number, windowMs: number = STATS_HISTORY_MS): SampleHistory<T> {
    return new SampleHistory<T>(Math.ceil(windowMs / intervalMs) + 2, windowMs);
  }

  push(sample: T): void {
    this.ring[this.next] = sample;
    this.next = (this.next + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  latest(): T | undefined {
    if (this.size === 0) return undefined;
    return this.ring[(this.next - 1 + this.capacity) % this.capacity];
  }

  /** Oldest first, only those within the window before the newest sample. */
  toArray(): T[] {
    const newest = this.latest();
    if (!newest) return [];
    const since = newest.time - this.windowMs;
    const samples: T[] = [];
    for (let index = 0; index < this.size; index += 1) {
      const sample = this.ring[(this.next - this.size + index + this.capacity) % this.capacity]!;
      if (sample.time >= since) samples.push(sample);
    }
    return samples;
  }
}
