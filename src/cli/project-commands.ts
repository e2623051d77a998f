import { containerName } from '../domain/container.js';
import { createContext, type BerthContext } from '../services/context.js';
import type { CommandHandler, GlobalOptions } from './command-table.js';
import { formatAgo, printJson, printLine, printTable } from './output.js';

export const addProject: CommandHandler = async ({ args, options }) => {
  const context = createContext();
  const [name] = args as [string];
  const mode = typeof options.mode === 'string' ? options.mode : String(context.settings().get('defaults.mode'));
  const path = typeof options.path === 'string' ? options.path : undefined;
  const { project, initialisedGit } = await context.projects.add(name, { mode, ...(path !== undefined && { path }) });
  if (initialisedGit) printLine(`initialised a git repository in ${project.path}`);
  printLine(`added project ${project.name} (${project.mode}) at ${project.path}`);
};

export const listProjects: CommandHandler = async ({ options }) => {
  const projects = await createContext().projects.list();
  if (options.json) {
    printJson(
      projects.map(({ name, path, mode, state, lastActive, createdAt, settings }) => ({ name, path, mode, state, lastActive, createdAt, settings: settings ?? {} })),
    );
    return;
  }
  if (projects.length === 0) {
    printLine('no projects yet: add one with berth project add <name>');
    return;
  }
  printTable(
    ['NAME', 'MODE', 'STATE', 'LAST ACTIVE', 'PATH'],
    projects.map((project) => [project.name, project.mode, project.state, formatAgo(project.lastActive), project.path]),
  );
};

export const removeProject: CommandHandler = async ({ args, options, global }) => {
  const [name] = args as [string];
  const context = createContext();
  const existing = await context.projects.require(name);
  // Its container (and network) would otherwise live on with no project to answer for it.
  if (existing.mode === 'container') await removeContainerOf(context, name, containerName(existing), global);
  // What a berth killed mid-turn left running on the host goes before the project does (in a container, with it).
  else if (existing.work?.length) await (await context.runtime(global)).claims().recover(name);
  const { project, purgedWorkspace } = await context.projects.remove(name, { purge: options.purge === true });
  printLine(`removed project ${project.name}`);
  if (purgedWorkspace) printLine(`deleted its workspace ${purgedWorkspace}`);
  else if (options.purge) printLine(`kept ${project.path}: berth did not create it`);
};

/** A container that cannot be removed now (no engine) does not keep the project: berth says how to remove it later. */
async function removeContainerOf(context: BerthContext, name: string, container: string, global: GlobalOptions): Promise<void> {
  const runtime = await context.runtime(global);
  try {
    await runtime.removeContainer(name, 'project removed');
  } catch (error) {
    process.stderr.write(`berth: container ${container} was not removed (${(error as Error).message.split('\n')[0]}): docker rm -f ${container} removes it\n`);
  } finally {
    await runtime.close();
  }
}

export const setProject: CommandHandler = async ({ args }) => {
  const [name, key, value] = args as [string, string, string];
  const projects = createContext().projects;
  if (key === 'mode') {
    const project = await projects.setMode(name, value);
    printLine(`project ${project.name} now runs in ${project.mode} mode`);
    return;
  }
  const project = await projects.setSetting(name, key, value);
  printLine(`${project.name}: ${key} = ${String(project.settings?.[key as keyof typeof project.settings])}`);
};

export const unsetProject: CommandHandler = async ({ args }) => {
  const [name, key] = args as [string, string];
  const project = await createContext().projects.unsetSetting(name, key);
  printLine(`${project.name}: ${key} follows berth's setting again`);
};
