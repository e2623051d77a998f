/**
 * `berth project ls`: the registry alone, read and printed. It is what a user
 * runs most often, so it loads no service (see bench/cli-start.ts).
 */
import { resolvePaths } from '../store/paths.js';
import { ProjectRegistry } from '../store/project-registry.js';
import type { CommandHandler } from './command-table.js';
import { formatAgo, printJson, printLine, printTable } from './output.js';

export const listProjects: CommandHandler = async ({ options }) => {
  const projects = await new ProjectRegistry(resolvePaths().registry).list();
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
