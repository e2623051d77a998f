import type { ObservedContainer } from '../domain/container.js';
import { STATS_HISTORY_MS, SampleHistory, cpuPercent } from '../domain/stats.js';
import type { ContainerEngine, RawStats, StatsSample } from '../runtime/types.js';
import { forEachLimited } from './for-each-limited.js';

/** What the sampler shows of one project's container. */
export interface ProjectStats {
  project: string;
  containerId: string;
  latest: StatsSample;
  /** Oldest first, the last three minutes. */
  history: readonly StatsSample[];
}

/** Project name → its container's stats; only running containers appear. */
export type StatsSnapshot = ReadonlyMap<string, ProjectStats>;

export interface StatsRound {
  sampled: number;
  failed: number;
  durationMs: number;
}

export interface StatsSamplerOptions {
  intervalMs?: number;
  /**
   * Stats reads in flight at once. dockerd answers every pending one-shot read
   * at its next collection pass, once a second: a round takes about
   * ceil(running / concurrency) seconds there, so this trades freshness for a
   * cap on requests (bench/stats-sampling.ts measures it).
   */
  concurrency?: number;
  historyMs?: number;
  /**
   * The containers to sample, each shown as its `project`'s (those not running
   * are skipped): the projects' containers (see containerOf), one each, such
   * as a Reconciler's snapshot, which the events stream keeps current.
   */
  listContainers: () => Promise<readonly ObservedContainer[]>;
  /** Told when a round could not list the containers (an engine down, say). */
  onError?: (error: unknown) => void;
  /** Told of every finished round: how long it took, how many reads failed. */
  onRound?: (round: StatsRound) => void;
}

interface Tracked {
  project: string;
  previous: RawStats | undefined;
  history: SampleHistory<StatsSample>;
}

/**
 * Samples the stats of running containers on an interval, a few requests at a
 * time. A round that is still running when the next is due makes that one
 * skip, never queue: a slow engine gets fewer requests, not a backlog.
 */
export class StatsSampler {
  readonly intervalMs: number;
  readonly concurrency: number;
  readonly historyMs: number;
  private readonly listContainers: () => Promise<readonly ObservedContainer[]>;
  private readonly onError: (error: unknown) => void;
  private readonly onRound: (round: StatsRound) => void;
  private readonly tracked = new Map<string, Tracked>();
  private readonly listeners = new Set<(snapshot: StatsSnapshot) => void>();
  private current: StatsSnapshot = new Map();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<StatsRound> | undefined;
  private skipped = 0;

  constructor(
    private readonly engine: ContainerEngine,
    options: StatsSamplerOptions,
  ) {
    this.intervalMs = options.intervalMs ?? 2_000;
    this.concurrency = Math.max(1, options.concurrency ?? 16);
    this.historyMs = options.historyMs ?? STATS_HISTORY_MS;
    this.listContainers = options.listContainers;
    this.onError = options.onError ?? (() => {});
    this.onRound = options.onRound ?? (() => {});
  }

  start(): void {
    if (this.timer) return;
    this.tick();
    // Not unref'd: a command that only shows stats (berth stats) lives on this timer until stop().
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  /** Stops the timer and waits for a round in flight, so nothing is published after. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight?.catch(() => undefined);
  }

  subscribe(listener: (snapshot: StatsSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): StatsSnapshot {
    return this.current;
  }

  /** Rounds skipped because the previous one was still running. */
  skippedRounds(): number {
    return this.skipped;
  }

  /** One round now, unless one is running: then that one's result. */
  sampleOnce(): Promise<StatsRound> {
    this.inFlight ??= this.round().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private tick(): void {
    if (this.inFlight) {
      this.skipped += 1;
      return;
    }
    this.sampleOnce().catch((error: unknown) => this.onError(error));
  }

  private async round(): Promise<StatsRound> {
    const startedAt = performance.now();
    const running = (await this.listContainers()).filter((container) => container.status === 'running');
    const runningIds = new Set(running.map((container) => container.id));
    // A container that stopped or went away loses its history: its next life starts afresh.
    for (const id of this.tracked.keys()) if (!runningIds.has(id)) this.tracked.delete(id);
    let failed = 0;
    await forEachLimited(running, this.concurrency, async (container) => {
      try {
        this.record(container, await this.engine.stats(container.id));
      } catch {
        // Stopped or removed since the list (the next list drops it), or a passing engine error: keep its history.
        failed += 1;
      }
    });
    this.publish();
    const result = { sampled: running.length - failed, failed, durationMs: performance.now() - startedAt };
    this.onRound(result);
    return result;
  }

  private record(container: ObservedContainer, raw: RawStats): void {
    let entry = this.tracked.get(container.id);
    if (!entry) {
      entry = { project: container.project, previous: undefined, history: SampleHistory.forInterval(this.intervalMs, this.historyMs) };
      this.tracked.set(container.id, entry);
    }
    entry.history.push({
      containerId: container.id,
      time: raw.time,
      cpuPercent: cpuPercent(entry.previous, raw),
      memoryUsed: raw.memoryUsed,
      memoryLimit: raw.memoryLimit,
      pids: raw.pids,
      network: raw.network,
      block: raw.block,
    });
    entry.previous = raw;
  }

  private publish(): void {
    const snapshot = new Map<string, ProjectStats>();
    for (const [containerId, entry] of this.tracked) {
      const latest = entry.history.latest();
      if (latest) snapshot.set(entry.project, { project: entry.project, containerId, latest, history: entry.history.toArray() });
    }
    this.current = snapshot;
    for (const listener of this.listeners) listener(snapshot);
  }
}
