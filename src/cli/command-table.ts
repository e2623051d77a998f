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

export interface GlobalOptions {
  /** `--engine URL`: the container engine to talk to. */
  engine?: string;
}

export interface CommandInput {
  /** Positional arguments after the command's words. */
  args: string[];
  options: Record<string, string | boolean | undefined>;
  global: GlobalOptions;
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
const container = async () => import('./container-commands.js');

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
    load: async () => (await import('./project-list-command.js')).listProjects,
  },
  {
    words: ['project', 'show'],
    args: ['<name>'],
    options: { json },
    summary: "a project: its workspace, mode, state, conversation, usage, settings and the tool rules it always allows",
    load: async () => (await import('./project-commands.js')).showProject,
  },
  {
    words: ['project', 'forget-rule'],
    args: ['<name>', '<rule>'],
    options: {},
    summary: 'drop a tool rule kept by "allow always": its calls are asked again',
    load: async () => (await import('./project-commands.js')).forgetRule,
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
    words: ['net'],
    args: ['<name>', '[allow|deny]', '[host]'],
    options: { json },
    summary: "show a project's egress allowlist and the hosts refused lately; allow or deny a host",
    load: async () => (await import('./net-command.js')).net,
  },
  {
    words: ['sweep'],
    args: [],
    options: {
      'dry-run': { type: 'boolean', summary: 'print what the policies would do, and do nothing' },
      apply: { type: 'boolean', summary: 'also remove idle workspaces berth created, after asking (policies.workspaceMaxAge)' },
      yes: { type: 'boolean', summary: 'with --apply: remove them without asking' },
      json,
    },
    summary: 'apply the policies once: idle stop, LRU cap, health refresh, clean-up',
    load: async () => (await import('./policy-commands.js')).sweep,
  },
  {
    words: ['policies'],
    args: [],
    options: { json },
    summary: 'show the policy settings in force',
    load: async () => (await import('./policy-commands.js')).listPolicies,
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
  {
    words: ['config', 'unset'],
    args: ['<key>'],
    options: {},
    summary: 'drop a setting, so its default applies again',
    load: async () => (await import('./config-commands.js')).unsetConfig,
  },
  {
    words: ['daemon', 'status'],
    args: [],
    options: { json },
    summary: "the daemon's pid, version, uptime, clients and sessions",
    load: async () => (await import('./daemon-commands.js')).daemonStatus,
  },
  {
    words: ['daemon', 'stop'],
    args: [],
    options: { force: { type: 'boolean', summary: 'stop even while turns run (they are cancelled and recorded)' } },
    summary: 'stop the daemon (asks first while turns run)',
    load: async () => (await import('./daemon-commands.js')).daemonStop,
  },
  {
    words: ['daemon', 'restart'],
    args: [],
    options: { force: { type: 'boolean', summary: 'restart even while turns run (they are cancelled and recorded)' } },
    summary: 'stop the daemon and start it again',
    load: async () => (await import('./daemon-commands.js')).daemonRestart,
  },
  {
    words: ['daemon'],
    args: [],
    options: {},
    summary: 'run the daemon in the foreground (it owns the agents; any client starts it when none runs)',
    load: async () => (await import('./daemon-commands.js')).runDaemonCommand,
  },
  {
    words: ['chat'],
    args: ['<name>', '[message]'],
    options: {
      json: { type: 'boolean', summary: 'print the events as JSON lines' },
      new: { type: 'boolean', summary: 'start a new conversation (the old transcript is kept)' },
      'no-wait': { type: 'boolean', summary: "fail at once when a turn of the project runs already, instead of waiting for it" },
    },
    summary: "one turn with the project's agent (without a message: one turn per line of stdin)",
    load: async () => (await import('./chat-commands.js')).chat,
  },
  {
    words: ['attach'],
    args: ['<name>'],
    options: {},
    summary: "open the project's conversation in the agent's own TUI (claude --resume), where the agent runs",
    load: async () => (await import('./attach-command.js')).attach,
  },
  {
    words: ['approve'],
    args: ['<name>', '[request-id]'],
    options: {
      always: { type: 'boolean', summary: 'and allow such calls from now on (kept as a rule of the project)' },
      answer: { type: 'string', value: 'TEXT', summary: "answer the agent's question: an option's number, or your own words" },
    },
    summary: "allow what the project's agent asks for (a tool call), or answer its question",
    load: async () => (await import('./request-commands.js')).approve,
  },
  {
    words: ['deny'],
    args: ['<name>', '[request-id]'],
    options: { message: { type: 'string', value: 'TEXT', summary: 'tell the agent why, or what to do instead' } },
    summary: "deny what the project's agent asks for",
    load: async () => (await import('./request-commands.js')).deny,
  },
  {
    words: ['history'],
    args: ['<name>'],
    options: { json: { type: 'boolean', summary: 'print the transcript as JSON lines' } },
    summary: "the project's conversation, from its transcripts",
    load: async () => (await import('./chat-commands.js')).history,
  },
  {
    words: ['diff'],
    args: ['<name>'],
    options: { json },
    summary: "the changes in the project's workspace, as a diff",
    load: async () => (await import('./chat-commands.js')).diff,
  },
  {
    words: ['up'],
    args: ['<name>'],
    options: {},
    summary: "make sure the project's container runs (create or start it)",
    load: async () => (await container()).up,
  },
  {
    words: ['stop'],
    args: ['<name>'],
    options: {},
    summary: "stop the project's container (gracefully)",
    load: async () => (await container()).stop,
  },
  {
    words: ['restart'],
    args: ['<name>'],
    options: {},
    summary: "restart the project's container",
    load: async () => (await container()).restart,
  },
  {
    words: ['refresh'],
    args: ['<name>'],
    options: {},
    summary: "recreate the project's container, keeping its workspace and agent config",
    load: async () => (await container()).refresh,
  },
  {
    words: ['rm-container'],
    args: ['<name>'],
    options: {},
    summary: "remove the project's container (the workspace stays)",
    load: async () => (await container()).removeContainer,
  },
  {
    words: ['shell'],
    args: ['<name>'],
    options: {},
    summary: "an interactive shell in the project's container",
    load: async () => (await container()).shell,
  },
  {
    words: ['exec'],
    args: ['<name>', '--', '<cmd...>'],
    options: {},
    summary: "run a command in the project's workspace or container; its exit code is passed through",
    load: async () => (await container()).exec,
  },
  {
    words: ['ps'],
    args: [],
    options: { json },
    summary: 'the projects with their containers: state, health, CPU%, memory, uptime',
    load: async () => (await container()).ps,
  },
  {
    words: ['stats'],
    args: [],
    options: { json, once: { type: 'boolean', summary: 'print one sample and exit' } },
    summary: 'live CPU, memory, pids, network and block I/O of the running containers',
    load: async () => (await import('./stats-command.js')).stats,
  },
  {
    words: ['logs'],
    args: ['<name>'],
    options: { follow: { type: 'boolean', short: 'f', summary: 'keep printing new output' } },
    summary: "the project container's logs",
    load: async () => (await container()).logs,
  },
  {
    words: ['image', 'build'],
    args: [],
    options: {
      network: { type: 'string', value: 'MODE', summary: 'network of the build, e.g. host where only it reaches the registries' },
      tag: { type: 'string', value: 'IMAGE', summary: 'image to build (default: setting container.image)' },
    },
    summary: 'build the workspace image from docker/, showing progress',
    load: async () => (await container()).buildImage,
  },
];

export function usageOf(command: CommandSpec): string {
  const options = Object.entries(command.options).map(([name, option]) =>
    option.value ? `[--${name} ${option.value}]` : `[--${name}]`,
  );
  return ['berth', ...command.words, ...command.args, ...options].join(' ');
}
