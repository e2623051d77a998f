import { containerName } from '../domain/container.js';
import { visibleText } from '../domain/visible-text.js';
import { createContext, type BerthContext } from '../services/context.js';
import type { CommandHandler, GlobalOptions } from './command-table.js';
import { formatAgo, printJson, printLine } from './output.js';

export const addProject: CommandHandler = async ({ args, options }) => {
  const context = createContext();
  const [name] = args as [string];
  const mode = typeof options.mode === 'string' ? options.mode : String(context.settings().get('defaults.mode'));
  const path = typeof options.path === 'string' ? options.path : undefined;
  const { project, initialisedGit } = await context.projects.add(name, { mode, ...(path !== undefined && { path }) });
  if (initialisedGit) printLine(`initialised a git repository in ${project.path}`);
  printLine(`added project ${project.name} (${project.mode}) at ${project.path}`);
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

export const showProject: CommandHandler = async ({ args, options }) => {
  const [name] = args as [string];
  const project = await createContext().projects.require(name);
  const rules = project.approvalRules ?? [];
  if (options.json) {
    const { path, mode, state, lastActive, createdAt, settings, sessionId, usage } = project;
    printJson({ name, path, mode, state, lastActive, createdAt, settings: settings ?? {}, sessionId: sessionId ?? null, usage: usage ?? null, approvalRules: rules });
    return;
  }
  const rows: Array<[string, string]> = [
    ['path', project.path],
    ['mode', project.mode],
    ['state', project.state],
    ['last active', formatAgo(project.lastActive)],
    ['conversation', project.sessionId ?? 'none yet'],
    ['usage', project.usage ? `${project.usage.turns} turns, $${project.usage.costUsd.toFixed(4)}` : 'none yet'],
    ...Object.entries(project.settings ?? {}).map(([key, value]): [string, string] => [key, String(value)]),
  ];
  printLine(project.name);
  for (const [label, value] of rows) printLine(`  ${label.padEnd(14)} ${visibleText(value, 'line')}`);
  printLine(rules.length === 0 ? '  always allowed: no rules (an "allow always" answer keeps one)' : '  always allowed:');
  for (const rule of rules) printLine(`    ${visibleText(rule, 'line')}`);
};

export const forgetRule: CommandHandler = async ({ args }) => {
  const [name, rule] = args as [string, string];
  await createContext().projects.forgetRule(name, rule);
  printLine(`${name}: ${visibleText(rule, 'line')} is asked again`);
};
