/**
 * berth's daemon protocol: HTTP/1.1 over a unix socket, JSON bodies, and
 * server-sent events for what streams, so that `curl --unix-socket` can read
 * and drive it. Every request carries the client's protocol version; a
 * daemon of another protocol answers 409 with a one-line error. Documented in
 * the README ("The daemon").
 */
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import path from 'node:path';
import type { StatsSample } from '../runtime/types.js';
import type { ControlCenterSnapshot, ProjectView } from '../services/control-center-state.js';
import type { ProjectStats } from '../services/stats-sampler.js';

/** Bumped on any change a client of the previous version would misread. */
export const PROTOCOL_VERSION = 2;

/** The request header that carries the client's protocol version (and its berth version). */
export const PROTOCOL_HEADER = 'berth-protocol';
export const VERSION_HEADER = 'berth-version';

/** Linux's sun_path holds 108 bytes with its NUL. */
const MAX_SOCKET_PATH = 107;

/**
 * The socket of the daemon of one berth home: in a 0700 folder under the
 * home, or, when that path is too long for a socket, under
 * $XDG_RUNTIME_DIR (or /tmp), in a folder named after the home.
 */
export function socketFolder(home: string, env: NodeJS.ProcessEnv = process.env): string {
  const inHome = path.join(home, 'run');
  if (path.join(inHome, 'daemon.sock').length <= MAX_SOCKET_PATH) return inHome;
  const tag = createHash('sha256').update(home).digest('hex').slice(0, 16);
  const base = env.XDG_RUNTIME_DIR?.trim() || '/tmp';
  return path.join(base, `berth-${process.getuid?.() ?? 'user'}-${tag}`);
}

export function socketPath(home: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(socketFolder(home, env), 'daemon.sock');
}

/** GET /v1/status */
export interface DaemonStatus {
  protocol: number;
  version: string;
  pid: number;
  home: string;
  startedAt: string;
  uptimeMs: number;
  /** Clients following the events stream now. */
  clients: number;
  sessions: SessionStatus[];
  /** Set once the daemon was asked to stop when its turns end. */
  stopping?: boolean;
}

/** One project's live agent session, as the daemon reports it. */
export interface SessionStatus {
  project: string;
  /** The run marker of the agent process (BERTH_RUN in its environment), while it runs. */
  marker?: string;
  /** A turn is running. */
  busy: boolean;
  queued: QueuedMessage[];
}

export interface QueuedMessage {
  id: string;
  text: string;
  /** When it was queued, ISO. */
  since: string;
}

/** The events of GET /v1/events, each an SSE event of that name with JSON data. */
export type DaemonEvent =
  /** The dashboard's state, whenever it changed (throttled): a WireSnapshot. */
  | { event: 'snapshot'; data: unknown }
  /** A transcript entry of a project's turn, once written. */
  | { event: 'chat'; data: { project: string; entry: unknown } }
  /** Text the model is writing, live (not in the transcript). */
  | { event: 'delta'; data: { project: string; text: string } }
  /** A project's queue of messages changed. */
  | { event: 'queue'; data: { project: string; queued: QueuedMessage[] } }
  /** The daemon stops: clients should say so. */
  | { event: 'bye'; data: { reason: string } };

/** An error answer's body. */
export interface ErrorBody {
  error: string;
}

/** Writes one server-sent event. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Reads server-sent events from text chunks: feed it chunks, it calls back with each whole event. */
export function sseReader(onEvent: (event: string, data: unknown) => void): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) onEvent(event, JSON.parse(data.join('\n')));
    }
  };
}

/** Whether something listens on the socket (a live daemon), as opposed to a file left by a dead one. */
export function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socket);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * The dashboard's state as it goes over the wire. The conversations are each
 * client's own. A container's stats carry their history only in the first
 * snapshot of a stream; later ones carry the newest sample, which the client
 * adds to what it has: with 50 containers the histories are about 440 KB of
 * JSON, the newest samples about 20 KB, and a snapshot goes out every round.
 */
export interface WireSnapshot extends Omit<ControlCenterSnapshot, 'conversations' | 'projects'> {
  projects: readonly WireProjectView[];
}

export type WireProjectView = Omit<ProjectView, 'stats'> & { stats?: WireProjectStats };
export type WireProjectStats = Omit<ProjectStats, 'history'> & { history?: readonly StatsSample[] };
