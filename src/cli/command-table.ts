/**
 * Every subcommand: its words, its arguments, its options and a one-line
 * summary, from which `--help` is written. Handlers are loaded only when their
 * command runs, so `--help` and `--version` import nothing heavy.
 */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in help, e.g. `DIR`. */
  value?: string;
  summary: string;
}

export interface CommandInput {
  /** Positional arguments after the command's words. */
  args: string[];
  options: Record<string, string | boolean | undefined>;
}

export type CommandHandler = (input: CommandInput) => Promise<number | void>;

export interface CommandSpec {
  words: string[];
  /** Positional arguments, e.g. `<name>`; `[x]` marks an optional one. */
  args: string[];
  options: Record<string, OptionSpec>;
  summary: string;
  load: () => Promise<CommandHandler>;
}

const json: OptionSpec = { type: 'boolean', summary: 'print JSON on stdout, nothing else' };

export const COMMANDS: CommandSpec[] = [
  {
    words: ['project', 'add'],
    args: ['<name>'],
    options: {
      path: { type: 'string', value: 'DIR', summary: 'use this existing folder as the workspace (git init if needed)' },
      mode: { type: 'string', value: 'workspace|container', summary: 'where the agent runs (default: setting defaults.mode)' },
    },
    summary: 'add a project',
    load: async () => (await import('./project-commands.js')).addProject,
  },
  {
    words: ['project', 'ls'],
    args: [],
    options: { json },
    summary: 'list projects',
    load: async () => (await import('./project-commands.js')).listProjects,
  },
  {
    words: ['project', 'rm'],
    args: ['<name>'],
    options: { purge: { type: 'boolean', summary: 'also delete the workspace, if berth created it' } },
    summary: 'remove a project (--purge deletes a workspace berth created)',
    load: async () => (await import('./project-commands.js')).removeProject,
  },
  {
    words: ['project', 'set'],
    args: ['<name>', '<mode|key>', '<value>'],
    options: {},
    summary: "change a project's mode (workspace|container) or override a setting for it",
    load: async () => (await import('./project-commands.js')).setProject,
  },
  {
    words: ['project', 'unset'],
    args: ['<name>', '<key>'],
    options: {},
    summary: "drop a project's override of a setting",
    load: async () => (await import('./project-commands.js')).unsetProject,
  },
  {
    words: ['config', 'list'],
    args: [],
    options: { json },
    summary: 'list settings with their values and defaults',
    load: async () => (await import('./config-commands.js')).listConfig,
  },
  {
    words: ['config', 'get'],
    args: ['<key>'],
    options: { json },
    summary: "print a setting's value",
    load: async () => (await import('./config-commands.js')).getConfig,
  },
  {
    words: ['config', 'set'],
    args: ['<key>', '<value>'],
    options: {},
    summary: 'change a setting (durations as 30s, 15m, 2h, 7d)',
    load: async () => (await import('./config-commands.js')).setConfig,
  },
];

export function usageOf(command: CommandSpec): string {
  const options = Object.entries(command.options).map(([name, option]) =>
    option.value ? `[--${name} ${option.value}]` : `[--${name}]`,
  );
  return ['berth', ...command.words, ...command.args, ...options].join(' ');
}
