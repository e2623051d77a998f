/**
 * The client side of berth's daemon protocol (see daemon/protocol.ts), for
 * the TUI and the CLI: JSON calls and event streams over the daemon's unix
 * socket. connectDaemon() finds the daemon of this berth home, or starts one
 * detached and waits until it answers; a daemon of another berth version is
 * replaced once its turns have ended.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BerthError } from '../domain/errors.js';
import { answers, PROTOCOL_HEADER, PROTOCOL_VERSION, socketPath, sseReader, VERSION_HEADER, type DaemonStatus } from '../daemon/protocol.js';

/** A daemon started by a client must answer within this. */
const START_TIMEOUT_MS = 20_000;
/** An old daemon asked to go once its turns end is waited for this long before the client gives up. */
const REPLACE_TIMEOUT_MS = 10 * 60_000;
const POLL_MS = 50;

export class DaemonClient {
  constructor(
    readonly socket: string,
    private readonly version: string,
  ) {}

  /** One JSON call; throws a BerthError with the daemon's one-line answer when it refuses. */
  async call<T>(method: 'GET' | 'POST' | 'DELETE', route: string, body?: unknown): Promise<T> {
    const response = await this.send(method, route, body);
    const text = await readAll(response);
    const value = text === '' ? undefined : (JSON.parse(text) as unknown);
    if ((response.statusCode ?? 500) >= 400) throw new BerthError(errorOf(value) ?? `the daemon answered ${response.statusCode}`);
    return value as T;
  }

  /**
   * Follows an event stream until it ends (or `signal` aborts); each event
   * goes to onEvent. Resolves when the daemon ended it, rejects when the
   * connection broke.
   */
  async stream(method: 'GET' | 'POST', route: string, body: unknown, onEvent: (event: string, data: unknown) => void, signal?: AbortSignal): Promise<void> {
    const response = await this.send(method, route, body, signal);
    if ((response.statusCode ?? 500) >= 400) {
      const text = await readAll(response);
      throw new BerthError(errorOf(safeJson(text)) ?? `the daemon answered ${response.statusCode}`);
    }
    const read = sseReader(onEvent);
    response.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      response.on('data', (chunk: string) => {
        try {
          read(chunk);
        } catch (error) {
          response.destroy(error as Error);
        }
      });
      response.once('end', () => resolve());
      response.once('error', (error) => (signal?.aborted ? resolve() : reject(lostDaemon(error))));
      response.once('close', () => resolve());
    });
  }

  private send(method: string, route: string, body: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = httpRequest(
        {
          // The socket itself, not through an Agent: an Agent checks the host for an IP address, and the first
          // such check compiles Node's IPv6 expression (about 10 ms of every command's start).
          createConnection: () => connect(this.socket),
          path: route,
          method,
          headers: {
            [PROTOCOL_HEADER]: String(PROTOCOL_VERSION),
            [VERSION_HEADER]: this.version,
            ...(payload !== undefined && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          },
          ...(signal && { signal }),
        },
        resolve,
      );
      request.once('error', (error) => reject(lostDaemon(error)));
      request.end(payload);
    });
  }
}

export interface ConnectOptions {
  home: string;
  version: string;
  env?: NodeJS.ProcessEnv;
  /** The engine a daemon this client starts talks to (`--engine`); a running daemon keeps its own. */
  engine?: string;
  /** Start a daemon when none answers (the default); false: throw instead. */
  start?: boolean;
  /** Told of what the client does meanwhile: starting a daemon (progress), replacing an old one (news). */
  onNote?: (line: string, kind: 'progress' | 'news') => void;
}

/** The daemon of this berth home, started when none runs. */
export async function connectDaemon(options: ConnectOptions): Promise<DaemonClient> {
  const env = options.env ?? process.env;
  const client = new DaemonClient(socketPath(options.home, env), options.version);
  if (await answers(client.socket)) {
    const status = await client.call<DaemonStatus>('GET', '/v1/status');
    if (status.version === options.version && status.protocol === PROTOCOL_VERSION) return client;
    await replaceOld(client, status, options);
  }
  if (options.start === false) throw new BerthError(`no berth daemon runs for ${options.home} (berth daemon starts one)`);
  await startDaemon(client, options, env);
  return client;
}

/** Asks a daemon of another berth version to stop once its turns end, and waits for it to go. */
async function replaceOld(client: DaemonClient, status: DaemonStatus, options: ConnectOptions): Promise<void> {
  options.onNote?.(
    `the berth daemon (pid ${status.pid}) runs berth ${status.version}, this is berth ${options.version}: it is replaced once its turns end`,
    'news',
  );
  await client.call('POST', '/v1/daemon/stop', { whenIdle: true }).catch(() => undefined);
  const deadline = Date.now() + REPLACE_TIMEOUT_MS;
  while (await answers(client.socket)) {
    if (Date.now() > deadline) throw new BerthError(`the old berth daemon (pid ${status.pid}) still runs turns: try again later, or berth daemon stop --force`);
    await sleep(POLL_MS * 4);
  }
}

/** The daemon's log file, where a detached daemon's output goes. */
export function daemonLog(home: string): string {
  return path.join(home, 'logs', 'daemon.log');
}

async function startDaemon(client: DaemonClient, options: ConnectOptions, env: NodeJS.ProcessEnv): Promise<void> {
  const log = daemonLog(options.home);
  mkdirSync(path.dirname(log), { recursive: true, mode: 0o700 });
  const output = openSync(log, 'a', 0o600);
  const bin = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));
  let exited: number | null | undefined;
  try {
    // Its own session: the terminal going away (SIGHUP to its group) does not reach it.
    // Its home as this client resolved it: a relative BERTH_HOME would mean another folder from '/'.
    const daemonEnv = env.BERTH_HOME?.trim() ? { ...env, BERTH_HOME: options.home } : env;
    const args = options.engine === undefined ? ['daemon'] : ['--engine', options.engine, 'daemon'];
    const child = spawn(process.execPath, [bin, ...args], { detached: true, stdio: ['ignore', output, output], env: daemonEnv, cwd: '/' });
    child.once('exit', (code) => (exited = code));
    child.once('error', () => (exited = -1));
    child.unref();
  } finally {
    closeSync(output);
  }
  options.onNote?.('starting the berth daemon…', 'progress');
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await answers(client.socket))) {
    // Another client's daemon may have won the race: this one's exit is then no failure.
    if (exited !== undefined && !(await answers(client.socket))) {
      throw new BerthError(`the berth daemon did not start${lastLogLine(log)} (see ${log})`);
    }
    if (Date.now() > deadline) throw new BerthError(`the berth daemon did not answer within ${START_TIMEOUT_MS / 1000} s (see ${log})`);
    await sleep(POLL_MS);
  }
}

function lastLogLine(log: string): string {
  try {
    const line = readFileSync(log, 'utf8').trim().split('\n').at(-1)?.trim();
    return line ? `: ${line.replace(/^berth: /, '')}` : '';
  } catch {
    return '';
  }
}

function lostDaemon(error: NodeJS.ErrnoException): BerthError {
  if (error.code === 'EACCES') return new BerthError(`cannot connect to the berth daemon: its socket belongs to another user`);
  if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') return new BerthError('the berth daemon is not running (it stopped, or was killed)');
  if (error.code === 'ECONNRESET') return new BerthError('the berth daemon went away (it stopped, or was killed)');
  return new BerthError(`the berth daemon cannot be reached: ${error.message}`);
}

function readAll(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    response.once('end', () => resolve(text));
    response.once('error', reject);
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorOf(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null && typeof (value as { error?: unknown }).error === 'string' ? (value as { error: string }).error : undefined;
}
