/**
 * The containers' stats history as a client of the daemon keeps it: the
 * daemon sends the whole of it in a stream's first snapshot, then each round's
 * newest sample, added here (see WireSnapshot).
 */
import { STATS_HISTORY_MS } from '../domain/stats.js';
import type { StatsSample } from '../runtime/types.js';
import type { ProjectView } from '../services/control-center-state.js';
import type { WireProjectStats, WireProjectView } from '../daemon/protocol.js';

interface Kept {
  containerId: string;
  /** Oldest first; a new array whenever a sample comes, so that an unchanged one is the same array. */
  samples: readonly StatsSample[];
}

export class StatsHistories {
  private readonly byProject = new Map<string, Kept>();

  /** The projects as the screens read them: each running container's stats with their history. */
  fill(views: readonly WireProjectView[]): ProjectView[] {
    const live = new Set<string>();
    const filled = views.map((view): ProjectView => {
      const { stats, ...rest } = view;
      if (!stats) return rest;
      live.add(view.project.name);
      return { ...rest, stats: { ...stats, history: this.merge(view.project.name, stats) } };
    });
    // A container that stopped loses its history, as in the daemon.
    for (const name of this.byProject.keys()) if (!live.has(name)) this.byProject.delete(name);
    return filled;
  }

  private merge(project: string, stats: WireProjectStats): readonly StatsSample[] {
    if (stats.history) return this.keep(project, stats.containerId, stats.history);
    const kept = this.byProject.get(project);
    // Another container (the project's was recreated): its history starts afresh.
    if (!kept || kept.containerId !== stats.containerId) return this.keep(project, stats.containerId, [stats.latest]);
    const newest = kept.samples.at(-1);
    // A snapshot sent for another reason (a turn, a state) repeats the round's sample.
    if (newest && stats.latest.time <= newest.time) return kept.samples;
    const since = stats.latest.time - STATS_HISTORY_MS;
    return this.keep(project, stats.containerId, [...kept.samples.filter((sample) => sample.time >= since), stats.latest]);
  }

  private keep(project: string, containerId: string, samples: readonly StatsSample[]): readonly StatsSample[] {
    this.byProject.set(project, { containerId, samples });
    return samples;
  }
}
