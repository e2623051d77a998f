/**
 * `berth daemon` and its subcommands: run it in the foreground (systemd,
 * tmux), see how it is, stop or restart it. Any other client starts it when
 * it finds none (see client/daemon-client).
 */
import { createInterface } from 'node:readline/promises';
import { BerthError } from '../domain/errors.js';
import { formatDuration } from '../domain/duration.js';
import { connectDaemon, DaemonClient } from '../client/daemon-client.js';
import { answers, socketPath, type DaemonStatus } from '../daemon/protocol.js';
import { resolvePaths } from '../store/paths.js';
import type { CommandHandler } from './command-table.js';
import { printJson, printLine } from './output.js';
import { stopOnSignals } from './signals.js';
import { readVersion } from './version.js';

/** `berth daemon`: runs until stopped (berth daemon stop, SIGTERM, SIGINT); turns still running are cancelled and recorded. */
export const runDaemonCommand: CommandHandler = async (input) => {
  const { Daemon } = await import('../daemon/daemon.js');
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} berth daemon: ${line}\n`);
  const daemon = new Daemon({ version: readVersion(), log, ...(input.global.engine !== undefined && { engineFlag: input.global.engine }) });
  const stop = stopOnSignals();
  // Listened for before the start: a signal while it starts stops it once started.
  const signalled = new Promise<string>((resolve) => stop.signal.addEventListener('abort', () => resolve(`signal ${stop.received()}`), { once: true }));
  try {
    await daemon.start();
    const reason = await Promise.race([daemon.untilStopped(), signalled]);
    await daemon.close(reason);
    return stop.exitCode() ?? 0;
  } finally {
    stop.dispose();
  }
};

export const daemonStatus: CommandHandler = async (input) => {
  const client = await existing();
  if (!client) {
    if (input.options.json) printJson({ running: false });
    else printLine('no berth daemon runs (any berth command that needs it starts one; berth daemon runs it here)');
    return input.options.json ? 0 : 1;
  }
  const status = await client.call<DaemonStatus>('GET', '/v1/status');
  if (input.options.json) return printJson({ running: true, ...status });
  printLine(`berth daemon ${status.version} (protocol ${status.protocol}), pid ${status.pid}, up ${formatDuration(status.uptimeMs)}${status.stopping ? ', stopping once its turns end' : ''}`);
  printLine(`socket   ${client.socket}`);
  printLine(`clients  ${status.clients}`);
  printLine(`sessions ${status.sessions.length === 0 ? 'none' : ''}`);
  for (const session of status.sessions) {
    const queued = session.queued.length > 0 ? `, ${session.queued.length} queued` : '';
    printLine(`  ${session.project}: ${session.busy ? 'working' : session.marker ? 'idle (agent running)' : 'starting'}${queued}`);
  }
};

export const daemonStop: CommandHandler = async (input) => {
  const client = await existing();
  if (!client) {
    printLine('no berth daemon runs');
    return;
  }
  const force = input.options.force === true || (await confirmStop(client));
  await stopAndWait(client, force);
  printLine('the berth daemon stopped');
};

export const daemonRestart: CommandHandler = async (input) => {
  const client = await existing();
  if (client) await stopAndWait(client, input.options.force === true || (await confirmStop(client)));
  const paths = resolvePaths();
  await connectDaemon({ home: paths.home, version: readVersion() });
  printLine('the berth daemon runs again');
};

/** With turns running, asks on a terminal; elsewhere, refuses (the daemon says so) unless --force. */
async function confirmStop(client: DaemonClient): Promise<boolean> {
  const status = await client.call<DaemonStatus>('GET', '/v1/status');
  const busy = status.sessions.filter((session) => session.busy).map((session) => session.project);
  if (busy.length === 0 || !process.stdin.isTTY) return false;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`turns are running in ${busy.join(', ')}: stop them and the daemon? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new BerthError('the daemon keeps running');
    return true;
  } finally {
    prompt.close();
  }
}

async function stopAndWait(client: DaemonClient, force: boolean): Promise<void> {
  await client.call('POST', '/v1/daemon/stop', { force });
  const deadline = Date.now() + 30_000;
  while (await answers(client.socket)) {
    if (Date.now() > deadline) throw new BerthError('the berth daemon did not stop within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The daemon that runs now, without starting one. */
async function existing(): Promise<DaemonClient | undefined> {
  const paths = resolvePaths();
  const socket = socketPath(paths.home);
  return (await answers(socket)) ? new DaemonClient(socket, readVersion()) : undefined;
}
