/**
 * The daemon's socket: HTTP over a unix socket in a 0700 folder, the socket
 * itself 0600, so that only its user can connect (never TCP). Routes are a
 * small table of JSON calls onto the services the daemon composes; what
 * streams (the dashboard, a turn, a container's logs) goes out as
 * server-sent events. See protocol.ts for the wire format.
 */
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import { BerthError, messageOf } from '../domain/errors.js';
import { answers, PROTOCOL_HEADER, PROTOCOL_VERSION, sseFrame, VERSION_HEADER } from './protocol.js';

/** What a route handler gets: the route's parameters, the JSON body, and the response for streaming. */
export interface RouteCall {
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  /** Turns the response into an event stream: returns the writer; `closed` aborts when the client goes. */
  stream(): EventStream;
}

export interface EventStream {
  send(event: string, data: unknown): void;
  end(): void;
  /** Aborts when the client disconnects (or the daemon closes). */
  readonly closed: AbortSignal;
}

/** A handler's answer: a JSON body (200), or nothing when it streamed. */
export type RouteHandler = (call: RouteCall) => Promise<unknown>;

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** `/v1/projects/:name/messages`: a `:word` is a parameter. */
  path: string;
  handler: RouteHandler;
}

/** A refusal with its HTTP status, for the client to show as one line. */
export class HttpError extends BerthError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Bodies are small JSON: a message, a setting. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export class DaemonServer {
  private server: Server | undefined;
  private socketInode: number | undefined;
  private readonly streams = new Set<EventStream & { response: ServerResponse }>();

  constructor(
    private readonly options: { socket: string; version: string; routes: Route[] },
  ) {}

  /** Clients with an event stream open. */
  get streamCount(): number {
    return this.streams.size;
  }

  /**
   * Listens on the socket. Throws a BerthError when another daemon answers
   * there; a socket file left by a dead one is replaced.
   */
  async listen(): Promise<void> {
    const folder = path.dirname(this.options.socket);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    // An existing folder keeps its mode: it is made private whatever it was.
    await chmod(folder, 0o700);
    const info = await stat(folder);
    if (info.uid !== process.getuid?.()) throw new BerthError(`${folder} belongs to another user: berth's daemon will not listen there`);
    const server = createServer((request, response) => void this.handle(request, response));
    // Bound first, never removed blindly: of two daemons started at once, the second finds the first.
    try {
      await this.bind(server);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      if (await answers(this.options.socket)) throw new BerthError(`a berth daemon runs already on ${this.options.socket}`);
      // A socket file left by a dead daemon.
      await rm(this.options.socket, { force: true });
      await this.bind(server);
    }
    await chmod(this.options.socket, 0o600);
    this.server = server;
    this.socketInode = (await stat(this.options.socket)).ino;
  }

  /** Whether the socket file is still this server's (another daemon, racing over a dead one's file, may have replaced it). */
  async ownsSocket(): Promise<boolean> {
    const info = await stat(this.options.socket).catch(() => undefined);
    return info !== undefined && info.ino === this.socketInode;
  }

  private async bind(server: Server): Promise<void> {
    // Created private: there is no moment at which another user could connect.
    const mask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.options.socket, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(mask);
    }
  }

  /** Sends an event to every client that follows the events stream. */
  broadcast(event: string, data: unknown): void {
    for (const stream of this.streams) stream.send(event, data);
  }

  /** Adds a stream to the broadcast list until it closes. */
  follow(stream: EventStream): void {
    const entry = stream as EventStream & { response: ServerResponse };
    this.streams.add(entry);
    stream.closed.addEventListener('abort', () => this.streams.delete(entry), { once: true });
  }

  async close(): Promise<void> {
    for (const stream of this.streams) stream.end();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (await this.ownsSocket()) await rm(this.options.socket, { force: true });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://berth');
    try {
      const protocol = request.headers[PROTOCOL_HEADER];
      // curl without the header is a person debugging: welcome. A client of another protocol is not.
      if (protocol !== undefined && Number(protocol) !== PROTOCOL_VERSION) {
        const theirs = request.headers[VERSION_HEADER];
        throw new HttpError(
          409,
          `the berth daemon speaks protocol ${PROTOCOL_VERSION} (berth ${this.options.version}), this client protocol ${String(protocol)}${theirs ? ` (berth ${String(theirs)})` : ''}: restart the daemon with this berth (berth daemon restart)`,
        );
      }
      const match = this.route(request.method ?? 'GET', url.pathname);
      if (!match) throw new HttpError(404, `no such call: ${request.method} ${url.pathname}`);
      const body = request.method === 'GET' ? {} : await readJson(request);
      let streamed = false;
      const result = await match.route.handler({
        params: match.params,
        query: url.searchParams,
        body,
        stream: () => {
          streamed = true;
          return this.openStream(response);
        },
      });
      if (!streamed) sendJson(response, 200, result ?? { ok: true });
    } catch (error) {
      if (response.headersSent) {
        response.end();
        return;
      }
      const status = error instanceof HttpError ? error.status : error instanceof BerthError ? 400 : 500;
      sendJson(response, status, { error: messageOf(error) });
    }
  }

  private route(method: string, pathname: string): { route: Route; params: Record<string, string> } | undefined {
    const parts = pathname.split('/').filter(Boolean);
    for (const route of this.options.routes) {
      if (route.method !== method) continue;
      const pattern = route.path.split('/').filter(Boolean);
      if (pattern.length !== parts.length) continue;
      const params: Record<string, string> = {};
      const fits = pattern.every((part, index) => {
        if (part.startsWith(':')) {
          params[part.slice(1)] = decodeURIComponent(parts[index]!);
          return true;
        }
        return part === parts[index];
      });
      if (fits) return { route, params };
    }
    return undefined;
  }

  private openStream(response: ServerResponse): EventStream {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    response.flushHeaders();
    const closed = new AbortController();
    response.once('close', () => closed.abort());
    const stream = {
      response,
      closed: closed.signal,
      send: (event: string, data: unknown) => {
        if (!closed.signal.aborted) response.write(sseFrame(event, data));
      },
      end: () => {
        if (!response.writableEnded) response.end();
        closed.abort();
      },
    };
    return stream;
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the request is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the request body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}
