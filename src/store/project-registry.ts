import { checkRule } from '../domain/approvals.js';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { BerthError } from '../domain/errors.js';
import { isLifecycleState } from '../domain/lifecycle.js';
import { PROJECT_NAME_PATTERN, checkProjectName, hasControlCharacters, isIsolationMode, quote, type Project } from '../domain/project.js';
import { checkProjectSettings } from '../domain/settings.js';
import { writing } from './write-error.js';

const FORMAT_VERSION = 1;

interface RegistryFile {
  version: number;
  projects: Project[];
}

/**
 * The registry of projects: one JSON file, written atomically (temporary file
 * then rename), changed under a lock so that the TUI and a CLI command running
 * at once cannot lose each other's changes. A file that does not parse is
 * reported and left exactly as it is: it may hold the only record of a user's
 * projects.
 */
export class ProjectRegistry {
  constructor(readonly file: string) {}

  async list(): Promise<Project[]> {
    return (await this.read()).projects;
  }

  async get(name: string): Promise<Project | undefined> {
    return (await this.list()).find((project) => project.name === name);
  }

  /** Runs `change` on the current projects under the lock, then saves them. */
  async update<T>(change: (projects: Project[]) => T | Promise<T>): Promise<T> {
    // Loaded here, not at import: they bring node:crypto and worker_threads, which reading the registry (`project ls`) never needs.
    const [{ withFileLock }, { default: writeFileAtomic }] = await Promise.all([import('./file-lock.js'), import('write-file-atomic')]);
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    return withFileLock(this.file, async () => {
      const registry = await this.read();
      const result = await change(registry.projects);
      // A failed write (a full disk) leaves the file whole: write-file-atomic renames only a whole new one over it.
      await writing(this.file, () => writeFileAtomic(this.file, `${JSON.stringify(registry, null, 2)}\n`, { mode: 0o600 }));
      return result;
    });
  }

  private async read(): Promise<RegistryFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: FORMAT_VERSION, projects: [] };
      throw error;
    }
    try {
      return parseRegistry(JSON.parse(text));
    } catch (error) {
      throw new BerthError(
        `project registry ${this.file} is corrupted (${(error as Error).message}); berth left it as it is: repair it or move it away`,
      );
    }
  }
}

function parseRegistry(data: unknown): RegistryFile {
  if (!isRecord(data) || !Array.isArray(data.projects)) throw new Error('expected an object with a "projects" array');
  if (data.version !== FORMAT_VERSION) throw new Error(`unknown format version ${JSON.stringify(data.version)}`);
  const seen = new Set<string>();
  const projects = data.projects.map((entry, index) => {
    const project = parseProject(entry, index);
    if (seen.has(project.name)) throw new Error(`project ${project.name} appears twice`);
    seen.add(project.name);
    return project;
  });
  return { version: FORMAT_VERSION, projects };
}

function parseProject(entry: unknown, index: number): Project {
  const where = `projects[${index}]`;
  if (!isRecord(entry)) throw new Error(`${where} is not an object`);
  const { name, path: workspace, mode, ownsWorkspace, createdAt, lastActive, state, settings, approvalRules } = entry;
  if (typeof name !== 'string' || !PROJECT_NAME_PATTERN.test(name)) throw new Error(`${where}.name is invalid`);
  if (typeof workspace !== 'string' || !path.isAbsolute(workspace)) throw new Error(`${where}.path is not an absolute path`);
  // What can be judged without the disk; the rest is checked right before berth acts on the folder.
  if (hasControlCharacters(workspace)) throw new Error(`${where}.path has control characters`);
  if (path.resolve(workspace) !== workspace) throw new Error(`${where}.path is not in normal form (no "..", ".", "//" or trailing "/")`);
  if (workspace === path.parse(workspace).root) throw new Error(`${where}.path is the root folder`);
  if (typeof mode !== 'string' || !isIsolationMode(mode)) throw new Error(`${where}.mode is invalid`);
  if (typeof ownsWorkspace !== 'boolean') throw new Error(`${where}.ownsWorkspace is not a boolean`);
  if (typeof createdAt !== 'string') throw new Error(`${where}.createdAt is not a string`);
  if (lastActive !== null && typeof lastActive !== 'string') throw new Error(`${where}.lastActive is invalid`);
  if (!isLifecycleState(state)) throw new Error(`${where}.state is invalid`);
  if (settings !== undefined) {
    if (!isRecord(settings)) throw new Error(`${where}.settings is not an object`);
    checkProjectSettings(settings);
  }
  if (approvalRules !== undefined) {
    if (!Array.isArray(approvalRules)) throw new Error(`${where}.approvalRules is not a list`);
    approvalRules.forEach((rule, ruleIndex) => {
      try {
        checkRule(typeof rule === 'string' ? rule : '');
      } catch {
        throw new Error(`${where}.approvalRules[${ruleIndex}] is not a tool rule`);
      }
    });
  }
  // Keep fields written by newer versions of berth instead of dropping them.
  return { ...entry, name, path: workspace, mode, ownsWorkspace, createdAt, lastActive, state } as Project;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The project of that name, or a one-line BerthError that says there is none. */
export async function requireProject(registry: ProjectRegistry, name: string): Promise<Project> {
  const project = await registry.get(checkProjectName(name));
  if (!project) throw new BerthError(`no project named ${quote(name)}: see berth project ls`);
  return project;
}
