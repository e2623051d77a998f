import type { ObservedContainer } from '../domain/container.js';
import { createContext } from '../services/context.js';
import type { ProjectStatus, StatsSample } from '../services/runtime-service.js';
import type { CommandHandler, CommandInput } from './command-table.js';
import { formatAgo, formatBytes, printJson, printLine, printTable } from './output.js';

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
  const controller = new AbortController();
  const cancel = () => controller.abort();
  // `on`, not `once`: signal-exit re-raises a signal no other listener is left to handle.
  process.on('SIGINT', cancel);
  process.on('SIGTERM', cancel);
  try {
    const outcome = await (await runtimeOf(input)).exec(name, {
      argv,
      signal: controller.signal,
      onStdout: (chunk) => process.stdout.write(chunk),
      onStderr: (chunk) => process.stderr.write(chunk),
    });
    if (outcome.timedOut) process.stderr.write(`berth: ${name}: the command ran out of time and was killed\n`);
    if (outcome.cancelled) return 130;
    return outcome.exitCode ?? 1;
  } finally {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
  }
};

export const logs: CommandHandler = async (input) => {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.on('SIGINT', stop);
  try {
    await (await runtimeOf(input)).logs(input.args[0]!, {
      follow: input.options.follow === true,
      signal: controller.signal,
      onChunk: (text) => process.stdout.write(text),
    });
  } finally {
    process.off('SIGINT', stop);
  }
};

export const ps: CommandHandler = async (input) => {
  const runtime = await runtimeOf(input);
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
