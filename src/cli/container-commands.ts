import type { ObservedContainer } from '../domain/container.js';
import { visibleText } from '../domain/visible-text.js';
import { describeAbandoned } from '../domain/work.js';
import { createContext } from '../services/context.js';
import type { ProjectStatus, StatsSample } from '../services/runtime-service.js';
import type { CommandHandler, CommandInput } from './command-table.js';
import { stopOnSignals } from './signals.js';
import { formatAgo, formatBytes, outputClosed, printJson, printLine, printTable, writeOut } from './output.js';

const runtimeOf = (input: CommandInput) => createContext().runtime(input.global);

const progress = (step: string) => process.stderr.write(`${step}\n`);

export const up: CommandHandler = async (input) => {
  const container = await (await runtimeOf(input)).up(input.args[0]!, progress);
  printLine(describe(input.args[0]!, container));
};

export const stop: CommandHandler = async (input) => {
  const container = await (await runtimeOf(input)).stop(input.args[0]!);
  printLine(describe(input.args[0]!, container));
};

export const restart: CommandHandler = async (input) => {
  const container = await (await runtimeOf(input)).restart(input.args[0]!);
  printLine(describe(input.args[0]!, container));
};

export const refresh: CommandHandler = async (input) => {
  const container = await (await runtimeOf(input)).refresh(input.args[0]!, progress);
  printLine(describe(input.args[0]!, container));
};

export const removeContainer: CommandHandler = async (input) => {
  await (await runtimeOf(input)).removeContainer(input.args[0]!);
  printLine(`${input.args[0]}: container removed; the workspace stays`);
};

export const shell: CommandHandler = async (input) => (await runtimeOf(input)).shell(input.args[0]!);

export const exec: CommandHandler = async (input) => {
  const [name, ...argv] = input.args as [string, ...string[]];
  // Ctrl-C, SIGTERM, SIGHUP: the command and all it started are killed, then berth exits with the signal's code.
  const stop = stopOnSignals();
  const controller = new AbortController();
  const cancel = () => controller.abort();
  stop.signal.addEventListener('abort', cancel);
  // As a pipe's writer gets SIGPIPE: the command ends when no one reads its output (`| head`).
  outputClosed().addEventListener('abort', cancel);
  try {
    const outcome = await (await runtimeOf(input)).exec(name, {
      argv,
      signal: controller.signal,
      onStdout: writeOut,
      onStderr: (chunk) => process.stderr.write(chunk),
    });
    if (outcome.timedOut) process.stderr.write(`berth: ${name}: the command ran out of time and was killed\n`);
    // 141 as a shell reports a writer ended by SIGPIPE.
    if (outcome.cancelled) return stop.exitCode() ?? (outputClosed().aborted ? 141 : 130);
    return outcome.exitCode ?? 1;
  } finally {
    stop.dispose();
    outputClosed().removeEventListener('abort', cancel);
  }
};

export const logs: CommandHandler = async (input) => {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.on('SIGINT', stop);
  // Following stops when no one reads any more (`| head`).
  outputClosed().addEventListener('abort', stop);
  try {
    await (await runtimeOf(input)).logs(input.args[0]!, {
      follow: input.options.follow === true,
      signal: controller.signal,
      // A container's output is shown, never run by the terminal (a clipboard write, a screen clear).
      onChunk: (text) => writeOut(visibleText(text)),
    });
  } finally {
    process.off('SIGINT', stop);
    outputClosed().removeEventListener('abort', stop);
  }
};

export const ps: CommandHandler = async (input) => {
  const runtime = await runtimeOf(input);
  // What a berth killed mid-turn left running is ended here too: ps looks at every project.
  for (const { project, claim, reason } of await runtime.claims().recoverAll()) {
    process.stderr.write(`berth: ${project}: ${describeAbandoned(claim)}, left processes that could not be ended (${reason})\n`);
  }
  const statuses = await runtime.statuses();
  const usage = await runtime.sampleUsage(statuses.flatMap((status) => (status.container ? [status.container] : [])));
  const rows = statuses.map((status) => psRow(status, usage.get(status.container?.id ?? '')));
  if (input.options.json) {
    printJson(rows);
    return;
  }
  if (rows.length === 0) {
    printLine('no projects yet: add one with berth project add <name>');
    return;
  }
  printTable(
    ['PROJECT', 'MODE', 'CONTAINER', 'STATE', 'HEALTH', 'CPU%', 'MEMORY', 'UPTIME'],
    rows.map((row) => [
      row.project,
      row.mode,
      row.containerId ?? '-',
      row.state,
      row.health ?? '-',
      row.cpuPercent === null ? '-' : row.cpuPercent.toFixed(1),
      row.memoryUsed === null ? '-' : `${formatBytes(row.memoryUsed)} / ${formatBytes(row.memoryLimit ?? 0)}`,
      row.startedAt === null ? '-' : formatAgo(row.startedAt).replace(/ ago$/, ''),
    ]),
  );
};

/** One row of `berth ps --json`: a format other tools read. */
export interface PsRow {
  project: string;
  mode: string;
  containerId: string | null;
  state: string;
  health: string | null;
  cpuPercent: number | null;
  memoryUsed: number | null;
  memoryLimit: number | null;
  /** When the running container started; null when none runs. */
  startedAt: string | null;
}

function psRow(status: ProjectStatus, usage: StatsSample | undefined): PsRow {
  const { project, container, state } = status;
  const running = container?.status === 'running';
  return {
    project: project.name,
    mode: project.mode,
    containerId: container ? container.id.slice(0, 12) : null,
    state,
    health: container && container.health !== 'none' ? container.health : null,
    cpuPercent: usage?.cpuPercent ?? null,
    memoryUsed: usage?.memoryUsed ?? null,
    memoryLimit: usage?.memoryLimit ?? container?.limits.memoryBytes ?? null,
    startedAt: running ? container.startedAt : null,
  };
}

export const buildImage: CommandHandler = async (input) => {
  const tag = await (await runtimeOf(input)).buildImage({
    ...(typeof input.options.tag === 'string' && { tag: input.options.tag }),
    ...(typeof input.options.network === 'string' && { network: input.options.network }),
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  printLine(`built ${tag}`);
};

function describe(name: string, container: ObservedContainer | undefined): string {
  if (!container) return `${name}: no container`;
  const health = container.health === 'none' ? '' : `, ${container.health}`;
  return `${name}: ${container.status}${health} (${container.name}, ${container.id.slice(0, 12)})`;
}
