/**
 * The berth daemon of a test's berth home: found by its socket, stopped (and
 * killed if it does not stop) when the home is removed, so that no test
 * leaves one running.
 */
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { answers, socketPath, type DaemonStatus } from '../../src/daemon/protocol.js';

/** One call on the daemon's socket, as curl would make it; the status code and the parsed body. */
export function daemonCall(home: string, method: string, route: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: unknown }> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const call = request({ socketPath: socketPath(home), path: route, method, headers: { ...options.headers, ...(payload && { 'content-type': 'application/json' }) } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) }));
    });
    call.once('error', reject);
    call.end(payload);
  });
}

/** The status of the home's daemon, or undefined when none answers. */
export async function daemonStatus(home: string): Promise<DaemonStatus | undefined> {
  if (!(await answers(socketPath(home)))) return undefined;
  return (await daemonCall(home, 'GET', '/v1/status')).body as DaemonStatus;
}

/** Stops the home's daemon if one runs: asked first (its turns cancelled), killed after 15 s. */
export async function stopDaemonOf(home: string): Promise<void> {
  const status = await daemonStatus(home).catch(() => undefined);
  if (!status) return;
  await daemonCall(home, 'POST', '/v1/daemon/stop', { body: { force: true } }).catch(() => undefined);
  for (let waited = 0; waited < 15_000; waited += 100) {
    if (!isRunning(status.pid)) return;
    await sleep(100);
  }
  process.kill(status.pid, 'SIGKILL');
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
