import { createContext } from '../services/context.js';
import type { ProjectStats, StatsSnapshot } from '../services/runtime-service.js';
import type { CommandHandler } from './command-table.js';
import { formatBytes, outputClosed, printJson, printLine, printTable } from './output.js';

/** `berth stats`: a table redrawn every round until Ctrl-C; `--once` one sample; `--json` JSON (lines when live). */
export const stats: CommandHandler = async (input) => {
  const runtime = await createContext().runtime(input.global);
  if (input.options.once) {
    const statuses = await runtime.statuses();
    const usage = await runtime.sampleUsage(statuses.flatMap((status) => (status.container ? [status.container] : [])));
    const rows = statuses.flatMap((status) => {
      const latest = status.container ? usage.get(status.container.id) : undefined;
      return latest ? [{ project: status.project.name, ...latest }] : [];
    });
    if (input.options.json) printJson(rows);
    else printStatsTable(rows);
    return;
  }
  const sampler = runtime.statsSampler({ onError: (error) => process.stderr.write(`berth: ${(error as Error).message}\n`) });
  const live = process.stdout.isTTY && !input.options.json;
  sampler.subscribe((snapshot: StatsSnapshot) => {
    const rows = [...snapshot.values()].map((entry: ProjectStats) => ({ project: entry.project, ...entry.latest }));
    if (input.options.json) {
      process.stdout.write(`${JSON.stringify(rows)}\n`);
      return;
    }
    // Redraw in place on a terminal; append when piped.
    if (live) process.stdout.write('\u001B[H\u001B[2J');
    printStatsTable(rows);
  });
  sampler.start();
  // `on`, not `once`: signal-exit re-raises a signal no other listener is left to handle.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // No one reads any more (`| head`): the sampling ends too.
  outputClosed().addEventListener('abort', onSignal);
  await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await sampler.stop();
};

type Row = { project: string; cpuPercent: number; memoryUsed: number; memoryLimit: number; pids: number } & Pick<
  ProjectStats['latest'],
  'network' | 'block'
>;

function printStatsTable(rows: Row[]): void {
  if (rows.length === 0) {
    printLine('no running containers');
    return;
  }
  printTable(
    ['PROJECT', 'CPU%', 'MEMORY', 'PIDS', 'NET RX/TX', 'BLOCK R/W'],
    rows.map((row) => [
      row.project,
      row.cpuPercent.toFixed(1),
      `${formatBytes(row.memoryUsed)} / ${formatBytes(row.memoryLimit)}`,
      String(row.pids),
      `${formatBytes(row.network.rxBytes)} / ${formatBytes(row.network.txBytes)}`,
      `${formatBytes(row.block.readBytes)} / ${formatBytes(row.block.writeBytes)}`,
    ]),
  );
}
