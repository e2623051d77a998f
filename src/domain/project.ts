import { BerthError } from './errors.js';
import type { LifecycleState } from './lifecycle.js';
import type { ProjectUsage } from './chat.js';
import type { ProjectSettings } from './settings.js';

export const ISOLATION_MODES = ['workspace', 'container'] as const;
export type IsolationMode = (typeof ISOLATION_MODES)[number];

export interface Project {
  name: string;
  /** Absolute path of the workspace on the host: a git repository. */
  path: string;
  mode: IsolationMode;
  /** True when berth created the workspace, so that `rm --purge` may delete it. */
  ownsWorkspace: boolean;
  createdAt: string;
  /** ISO time of the last turn, shell or exec; null until the first one. */
  lastActive: string | null;
  /** Last state berth knew of; the engine is the truth for containers. */
  state: LifecycleState;
  /** Settings this project overrides (container limits, the agent's model, ...). */
  settings?: ProjectSettings;
  /** The agent CLI's session id, so that the next turn (after a restart of berth too) continues the conversation. */
  sessionId?: string | null;
  /** Usage added up over the project's turns. */
  usage?: ProjectUsage;
  /** A turn, shell or exec runs in it now, in the berth process `pid`: policies leave it alone. */
  busy?: { pid: number; since: string } | null;
}

/**
 * Lower-case letters and digits, then also `.`, `_` and `-`, 63 characters at
 * most: safe in a container name, a Docker label, a file name and a shell word.
 */
export const PROJECT_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function checkProjectName(name: string): string {
  if (PROJECT_NAME_PATTERN.test(name)) return name;
  throw new BerthError(`invalid project name ${quote(name)}: ${whyNameIsInvalid(name)}`);
}

function whyNameIsInvalid(name: string): string {
  if (name.length === 0) return 'it is empty';
  if (name.length > 63) return `it has ${name.length} characters, 63 at most`;
  if (!/^[a-z0-9]/.test(name)) return 'it must start with a lower-case letter or a digit';
  return 'use only lower-case letters, digits, ".", "_" and "-"';
}

export function isIsolationMode(value: string): value is IsolationMode {
  return (ISOLATION_MODES as readonly string[]).includes(value);
}

export function checkIsolationMode(value: string): IsolationMode {
  if (isIsolationMode(value)) return value;
  throw new BerthError(`invalid mode ${quote(value)}: use ${ISOLATION_MODES.join(' or ')}`);
}

/** The state a project starts in: a workspace is ready at once, a container is created lazily. */
export function initialState(mode: IsolationMode): LifecycleState {
  return mode === 'workspace' ? 'ready' : 'none';
}

/**
 * Quotes user input for an error message so that control characters, and
 * anything very long, cannot garble the one-line message.
 */
export function quote(value: string, max = 80): string {
  const shown = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(shown);
}
