/**
 * The checks of a path berth is about to act on (chown, rm, mount, git init),
 * made right before each act: the registry and the pool's adoptions are
 * files, and may have been edited by hand since the path was entered.
 */
import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { hasControlCharacters, PROJECT_NAME_PATTERN, workspacePlaceProblem, workspacesFolderOf } from '../domain/project.js';

/** berth's own folders: its data folder, and its settings folder when that is apart. */
export interface BerthFolders {
  home: string;
  settingsDir?: string;
}

/**
 * Whether `workspace` is the folder berth created for project `name`, and so
 * one berth may hand to the agent or delete: resolved, exactly
 * `<home>/workspaces/<name>`, a folder itself (not a link), and no mount
 * point (a bind mount of another tree there would be that tree).
 */
export async function isBerthWorkspace(workspace: string, name: string, berthHome: string): Promise<boolean> {
  if (!PROJECT_NAME_PATTERN.test(name) || hasControlCharacters(workspace)) return false;
  const info = await lstat(workspace).catch(() => undefined);
  if (!info?.isDirectory()) return false;
  const real = await realpath(workspace);
  return real === path.join(workspacesFolderOf(await resolvedPath(berthHome)), name) && !(await isMountPoint(real));
}

/**
 * Why the existing folder `workspace` may not be project `name`'s workspace,
 * or undefined: the folder berth created for it may be, and so may a folder
 * in none of the system's folders nor berth's (see workspacePlaceProblem).
 */
export async function workspaceProblem(workspace: string, name: string, berth: BerthFolders): Promise<string | undefined> {
  if (hasControlCharacters(workspace)) return 'the path has control characters';
  if (await isBerthWorkspace(workspace, name, berth.home)) return undefined;
  return placeProblem(await realpath(workspace), berth);
}

/**
 * Why the folder at `real` (resolved) may not be a workspace, or undefined.
 * Without berth's folders, only the system's and the user's home count: the
 * guard of acts (git init) that berth's own workspaces go through too.
 */
export async function placeProblem(real: string, berth?: BerthFolders): Promise<string | undefined> {
  const berthFolders: Array<{ folder: string; what: string }> = [];
  if (berth) {
    berthFolders.push({ folder: await resolvedPath(berth.home), what: "berth's data folder" });
    if (berth.settingsDir !== undefined && berth.settingsDir !== berth.home) {
      berthFolders.push({ folder: await resolvedPath(berth.settingsDir), what: "berth's settings folder" });
    }
  }
  return workspacePlaceProblem(real, { userHome: await resolvedPath(homedir()), berthFolders });
}

/** Whether a file system is mounted at `folder` (a bind mount included), as /proc/self/mountinfo or the device numbers say. */
export async function isMountPoint(folder: string): Promise<boolean> {
  const real = await realpath(folder).catch(() => undefined);
  if (!real) return false;
  const [own, parent] = await Promise.all([stat(real), stat(path.dirname(real))]);
  if (own.dev !== parent.dev) return true;
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  // Field 5 is the mount point, with spaces, tabs, newlines and backslashes escaped as octal.
  return mountinfo.split('\n').some((line) => line.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))) === real);
}

/** `file` with its links resolved, as far as it exists: berth's folders may not be made yet. */
async function resolvedPath(file: string): Promise<string> {
  const absolute = path.resolve(file);
  try {
    return await realpath(absolute);
  } catch {
    const parent = path.dirname(absolute);
    return parent === absolute ? absolute : path.join(await resolvedPath(parent), path.basename(absolute));
  }
}
