/**
 * Makes a URL on the host's loopback (say ANTHROPIC_BASE_URL=http://127.0.0.1:8080,
 * a local gateway) reachable from a project's container, which has a loopback
 * of its own. A relay in berth's process listens on the container's gateway
 * address (an address of this machine that only its container networks reach,
 * never 0.0.0.0) and forwards each TCP connection to the loopback target.
 *
 * TCP, not HTTP: the relay reads nothing of what passes, so it holds no
 * credential and streams (SSE) flow as they are. One relay per gateway and
 * target, shared by every lease on it, closed when its last lease is.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { BerthError } from '../domain/errors.js';
import { inSubnet, type HostGateway } from './container-gateway.js';
import { listenInRange } from './listen-in-range.js';

/** A URL to hand to a command in the container, and what keeps it working until closed. */
export interface UrlLease {
  url: string;
  /** Ends this use of the URL; idempotent. The relay closes with its last lease. */
  close(): Promise<void>;
}

interface Target {
  host: string;
  port: number;
}

interface Relay {
  server: Server;
  port: number;
  leases: number;
  sockets: Set<Socket>;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/** The host and port a URL on this machine's loopback points at; undefined for any other URL. */
export function loopbackTargetOf(url: string): Target | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!isLoopbackHost(host)) return undefined;
  const port = parsed.port ? Number(parsed.port) : DEFAULT_PORTS[parsed.protocol];
  return port === undefined ? undefined : { host, port };
}

/** Names and addresses that mean "this machine" on the host, but the container itself inside it. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name) ||
    name === '0.0.0.0' ||
    name === '::1' ||
    name === '::' ||
    name === '::ffff:127.0.0.1' ||
    /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(name)
  );
}

/** `url` with its host and port replaced; path, query and credentials kept. */
function rewritten(url: string, host: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = host;
  parsed.port = String(port);
  return parsed.toString();
}

export class LoopbackBridge {
  private readonly relays = new Map<string, Promise<Relay>>();
  private closed = false;

  /**
   * `hostUrl` as a container behind `gateway` reaches it: through a relay when
   * it is on the host's loopback, unchanged (and nothing opened) otherwise.
   */
  async lease(gateway: HostGateway, hostUrl: string): Promise<UrlLease> {
    const target = loopbackTargetOf(hostUrl);
    if (!target) return { url: hostUrl, close: () => Promise.resolve() };
    if (this.closed) throw new BerthError('berth is shutting down: no new relay to the model API');
    const key = `${gateway.address} ${target.host} ${target.port}`;
    for (;;) {
      const opening = this.relays.get(key) ?? this.open(key, gateway, target, hostUrl);
      const relay = await opening;
      // Its last lease may have closed it while we waited: then open a fresh one.
      if (this.relays.get(key) === opening) return this.leaseOf(relay, key, opening, hostUrl, gateway);
      if (this.closed) throw new BerthError('berth is shutting down: no new relay to the model API');
    }
  }

  private open(key: string, gateway: HostGateway, target: Target, hostUrl: string): Promise<Relay> {
    const opening = openRelay(gateway, target, hostUrl);
    this.relays.set(key, opening);
    // A relay that could not open is not remembered: the next lease tries again.
    opening.catch(() => {
      if (this.relays.get(key) === opening) this.relays.delete(key);
    });
    return opening;
  }

  private leaseOf(relay: Relay, key: string, opening: Promise<Relay>, hostUrl: string, gateway: HostGateway): UrlLease {
    relay.leases += 1;
    let released = false;
    return {
      url: rewritten(hostUrl, gateway.address, relay.port),
      close: async () => {
        if (released) return;
        released = true;
        relay.leases -= 1;
        if (relay.leases > 0 || this.relays.get(key) !== opening) return;
        this.relays.delete(key);
        await closeRelay(relay);
      },
    };
  }

  /** How many relays are open now. */
  openRelays(): number {
    return this.relays.size;
  }

  /** On berth's shutdown: closes every relay and the connections through them. */
  async close(): Promise<void> {
    this.closed = true;
    const relays = [...this.relays.values()];
    this.relays.clear();
    await Promise.all(relays.map((opening) => opening.then(closeRelay, () => undefined)));
  }
}

async function openRelay(gateway: HostGateway, target: Target, hostUrl: string): Promise<Relay> {
  const sockets = new Set<Socket>();
  // allowHalfOpen: a client that finishes sending still gets the whole answer.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    // The listening address is reachable from the container networks; only the container's own network may use it.
    if (!inSubnet(client.remoteAddress, gateway.subnet)) return void client.destroy();
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.once('close', () => sockets.delete(socket));
    }
    // A failure or close on either side ends the other: the container sees a reset, not a hang.
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once('error', end).once('close', end);
    upstream.once('error', end).once('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await listenInRange(server, gateway.address).catch((error: unknown) => {
    throw relayFailure(error, gateway, hostUrl);
  });
  // Never what keeps berth running: a lease left open must not stop it from exiting.
  server.unref();
  return { server, port, leases: 0, sockets };
}

function closeRelay(relay: Relay): Promise<void> {
  return new Promise((resolve) => {
    relay.server.close(() => resolve());
    for (const socket of relay.sockets) socket.destroy();
  });
}

function relayFailure(error: unknown, gateway: HostGateway, url: string): BerthError {
  const hostUrl = withoutCredentials(url);
  const code = (error as { code?: string } | null)?.code;
  if (code === 'EADDRNOTAVAIL') {
    return new BerthError(
      `${hostUrl} is on this machine's loopback, and the container reaches no address of this machine (its gateway is ${gateway.address}: ` +
        'a remote engine, or rootless Podman?): use a base URL the container can reach',
    );
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new BerthError(`cannot relay ${hostUrl} to the container on ${gateway.address}: ${reason}`);
}

/** For messages: a URL's user and password are nobody's business. */
function withoutCredentials(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.toString();
}
