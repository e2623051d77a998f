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
