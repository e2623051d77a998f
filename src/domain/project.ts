import path from 'node:path';
import { BerthError } from './errors.js';
import type { LifecycleState } from './lifecycle.js';
import type { ProjectUsage } from './chat.js';
import type { ProjectSettings } from './settings.js';
import type { WorkClaim } from './work.js';

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
  /** Written by berth before claims (`work`): a turn, shell or exec ran in it in the berth process `pid`. */
  busy?: { pid: number; since: string } | null;
  /** The turns, execs and shells running in it now, in any berth process (see domain/work). */
  work?: WorkClaim[];
  /** Tool rules the user chose "allow always" for: calls they allow are not asked again (see domain/approvals). */
  approvalRules?: string[];
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

/** Where berth creates the workspaces of projects added without --path. */
export function workspacesFolderOf(berthHome: string): string {
  return path.join(berthHome, 'workspaces');
}

// eslint-disable-next-line no-control-regex -- C0, DEL and C1: what a terminal acts on
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/** A newline, an escape, a NUL...: never in a path berth keeps or prints. */
export function hasControlCharacters(text: string): boolean {
  return CONTROL_CHARACTERS.test(text);
}

/**
 * The system's folders, each with everything inside it: never a workspace,
 * where an agent would change the system (or reach a socket in /run, Docker's).
 * /bin, /lib and /sbin are links into /usr on most systems now, but folders on others.
 */
const SYSTEM_TREES = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/run', '/sbin', '/sys', '/usr', '/Library', '/System'];

/**
 * Folders that hold other folders: never a workspace themselves (git init
 * there would put every folder inside into one repository), though one inside
 * may be. /tmp and /var/tmp are where temporary folders live, and /var/lib
 * where services keep theirs (a CI's checkouts, say).
 */
const SHARED_FOLDERS = ['/home', '/media', '/mnt', '/opt', '/root', '/srv', '/tmp', '/var', '/var/lib', '/var/tmp', '/Users', '/Volumes', '/private', '/private/tmp', '/private/var'];

export interface WorkspacePlaces {
  /** The user's home, links resolved: not a workspace itself. */
  userHome: string;
  /** berth's own folders, links resolved: none of them, nothing inside them, nothing holding them is a workspace. */
  berthFolders: ReadonlyArray<{ folder: string; what: string }>;
}

/**
 * Why the folder at `real` (its links resolved, so that /bin is judged as
 * /usr/bin) may not be a workspace, in words that start with it; undefined
 * when it may be one.
 */
export function workspacePlaceProblem(real: string, places: WorkspacePlaces): string | undefined {
  if (hasControlCharacters(real)) return 'the path has control characters';
  if (real === path.parse(real).root) return `${real} is the root folder`;
  const tree = SYSTEM_TREES.find((top) => isWithin(real, top));
  if (tree) return real === tree ? `${real} is a system folder` : `${real} is inside ${tree}, a system folder`;
  if (real === places.userHome) return `${real} is your home folder (a folder inside it may be a workspace)`;
  if (SHARED_FOLDERS.includes(real)) return `${real} is a system folder (a folder inside it may be a workspace)`;
  for (const { folder, what } of places.berthFolders) {
    if (real === folder) return `${real} is ${what}`;
    if (isWithin(real, folder)) return `${real} is inside ${what} ${folder}`;
    // The agent could change berth's registry and settings from inside its workspace.
    if (isWithin(folder, real)) return `${real} holds ${what} ${folder}`;
  }
  return undefined;
}

function isWithin(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(path.sep) ? outer : outer + path.sep);
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
