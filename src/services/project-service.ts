import { checkRule } from '../domain/approvals.js';
import { mkdir, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { BerthError } from '../domain/errors.js';
import {
  checkIsolationMode,
  checkProjectName,
  hasControlCharacters,
  initialState,
  quote,
  type Project,
} from '../domain/project.js';
import { checkProjectSettingKey, parseSettingText } from '../domain/settings.js';
import { isBerthWorkspace, workspaceProblem } from '../runtime/workspace-guard.js';
import type { AuditLog } from '../store/audit-log.js';
import type { BerthPaths } from '../store/paths.js';
import { requireProject, type ProjectRegistry } from '../store/project-registry.js';

/** The fields berth keeps up to date as it runs a project. */
export type ProjectRecord = Partial<Pick<Project, 'state' | 'lastActive' | 'sessionId' | 'usage' | 'busy' | 'work'>>;

export interface AddProjectOptions {
  /** An existing folder to use as the workspace; without it berth creates one. */
  path?: string;
  mode: string;
}

export interface AddedProject {
  project: Project;
  /** True when berth ran `git init` in a folder that was not a repository. */
  initialisedGit: boolean;
}

export interface RemovedProject {
  project: Project;
  /** The workspace folder deleted by --purge, if any. */
  purgedWorkspace?: string;
}

/**
 * Adds, lists, changes and removes projects. Every refusal happens before
 * anything is written, so a bad request changes nothing.
 */
export class ProjectService {
  constructor(
    private readonly paths: BerthPaths,
    /** Also for the services that keep their own fields of a project under its lock (work claims, the reconciler's states). */
    readonly registry: ProjectRegistry,
    private readonly audit: AuditLog,
    private readonly now: () => Date = () => new Date(),
  ) {}

  list(): Promise<Project[]> {
    return this.registry.list();
  }

  require(name: string): Promise<Project> {
    return requireProject(this.registry, name);
  }

  async add(name: string, options: AddProjectOptions): Promise<AddedProject> {
    checkProjectName(name);
    const mode = checkIsolationMode(options.mode);
    const existingPath = options.path === undefined ? undefined : await this.checkExistingFolder(options.path, name);
    await mkdir(this.paths.transcripts, { recursive: true, mode: 0o700 });
    const added = await this.registry.update(async (projects) => {
      if (projects.some((project) => project.name === name)) throw new BerthError(`a project named ${name} exists already`);
      const workspace = existingPath ?? path.join(this.paths.workspaces, name);
      const owner = projects.find((project) => project.path === workspace);
      if (owner) throw new BerthError(`${workspace} is the workspace of project ${owner.name} already`);
      const initialisedGit = existingPath ? await ensureRepository(existingPath) : await this.createWorkspace(workspace);
      const project: Project = {
        name,
        path: workspace,
        mode,
        ownsWorkspace: existingPath === undefined,
        createdAt: this.now().toISOString(),
        lastActive: null,
        state: initialState(mode),
      };
      projects.push(project);
      return { project, initialisedGit: existingPath !== undefined && initialisedGit };
    });
    await this.audit.append({ project: name, action: 'add', reason: 'project added', mode, path: added.project.path });
    return added;
  }

  async setMode(name: string, modeText: string): Promise<Project> {
    checkProjectName(name);
    const mode = checkIsolationMode(modeText);
    const { project, previous } = await this.registry.update((projects) => {
      const found = projects.find((candidate) => candidate.name === name);
      if (!found) throw new BerthError(`no project named ${quote(name)}: see berth project ls`);
      const before = found.mode;
      if (before !== mode) Object.assign(found, { mode, state: initialState(mode) });
      return { project: { ...found }, previous: before };
    });
    if (previous !== mode) {
      await this.audit.append({ project: name, action: 'mode', reason: `mode ${previous} → ${mode}`, from: previous, to: mode });
    }
    return project;
  }

  /** Overrides one setting for this project, validated against the same schema as berth's settings. */
  async setSetting(name: string, key: string, text: string): Promise<Project> {
    checkProjectName(name);
    const known = checkProjectSettingKey(key);
    const value = parseSettingText(known, text);
    const project = await this.changeProject(name, (found) => {
      found.settings = { ...found.settings, [known]: value };
    });
    await this.audit.append({ project: name, action: 'setting', reason: `${known} = ${String(value)}`, key: known, value });
    return project;
  }

  /** Drops a project's override, so berth's setting applies again. */
  async unsetSetting(name: string, key: string): Promise<Project> {
    checkProjectName(name);
    const known = checkProjectSettingKey(key);
    const project = await this.changeProject(name, (found) => {
      if (!found.settings) return;
      delete found.settings[known];
      if (Object.keys(found.settings).length === 0) delete found.settings;
    });
    await this.audit.append({ project: name, action: 'setting', reason: `${known} reset to berth's setting`, key: known });
    return project;
  }

  /** Keeps an "allow always" rule for the project: the calls it allows are not asked again. */
  async keepRule(name: string, rule: string, by: string): Promise<Project> {
    const kept = checkRule(rule);
    const project = await this.changeProject(name, (found) => {
      if (!(found.approvalRules ?? []).includes(kept)) found.approvalRules = [...(found.approvalRules ?? []), kept];
    });
    await this.audit.append({ project: name, action: 'rule-kept', reason: `always allowed: ${kept}`, rule: kept, by });
    return project;
  }

  /** Drops a kept rule: its calls are asked again. */
  async forgetRule(name: string, rule: string): Promise<Project> {
    checkProjectName(name);
    const forgotten = checkRule(rule);
    const project = await this.changeProject(name, (found) => {
      if (!(found.approvalRules ?? []).includes(forgotten)) {
        throw new BerthError(`${quote(name)} keeps no rule ${quote(forgotten)}: berth project show ${name} lists its rules`);
      }
      found.approvalRules = found.approvalRules!.filter((kept) => kept !== forgotten);
      if (found.approvalRules.length === 0) delete found.approvalRules;
    });
    await this.audit.append({ project: name, action: 'rule-forgotten', reason: `no longer always allowed: ${forgotten}`, rule: forgotten });
    return project;
  }

  /**
   * Records what berth learnt of a project: its state, last activity, the
   * agent's session, its usage. A function sees the current project under the
   * registry's lock, so that two berth processes cannot lose each other's usage.
   */
  async record(name: string, change: ProjectRecord | ((project: Project) => ProjectRecord)): Promise<Project> {
    return this.changeProject(name, (found) => void Object.assign(found, typeof change === 'function' ? change({ ...found }) : change));
  }

  private changeProject(name: string, change: (project: Project) => void): Promise<Project> {
    return this.registry.update((projects) => {
      const found = projects.find((candidate) => candidate.name === name);
      if (!found) throw new BerthError(`no project named ${quote(name)}: see berth project ls`);
      change(found);
      return { ...found };
    });
  }

  async remove(name: string, options: { purge: boolean }): Promise<RemovedProject> {
    checkProjectName(name);
    const project = await this.registry.update((projects) => {
      const index = projects.findIndex((candidate) => candidate.name === name);
      if (index < 0) throw new BerthError(`no project named ${quote(name)}: see berth project ls`);
      return projects.splice(index, 1)[0]!;
    });
    await this.audit.append({ project: name, action: 'remove', reason: 'project removed', path: project.path });
    if (!options.purge) return { project };
    await rm(path.join(this.paths.transcripts, name), { recursive: true, force: true });
    // Checked now, not when it was added: the registry may have been edited by hand since.
    if (!project.ownsWorkspace || !(await isBerthWorkspace(project.path, project.name, this.paths.home))) return { project };
    await rm(project.path, { recursive: true, force: true });
    await this.audit.append({ project: name, action: 'purge', reason: 'workspace deleted by --purge', path: project.path });
    return { project, purgedWorkspace: project.path };
  }

  /** The real path of `given`, an existing folder that may be project `name`'s workspace; a one-line refusal otherwise. */
  private async checkExistingFolder(given: string, name: string): Promise<string> {
    if (given.trim() === '' || hasControlCharacters(given)) throw new BerthError(`invalid path ${quote(given)}`);
    let resolved: string;
    try {
      resolved = await realpath(path.resolve(given));
    } catch {
      throw new BerthError(`no folder at ${quote(given)}: --path takes an existing folder`);
    }
    if (!(await stat(resolved)).isDirectory()) throw new BerthError(`${quote(given)} is not a folder`);
    const problem = await workspaceProblem(resolved, name, this.paths);
    if (problem) throw new BerthError(`${quote(given)} cannot be a workspace: ${problem}`);
    return resolved;
  }

  private async createWorkspace(workspace: string): Promise<boolean> {
    await mkdir(path.dirname(workspace), { recursive: true, mode: 0o700 });
    try {
      await mkdir(workspace);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      throw new BerthError(`${workspace} exists already: add it with --path, or move it away`);
    }
    try {
      await (await git()).gitInit(workspace);
    } catch (error) {
      await rm(workspace, { recursive: true, force: true });
      throw error;
    }
    return true;
  }
}

/** Makes `folder` the top of a git repository unless it is one; true when it ran git init. */
async function ensureRepository(folder: string): Promise<boolean> {
  const { gitInit, gitTopLevel } = await git();
  const top = await gitTopLevel(folder);
  if (top !== undefined && (await realpath(top)) === folder) return false;
  await gitInit(folder);
  return true;
}

/** git (through execa) is loaded by the commands that add a project, not by every reader of the registry (the TUI's start). */
const git = () => import('../runtime/git.js');
