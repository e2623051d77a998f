import { parseArgs } from 'node:util';
import { BerthError, UsageError } from '../domain/errors.js';
import { visibleText } from '../domain/visible-text.js';
import { COMMANDS, usageOf, type CommandSpec, type GlobalOptions } from './command-table.js';
import { stopOutputWhenClosed, writeOut } from './output.js';
import { readVersion } from './version.js';

/** Runs one berth command line; returns the exit code (0 ok, 1 error, 2 usage). */
export async function main(argv: string[]): Promise<number> {
  stopOutputWhenClosed();
  try {
    return await dispatch(argv);
  } catch (error) {
    return reportError(error);
  }
}

async function dispatch(given: string[]): Promise<number> {
  const { global, argv } = takeGlobalOptions(given);
  const [first] = argv;
  if (first === '--version' || first === '-v') {
    writeOut(`${readVersion()}\n`);
    return 0;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    writeOut(generalHelp());
    return 0;
  }
  if (argv.length === 0) {
    const { openControlCenter } = await import('./tui-command.js');
    return openControlCenter(readVersion(), global);
  }
  const command = findCommand(argv);
  const rest = argv.slice(command.words.length);
  const beforeSeparator = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (beforeSeparator.includes('--help') || beforeSeparator.includes('-h')) {
    writeOut(commandHelp(command));
    return 0;
  }
  const input = parseCommandLine(command, rest);
  const handler = await command.load();
  return (await handler({ ...input, global })) ?? 0;
}

/** Options that come before the command and apply to all of them: `berth --engine URL ps`. */
function takeGlobalOptions(argv: string[]): { global: GlobalOptions; argv: string[] } {
  const global: GlobalOptions = {};
  let index = 0;
  while (argv[index]?.startsWith('--engine')) {
    const token = argv[index]!;
    const value = token.includes('=') ? token.slice(token.indexOf('=') + 1) : argv[++index];
    if (token !== '--engine' && !token.startsWith('--engine=')) break;
    if (!value) throw new UsageError('option --engine needs an engine address, e.g. unix:///run/podman/podman.sock');
    global.engine = value;
    index += 1;
  }
  return { global, argv: argv.slice(index) };
}

function findCommand(argv: string[]): CommandSpec {
  const command = COMMANDS.find((candidate) => candidate.words.every((word, index) => argv[index] === word));
  if (command) return command;
  const group = COMMANDS.filter((candidate) => candidate.words[0] === argv[0]);
  if (group.length > 0) {
    const given = argv[1] === undefined ? 'a subcommand is missing' : `unknown subcommand ${JSON.stringify(argv[1])}`;
    throw new UsageError(`${given}: berth ${argv[0]} ${group.map((candidate) => candidate.words[1]).join('|')}`);
  }
  throw new UsageError(`unknown command ${JSON.stringify(argv[0])}: see berth --help`);
}

function parseCommandLine(command: CommandSpec, rest: string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${describeParseError(error as Error & { code?: string })}: ${usageOf(command)}`);
  }
  const specified = command.args.filter((arg) => arg !== '--');
  const required = specified.filter((arg) => !arg.startsWith('[')).length;
  const variadic = specified.at(-1)?.includes('...') ?? false;
  if (parsed.positionals.length < required || (!variadic && parsed.positionals.length > specified.length)) {
    throw new UsageError(`usage: ${usageOf(command)}`);
  }
  return { args: parsed.positionals, options: parsed.values as Record<string, string | boolean | undefined> };
}

/** node:util's messages run to several sentences; the user needs the option's name. */
function describeParseError(error: Error & { code?: string }): string {
  const option = /'(-[^']*)'/.exec(error.message)?.[1];
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option ${option}`;
  if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) return `option ${option.split(' ')[0]} needs a value`;
  return error.message.split('\n')[0] ?? error.message;
}

function generalHelp(): string {
  const rows = COMMANDS.map((command) => [usageOf(command).replace(/^berth /, ''), command.summary] as const);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    `berth ${readVersion()}: a berth per project for a coding agent, a workspace or a hardened container`,
    '',
    'Usage: berth                  open the control center (full screen)',
    '       berth <command> [options]',
    '',
    'Commands:',
    ...rows.map(([left, summary]) => `  ${left.padEnd(width)}${summary}`),
    '',
    'Options:',
    '  --engine URL     the container engine: unix:///…, tcp://host:port, ssh://user@host',
    '                   (default: setting engine, then DOCKER_HOST, then the local Docker socket)',
    '  -h, --help       help, also after a command: berth project add --help',
    '  -v, --version    print the version',
    '',
    'Data lives under $BERTH_HOME, or the XDG data folder (~/.local/share/berth).',
    '',
  ].join('\n');
}

function commandHelp(command: CommandSpec): string {
  const options = Object.entries(command.options).map(([name, option]) => {
    const left = `--${name}${option.value ? ` ${option.value}` : ''}`;
    return `  ${left.padEnd(30)}${option.summary}`;
  });
  return [`Usage: ${usageOf(command)}`, '', `${command.summary}.`, ...(options.length ? ['', 'Options:', ...options] : []), ''].join(
    '\n',
  );
}


function reportError(error: unknown): number {
  if (error instanceof BerthError) {
    process.stderr.write(`berth: ${oneLine(error.message)}\n`);
    return error.exitCode;
  }
  // A bug, not a user's mistake: still one line, the stack only on request.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`berth: unexpected error: ${oneLine(message)}\n`);
  if (process.env.BERTH_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 1;
}

/** Messages carry outside text (a file name, an engine's words): its controls are shown, not run. */
function oneLine(text: string): string {
  return visibleText(text.replace(/\s*\n\s*/g, ' ').trim(), 'line');
}
