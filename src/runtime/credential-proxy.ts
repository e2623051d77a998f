/**
 * The credential proxy: the model API as a project's container reaches it.
 * The container holds only a per-project token; the proxy checks it, puts the
 * real key (or OAuth token) in its place, forwards the request upstream and
 * streams the answer back as it comes, reading the usage on the way.
 *
 * One listener per project, on this machine's loopback (the container runtime
 * relays it into the project's container): a token is accepted only by its
 * own project's listener, so one project cannot spend as another.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface UpstreamCredentials {
  /** Where requests go: the host's ANTHROPIC_BASE_URL, or the official API. */
  upstream: string;
  apiKey?: string;
  /** An OAuth bearer token, when the user logs in that way. */
  authToken?: string;
}

export interface ModelUsage {
  model: string | null;
  tokensIn: number;
  tokensOut: number;
}

export interface CredentialProxyHooks {
  credentials(): Promise<UpstreamCredentials>;
  /** Why the project may not spend more now (its daily cap), in one line; undefined lets the request through. */
  refusal?(project: string): Promise<string | undefined>;
  onUsage?(project: string, usage: ModelUsage): void;
}

interface Listener {
  server: Server;
  url: string;
  token: string;
  /** The container the token was issued for: a new container gets a new token. */
  container: string | undefined;
}

/** Headers that belong to one hop of a connection, not to the answer. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);

/** Headers that belong to one hop, or that the proxy replaces. */
const DROPPED_REQUEST_HEADERS = new Set(['host', 'connection', 'x-api-key', 'authorization', 'proxy-authorization', 'keep-alive', 'transfer-encoding']);

export class CredentialProxy {
  private readonly listeners = new Map<string, Promise<Listener>>();

  constructor(private readonly hooks: CredentialProxyHooks) {}

  /**
   * The project's endpoint (a loopback URL) and the token it accepts. Given
   * the container's id, the token is rotated when the container is not the
   * one it was issued for (recreated), and the old one stops working.
   */
  async endpoint(project: string, container?: string): Promise<{ url: string; token: string }> {
    let pending = this.listeners.get(project);
    if (!pending) {
      pending = this.listen(project);
      this.listeners.set(project, pending);
    }
    const listener = await pending;
    if (container !== undefined && listener.container !== container) {
      if (listener.container !== undefined) listener.token = newToken();
      listener.container = container;
    }
    return { url: listener.url, token: listener.token };
  }

  /** A new token for the project (its container was recreated): the old one stops working at once. */
  async rotate(project: string): Promise<void> {
    const listener = await this.listeners.get(project);
    if (listener) listener.token = newToken();
  }

  async close(): Promise<void> {
    const listeners = await Promise.all(this.listeners.values());
    this.listeners.clear();
    await Promise.all(listeners.map((listener) => new Promise((resolve) => listener.server.close(resolve))));
  }

  private async listen(project: string): Promise<Listener> {
    const listener: Listener = { server: createServer(), url: '', token: newToken(), container: undefined };
    listener.server.on('request', (request, response) => void this.handle(project, listener, request, response));
    await new Promise<void>((resolve, reject) => {
      listener.server.once('error', reject);
      listener.server.listen(0, '127.0.0.1', resolve);
    });
    listener.url = `http://127.0.0.1:${(listener.server.address() as AddressInfo).port}`;
    // It serves while a turn runs, and the turn keeps berth alive: an idle proxy must not.
    listener.server.unref();
    return listener;
  }

  private async handle(project: string, listener: Listener, request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      // The CLI checks it can reach the API with a bare HEAD /: answered here, it carries no key either way.
      if (request.method === 'HEAD' && presentedToken(request) === '') {
        request.resume();
        response.writeHead(200).end();
        return;
      }
      if (!tokenMatches(presentedToken(request), listener.token)) {
        request.resume();
        return apiError(response, 401, 'authentication_error', `berth: this endpoint takes only project ${project}'s token`);
      }
      const refusal = await this.hooks.refusal?.(project);
      if (refusal) {
        request.resume();
        return apiError(response, 403, 'permission_error', refusal);
      }
      await this.forward(project, request, response, await this.hooks.credentials());
    } catch (error) {
      if (!response.headersSent) apiError(response, 502, 'api_error', `berth: the model API could not be reached: ${(error as Error).message.split('\n')[0]}`);
      else response.destroy();
    }
  }

  private forward(project: string, request: IncomingMessage, response: ServerResponse, credentials: UpstreamCredentials): Promise<void> {
    const target = new URL(request.url ?? '/', credentials.upstream.endsWith('/') ? credentials.upstream : `${credentials.upstream}/`);
    // The upstream's own path prefix, if any, goes before the request's.
    target.pathname = `${new URL(credentials.upstream).pathname.replace(/\/$/, '')}${new URL(request.url ?? '/', 'http://x').pathname}`;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && !DROPPED_REQUEST_HEADERS.has(name)) headers[name] = value;
    }
    if (credentials.apiKey) headers['x-api-key'] = credentials.apiKey;
    else if (credentials.authToken) headers.authorization = `Bearer ${credentials.authToken}`;
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const upstream = send(target, { method: request.method, headers }, (answer) => {
        const headers = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
        response.writeHead(answer.statusCode ?? 502, headers as Record<string, string | string[]>);
        response.flushHeaders();
        // Unbuffered: each chunk goes on as it comes; the usage is read from a copy on the side.
        const meter = new UsageMeter(String(answer.headers['content-type'] ?? ''));
        answer.on('data', (chunk: Buffer) => {
          meter.push(chunk);
          response.write(chunk);
        });
        answer.on('end', () => {
          response.end();
          const usage = meter.usage();
          if (usage) this.hooks.onUsage?.(project, usage);
          resolve();
        });
        answer.on('error', reject);
      });
      upstream.on('error', reject);
      // The agent went away (cancelled, killed): so does its request upstream, and nothing keeps berth waiting on it.
      response.on('close', () => {
        if (!response.writableFinished) {
          upstream.destroy();
          resolve();
        }
      });
      request.pipe(upstream);
    });
  }
}

/** Reads the usage of a Messages API answer: a streamed one (SSE) or a whole one (JSON). */
class UsageMeter {
  private text = '';
  private readonly streamed: boolean;

  constructor(contentType: string) {
    this.streamed = contentType.includes('text/event-stream');
  }

  push(chunk: Buffer): void {
    // Bounded: a usage is near the start (message_start) and the end (message_delta) of a stream.
    this.text += chunk.toString('utf8');
    if (this.text.length > 4_000_000) this.text = this.text.slice(-1_000_000);
  }

  usage(): ModelUsage | undefined {
    const usage: ModelUsage = { model: null, tokensIn: 0, tokensOut: 0 };
    const add = (data: unknown) => {
      const event = data as { type?: string; message?: { model?: string; usage?: Tokens }; usage?: Tokens; model?: string };
      const tokens = event.message?.usage ?? event.usage;
      usage.model ??= event.message?.model ?? event.model ?? null;
      if (!tokens) return;
      if (event.type === 'message_delta') usage.tokensOut = tokens.output_tokens ?? usage.tokensOut;
      else {
        usage.tokensIn += (tokens.input_tokens ?? 0) + (tokens.cache_creation_input_tokens ?? 0) + (tokens.cache_read_input_tokens ?? 0);
        usage.tokensOut = Math.max(usage.tokensOut, tokens.output_tokens ?? 0);
      }
    };
    try {
      if (!this.streamed) add(JSON.parse(this.text));
      else for (const line of this.text.split('\n')) if (line.startsWith('data: ')) add(JSON.parse(line.slice(6)));
    } catch {
      // Not a Messages answer (or cut short): nothing to count.
    }
    return usage.tokensIn + usage.tokensOut > 0 ? usage : undefined;
  }
}

interface Tokens {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

function newToken(): string {
  return `berth-${randomBytes(32).toString('base64url')}`;
}

function presentedToken(request: IncomingMessage): string {
  const key = request.headers['x-api-key'];
  if (typeof key === 'string') return key;
  const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
  return bearer?.[1] ?? '';
}

function tokenMatches(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** An error as the Messages API words one, so the CLI shows its message. */
function apiError(response: ServerResponse, status: number, type: string, message: string): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ type: 'error', error: { type, message } }));
}

