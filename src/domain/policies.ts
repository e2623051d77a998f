/**
 * berth's policies, as pure functions of a snapshot of the projects, their
 * containers and a clock: what to stop, evict, recreate, remove or prune, and
 * whether a start may go ahead. Each action carries the reason a person reads
 * in the status line and the audit log. The supervisor collects the facts
 * and carries the actions out; nothing here does I/O.
 */
import type { ContainerStatus } from './container.js';
import { formatDuration, formatSpan } from './duration.js';
import type { IsolationMode } from './project.js';

export interface PolicyLimits {
  maxRunning: number;
  maxAgeMs: number;
  removeStoppedAfterMs: number;
  /** null: berth never offers to remove idle workspaces. */
  workspaceMaxAgeMs: number | null;
  /** Percent of the host's memory that running containers' limits may add up to. */
  maxCommitPercent: number;
}

export interface ContainerFacts {
  id: string;
  status: ContainerStatus;
  failingStreak: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  memoryLimit: number;
  /** The last memory samples as used / limit, oldest first (empty when not sampled). */
  memoryRatios: readonly number[];
  /** How full the filesystem holding the workspace is, 0–1, when known. */
  diskUsedRatio?: number;
}

export interface ProjectFacts {
  name: string;
  mode: IsolationMode;
  ownsWorkspace: boolean;
  workspace: string;
  createdAt: number;
  lastActive: number | null;
  /** policies.idleTimeout in force for this project (it may override berth's). */
  idleTimeoutMs: number;
  /** A turn, a shell or an exec runs in it now: no policy touches it. */
  busy: boolean;
  /** When berth last recreated its container for health; null for never. */
  lastHealthRefresh: number | null;
  container?: ContainerFacts;
}

export interface PolicySnapshot {
  now: number;
  limits: PolicyLimits;
  projects: readonly ProjectFacts[];
  /** When berth last pruned its dangling images; null for never. */
  lastImagePrune: number | null;
}

export type PolicyAction =
  | { kind: 'stop'; project: string; reason: string }
  | { kind: 'evict'; project: string; reason: string }
  | { kind: 'refresh'; project: string; reason: string }
  | { kind: 'remove'; project: string; reason: string }
  /** Removes the project and the workspace berth created for it: only ever after the user confirms. */
  | { kind: 'remove-workspace'; project: string; reason: string; path: string }
  | { kind: 'prune-images'; reason: string }
  /** Reported by the supervisor after it tops up the warm pool; no policy plans it. */
  | { kind: 'warm'; reason: string };

/** Thresholds of the health refresh, from the issue that set them. */
export const HEALTH = {
  failingStreak: 3,
  diskUsedRatio: 0.8,
  memoryRatio: 0.9,
  memorySamples: 3,
  /** A container recreated for its health is not recreated again sooner: a broken image must not loop. */
  refreshCooldownMs: 10 * 60_000,
} as const;

export const IMAGE_PRUNE_EVERY_MS = 7 * 24 * 3_600_000;

/** The moment a project was last used: its last activity, else its container's start. */
export function lastUsed(project: ProjectFacts, now: number): number {
  const time = project.lastActive ?? project.container?.startedAt ?? project.container?.createdAt ?? project.createdAt;
  // A time ahead of the clock (another machine's, or a clock set back) counts as now, never as long ago.
  return Math.min(time, now);
}

const isRunning = (project: ProjectFacts): boolean => project.container?.status === 'running';

/** One pass of every policy. At most one action per project, the most useful one. */
export function planPass(snapshot: PolicySnapshot): PolicyAction[] {
  const { now, limits } = snapshot;
  const actions: PolicyAction[] = [];
  const acted = new Set<string>();
  const add = (action: PolicyAction & { project: string }) => {
    if (acted.has(action.project)) return;
    acted.add(action.project);
    actions.push(action);
  };
  const containerProjects = snapshot.projects.filter((project) => project.mode === 'container' && project.container);

  for (const project of containerProjects) {
    if (!isRunning(project) || project.busy) continue;
    const idleFor = now - lastUsed(project, now);
    if (idleFor > project.idleTimeoutMs) {
      add({ kind: 'stop', project: project.name, reason: `idle for ${formatSpan(idleFor)} (policies.idleTimeout ${formatDuration(project.idleTimeoutMs)})` });
    }
  }

  // Over the cap (the setting was lowered, or another berth started some): the least recently used go first.
  const stillRunning = containerProjects.filter((project) => isRunning(project) && !acted.has(project.name));
  for (const project of evictionOrder(stillRunning, now).slice(0, Math.max(0, stillRunning.length - limits.maxRunning))) {
    add({ kind: 'evict', project: project.name, reason: `${stillRunning.length} containers run, policies.maxRunning is ${limits.maxRunning}: least recently used` });
  }

  for (const project of containerProjects) {
    if (!isRunning(project) || project.busy || acted.has(project.name)) continue;
    const why = healthProblem(project, snapshot);
    if (why) add({ kind: 'refresh', project: project.name, reason: why });
  }

  for (const project of containerProjects) {
    const container = project.container!;
    if (isRunning(project) || project.busy || container.status === 'removing') continue;
    const stoppedAt = container.finishedAt ?? container.createdAt;
    const stoppedFor = now - Math.min(stoppedAt, now);
    if (stoppedFor > limits.removeStoppedAfterMs) {
      add({ kind: 'remove', project: project.name, reason: `stopped for ${formatSpan(stoppedFor)} (policies.removeStoppedAfter ${formatDuration(limits.removeStoppedAfterMs)})` });
    }
  }

  if (limits.workspaceMaxAgeMs !== null) {
    for (const project of snapshot.projects) {
      if (!project.ownsWorkspace || project.busy || isRunning(project)) continue;
      const unusedFor = now - lastUsed(project, now);
      if (unusedFor > limits.workspaceMaxAgeMs) {
        const reason = `no activity for ${formatSpan(unusedFor)} (policies.workspaceMaxAge ${formatDuration(limits.workspaceMaxAgeMs)})`;
        actions.push({ kind: 'remove-workspace', project: project.name, reason, path: project.workspace });
      }
    }
  }

  // Images are the engine's: a berth of workspace projects only has none, and maybe no engine at all.
  const usesEngine = snapshot.projects.some((project) => project.mode === 'container');
  if (usesEngine && (snapshot.lastImagePrune === null || now - snapshot.lastImagePrune >= IMAGE_PRUNE_EVERY_MS)) {
    actions.push({ kind: 'prune-images', reason: snapshot.lastImagePrune === null ? 'never pruned' : 'weekly' });
  }
  return actions;
}

/** Why a running container should be recreated, or undefined. */
function healthProblem(project: ProjectFacts, snapshot: PolicySnapshot): string | undefined {
  const { now, limits } = snapshot;
  const container = project.container!;
  if (project.lastHealthRefresh !== null && now - project.lastHealthRefresh < HEALTH.refreshCooldownMs) return undefined;
  if (container.failingStreak >= HEALTH.failingStreak) return `its healthcheck failed ${container.failingStreak} times in a row`;
  const age = now - Math.min(container.createdAt, now);
  if (age > limits.maxAgeMs) return `${formatSpan(age)} old (policies.maxAge ${formatDuration(limits.maxAgeMs)})`;
  if (container.diskUsedRatio !== undefined && container.diskUsedRatio > HEALTH.diskUsedRatio) {
    return `its workspace disk is ${Math.round(container.diskUsedRatio * 100)}% full`;
  }
  const recent = container.memoryRatios.slice(-HEALTH.memorySamples);
  if (recent.length === HEALTH.memorySamples && recent.every((ratio) => ratio > HEALTH.memoryRatio)) {
    return `memory above ${HEALTH.memoryRatio * 100}% of its limit over ${HEALTH.memorySamples} samples`;
  }
  return undefined;
}

/** Who goes first when one must: the least recently used; a tie by name, so the choice is stable. Busy ones never. */
function evictionOrder(running: readonly ProjectFacts[], now: number): ProjectFacts[] {
  return running
    .filter((project) => !project.busy)
    .sort((a, b) => lastUsed(a, now) - lastUsed(b, now) || a.name.localeCompare(b.name));
}

export interface StartRequest {
  project: string;
  /** The memory limit the container will have. */
  memoryLimit: number;
}

export interface HostMemory {
  total: number;
  /** Free plus reclaimable now, when known: told in a refusal, never a reason for one (limits are caps, not reservations). */
  available?: number;
}

export type StartDecision =
  | { allowed: true; evict: Array<{ project: string; reason: string }> }
  | { allowed: false; reason: string };

/**
 * May `request.project`'s container start? Under the LRU cap it may, after
 * the least recently used others are stopped; over it with every running one
 * busy, it may not. Then the memory check: the running containers' limits
 * (without those evicted) plus this one's must stay within maxCommit% of the
 * host's memory, else the refusal names who holds the most.
 */
export function planStart(snapshot: PolicySnapshot, request: StartRequest, host: HostMemory): StartDecision {
  const { now, limits } = snapshot;
  const others = snapshot.projects.filter((project) => project.name !== request.project && isRunning(project));
  const over = others.length + 1 - limits.maxRunning;
  const evict: Array<{ project: string; reason: string }> = [];
  if (over > 0) {
    const candidates = evictionOrder(others, now);
    if (candidates.length < over) {
      const busy = others.filter((project) => project.busy).map((project) => project.name);
      return {
        allowed: false,
        reason: `cannot start ${request.project}: ${others.length} containers run (policies.maxRunning is ${limits.maxRunning}) and ${busy.join(', ')} ${busy.length === 1 ? 'is' : 'are'} busy; wait for a turn to end or raise policies.maxRunning`,
      };
    }
    for (const project of candidates.slice(0, over)) {
      evict.push({ project: project.name, reason: `making room for ${request.project}: policies.maxRunning is ${limits.maxRunning}, least recently used` });
    }
  }
  const evicted = new Set(evict.map((entry) => entry.project));
  const staying = others.filter((project) => !evicted.has(project.name));
  const committed = staying.reduce((sum, project) => sum + (project.container?.memoryLimit ?? 0), 0) + request.memoryLimit;
  const allowedBytes = (host.total * limits.maxCommitPercent) / 100;
  if (host.total > 0 && committed > allowedBytes) {
    const biggest = [...staying]
      .sort((a, b) => (b.container?.memoryLimit ?? 0) - (a.container?.memoryLimit ?? 0))
      .slice(0, 3)
      .map((project) => `${project.name} ${gib(project.container?.memoryLimit ?? 0)}`);
    return {
      allowed: false,
      reason:
        `cannot start ${request.project}: its ${gib(request.memoryLimit)} would commit ${gib(committed)} of ${gib(allowedBytes)} ` +
        `(policies.maxCommit ${limits.maxCommitPercent}% of ${gib(host.total)}` +
        `${host.available !== undefined ? `, ${gib(host.available)} available now` : ''})` +
        (biggest.length > 0 ? `; the most is held by ${biggest.join(', ')}` : ''),
    };
  }
  return { allowed: true, evict };
}

function gib(bytes: number): string {
  const value = bytes / 1024 ** 3;
  return `${value >= 10 ? value.toFixed(0) : value.toFixed(1)}G`;
}
