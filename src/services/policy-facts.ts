/**
 * The facts the policies decide on, gathered from what berth knows: the
 * registry, the engine's view of the containers, the stats history, the
 * workspaces' disks, and which projects are busy in any berth process.
 */
import type { ObservedContainer } from '../domain/container.js';
import type { ContainerFacts, PolicyLimits, PolicySnapshot, ProjectFacts } from '../domain/policies.js';
import type { Project } from '../domain/project.js';
import { settingMs, settingsForProject, type Settings } from '../domain/settings.js';
import { diskUsage } from './host-stats.js';
import { isWorkClaim, keepsBusy } from '../domain/work.js';
import { isAlive } from './work-claims.js';
import type { StatsSnapshot } from './stats-sampler.js';

export interface FactsInput {
  projects: readonly Project[];
  /** Project name → its container, as the engine last described it. */
  containers: ReadonlyMap<string, ObservedContainer>;
  settings: Settings;
  now: number;
  /** Projects busy in this process (its own turns, shells, execs). */
  busyHere: ReadonlySet<string>;
  stats?: StatsSnapshot;
  /** Project name → when berth last recreated its container for health. */
  lastHealthRefresh?: ReadonlyMap<string, number>;
  lastImagePrune: number | null;
  /** Workspace path → how full its filesystem is (0–1); only for a local engine. */
  diskUse?: ReadonlyMap<string, number>;
}

export function policyLimits(settings: Settings): PolicyLimits {
  return {
    maxRunning: Number(settings['policies.maxRunning']),
    maxAgeMs: settingMs(settings, 'policies.maxAge')!,
    removeStoppedAfterMs: settingMs(settings, 'policies.removeStoppedAfter')!,
    workspaceMaxAgeMs: settingMs(settings, 'policies.workspaceMaxAge') ?? null,
    maxCommitPercent: Number(settings['policies.maxCommit']),
  };
}

export function policySnapshot(input: FactsInput): PolicySnapshot {
  const projects = input.projects.map((project): ProjectFacts => {
    const container = project.mode === 'container' ? input.containers.get(project.name) : undefined;
    const own = settingsForProject(input.settings, project.settings);
    return {
      name: project.name,
      mode: project.mode,
      ownsWorkspace: project.ownsWorkspace,
      workspace: project.path,
      createdAt: Date.parse(project.createdAt),
      lastActive: project.lastActive ? Date.parse(project.lastActive) : null,
      idleTimeoutMs: settingMs(own, 'policies.idleTimeout')!,
      busy: input.busyHere.has(project.name) || busyElsewhere(project),
      lastHealthRefresh: input.lastHealthRefresh?.get(project.name) ?? null,
      ...(container && { container: containerFacts(container, input, project) }),
    };
  });
  return { now: input.now, limits: policyLimits(input.settings), projects, lastImagePrune: input.lastImagePrune };
}

function containerFacts(container: ObservedContainer, input: FactsInput, project: Project): ContainerFacts {
  const stats = input.stats?.get(project.name);
  const history = stats?.containerId === container.id ? stats.history : [];
  const disk = input.diskUse?.get(project.path);
  return {
    id: container.id,
    status: container.status,
    failingStreak: container.failingStreak,
    createdAt: Date.parse(container.createdAt),
    startedAt: container.startedAt ? Date.parse(container.startedAt) : null,
    finishedAt: container.finishedAt ? Date.parse(container.finishedAt) : null,
    memoryLimit: container.limits.memoryBytes,
    memoryRatios: history.filter((sample) => sample.memoryLimit > 0).map((sample) => sample.memoryUsed / sample.memoryLimit),
    ...(disk !== undefined && { diskUsedRatio: disk }),
  };
}

/** A turn, exec or shell of a berth process that still runs (a crashed one leaves a claim that does not count). */
function busyElsewhere(project: Project): boolean {
  return (project.work ?? []).some((claim) => isWorkClaim(claim) && keepsBusy(claim) && isAlive(claim));
}

/** How full the filesystem holding each path is; paths that cannot be read are left out. */
export async function diskUseOf(paths: readonly string[]): Promise<Map<string, number>> {
  const use = new Map<string, number>();
  await Promise.all(
    paths.map(async (folder) => {
      try {
        const { used, total } = await diskUsage(folder);
        if (total > 0) use.set(folder, used / total);
      } catch {
        // A workspace that is gone: the health check has nothing to say about its disk.
      }
    }),
  );
  return use;
}
