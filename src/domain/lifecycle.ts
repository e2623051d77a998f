import type { ObservedContainer } from './container.js';
import type { Project } from './project.js';
import { settingMs, settingsForProject, type Settings } from './settings.js';

/**
 * The states users see for a project. A workspace-mode project is `ready`
 * (nothing to start); a container-mode project moves through the others.
 */
export const LIFECYCLE_STATES = [
  'ready',
  'none',
  'created',
  'starting',
  'running',
  'healthy',
  'unhealthy',
  'idle',
  'stopped',
  'removed',
] as const;

export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

export function isLifecycleState(value: unknown): value is LifecycleState {
  return typeof value === 'string' && (LIFECYCLE_STATES as readonly string[]).includes(value);
}

/**
 * A project's state, the one way berth computes it (every writer of the
 * registry's `state` and every view uses this): what the engine says of its
 * container (see containerOf) and, while that runs, how long the project has
 * been without activity against the policies.idleTimeout in force for it.
 * `settings` are berth's; the project's own overrides are applied here.
 */
export function projectState(project: Project, container: ObservedContainer | undefined, settings: Settings, now: number): LifecycleState {
  if (project.mode === 'workspace') return 'ready';
  if (!container) return 'none';
  switch (container.status) {
    case 'created':
      return 'created';
    case 'restarting':
      return 'starting';
    case 'exited':
    case 'dead':
    case 'paused':
      return 'stopped';
    case 'removing':
      return 'removed';
    case 'running':
      break;
  }
  if (container.health === 'unhealthy') return 'unhealthy';
  if (container.health === 'starting') return 'starting';
  const idleAfterMs = settingMs(settingsForProject(settings, project.settings), 'policies.idleTimeout')!;
  const since = Date.parse(project.lastActive ?? container.startedAt ?? container.createdAt);
  if (now - since > idleAfterMs) return 'idle';
  return container.health === 'healthy' ? 'healthy' : 'running';
}
