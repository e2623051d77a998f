/**
 * The egress proxy: a project's only way out of its internal network. It
 * listens on this machine's address on the project's network (never
 * 0.0.0.0), takes connections only from that network, and lets through HTTP
 * CONNECT tunnels and plain HTTP requests to the hosts on the project's
 * allowlist; everything else is refused with a 403 that names the host, and
 * reported. Names are resolved here, and the address connected to is the one
 * checked: an allowed name that resolves to this machine, to another
 * project's network or to a link-local address (cloud metadata) is refused.
 */
import { lookup } from 'node:dns/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, isIPv4, type Socket } from 'node:net';
import type { HostEntry } from '../domain/egress.js';
import { isAllowed } from '../domain/egress.js';
import { inSubnet, type HostGateway } from './container-gateway.js';
import { listenInRange } from './listen-in-range.js';
import type { UrlLease } from './loopback-bridge.js';

export interface EgressRefusal {
  project: string;
  host: string;
  port: number;
  reason: string;
}

export interface EgressRules {
  /** The project's allowlist now: asked on every connection, so that an edit applies at once. */
  allowlist(project: string): Promise<readonly HostEntry[]>;
  /** Why `berth net … allow <entry>` would be refused, or undefined: a refusal never suggests such an entry. */
  allowRefusal?(entry: string): Promise<string | undefined>;
  /** Why no allowlist opens this address (this machine's, another project's network), or undefined. */
  forbiddenAddress(address: string): Promise<string | undefined>;
  onRefused?(refusal: EgressRefusal): void;
}

interface Listener {
  server: Server;
  url: string;
  leases: number;
  sockets: Set<Socket>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'transfer-encoding', 'upgrade', 'te', 'trailer']);
const CONNECT_TIMEOUT_MS = 15_000;

export class EgressProxy {
  private readonly listeners = new Map<string, Promise<Listener>>();

  constructor(private readonly rules: EgressRules) {}

  /** The proxy URL for the project's container behind `gateway`; close the lease when the command using it has ended. */
  async lease(project: string, gateway: HostGateway): Promise<UrlLease> {
    const key = `${project} ${gateway.address}`;
    let opening = this.listeners.get(key);
    if (!opening) {
      opening = this.listen(project, gateway);
      this.listeners.set(key, opening);
      opening.catch(() => this.listeners.get(key) === opening && this.listeners.delete(key));
    }
    const listener = await opening;
    listener.leases += 1;
    let released = false;
    return {
      url: listener.url,
      close: async () => {
        if (released) return;
        released = true;
        listener.leases -= 1;
        if (listener.leases > 0 || this.listeners.get(key) !== opening) return;
        this.listeners.delete(key);
        await closeListener(listener);
      },
    };
  }

  async close(): Promise<void> {
    const listeners = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(listeners.map((opening) => opening.then(closeListener, () => undefined)));
  }

  private async listen(project: string, gateway: HostGateway): Promise<Listener> {
    const server = createServer();
    const listener: Listener = { server, url: '', leases: 0, sockets: new Set() };
    server.on('clientError', (_error, socket: Socket) => socket.destroy());
    server.on('connection', (socket: Socket) => {
      // The address is reachable from every container network: only this project's may use it.
      if (!inSubnet(socket.remoteAddress, gateway.subnet)) return void socket.destroy();
      listener.sockets.add(socket);
      socket.once('close', () => listener.sockets.delete(socket));
    });
    server.on('connect', (request: IncomingMessage, client: Socket, head: Buffer) => void this.tunnel(project, request, client, head, listener));
    server.on('request', (request: IncomingMessage, response: ServerResponse) => void this.forward(project, request, response));
    const port = await listenInRange(server, gateway.address);
    server.unref();
    listener.url = `http://${gateway.address}:${port}`;
    return listener;
  }

  /** The address to connect to, or the reason the connection is refused. */
  private async admit(project: string, host: string, port: number): Promise<{ address: string } | { refused: string }> {
    if (!host || !Number.isInteger(port) || port < 1 || port > 65_535) return { refused: 'not a host and port' };
    if (!isAllowed(await this.rules.allowlist(project), host, port)) {
      return { refused: `${host}:${port} is not on project ${project}'s allowlist (${await this.allowHint(project, host, port)})` };
    }
    let address: string;
    try {
      address = isIPv4(host) ? host : (await lookup(host, { family: 4 })).address;
    } catch {
      return { refused: `${host} does not resolve` };
    }
    const forbidden = await this.rules.forbiddenAddress(address);
    return forbidden ? { refused: `${host} resolves to ${address}, ${forbidden}` } : { address };
  }

  /** The entry that would let the connection through; or, when berth would refuse it or never connect there anyway, why. */
  private async allowHint(project: string, host: string, port: number): Promise<string> {
    const entry = port === 80 || port === 443 ? host : `${host}:${port}`;
    const refusal = await this.rules.allowRefusal?.(entry);
    if (refusal) return `berth net would not allow it: ${refusal}`;
    const forbidden = isIPv4(host) ? await this.rules.forbiddenAddress(host) : undefined;
    return forbidden ? `no allowlist opens it: ${forbidden}` : `berth net ${project} allow ${entry}`;
  }

  private refuse(project: string, host: string, port: number, reason: string): void {
    this.rules.onRefused?.({ project, host, port, reason });
  }

  private async tunnel(project: string, request: IncomingMessage, client: Socket, head: Buffer, listener: Listener): Promise<void> {
    // The container may hang up at any moment: that ends the tunnel, never berth.
    client.on('error', () => client.destroy());
    const { host, port } = splitHostPort(request.url ?? '');
    const verdict = await this.admit(project, host, port);
    if ('refused' in verdict) {
      this.refuse(project, host, port, verdict.refused);
      return void client.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nberth: ${verdict.refused}\n`);
    }
    const upstream = connect({ host: verdict.address, port, timeout: CONNECT_TIMEOUT_MS });
    listener.sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      listener.sockets.delete(upstream);
    };
    upstream.once('timeout', () => {
      if (upstream.connecting) client.end('HTTP/1.1 504 Gateway Timeout\r\nConnection: close\r\n\r\n');
      end();
    });
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.once('error', () => {
      if (!client.destroyed && upstream.connecting) client.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n');
      end();
    });
    upstream.once('close', end);
    client.once('error', end).once('close', end);
  }

  private async forward(project: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    let target: URL;
    try {
      target = new URL(request.url ?? '');
    } catch {
      request.resume();
      return void response.writeHead(400, { 'content-type': 'text/plain' }).end('berth: this is a proxy: send absolute URLs, or CONNECT\n');
    }
    const port = target.port ? Number(target.port) : target.protocol === 'https:' ? 443 : 80;
    const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
    if (target.protocol !== 'http:') {
      request.resume();
      return void response.writeHead(400, { 'content-type': 'text/plain' }).end('berth: only http:// goes through as a request; https:// takes CONNECT\n');
    }
    const verdict = await this.admit(project, host, port);
    if ('refused' in verdict) {
      this.refuse(project, host, port, verdict.refused);
      request.resume();
      return void response.writeHead(403, { 'content-type': 'text/plain', connection: 'close' }).end(`berth: ${verdict.refused}\n`);
    }
    const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
    const upstream = httpRequest(
      { host: verdict.address, port, method: request.method, path: `${target.pathname}${target.search}`, headers: { ...headers, host: target.host }, setHost: false },
      (answer) => {
        const answerHeaders = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
        response.writeHead(answer.statusCode ?? 502, answerHeaders as Record<string, string | string[]>);
        answer.pipe(response);
      },
    );
    upstream.setTimeout(CONNECT_TIMEOUT_MS, () => upstream.destroy(new Error('timed out')));
    upstream.on('error', (error) => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' }).end(`berth: ${host}:${port}: ${error.message}\n`);
      else response.destroy();
    });
    response.on('close', () => upstream.destroy());
    request.pipe(upstream);
  }
}

/** `host:port` of a CONNECT; an IPv6 literal (`[::1]:443`) comes back with its brackets off, and is refused later. */
function splitHostPort(authority: string): { host: string; port: number } {
  const match = /^(\[[^\]]*\]|[^:]*):(\d{1,5})$/.exec(authority);
  if (!match) return { host: authority, port: 0 };
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1').toLowerCase(), port: Number(match[2]) };
}

function closeListener(listener: Listener): Promise<void> {
  return new Promise((resolve) => {
    listener.server.close(() => resolve());
    for (const socket of listener.sockets) socket.destroy();
  });
}
