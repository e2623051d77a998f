// The relay and the route table it is placed by, on this machine's own loopback:
// real sockets, no engine. What a container sees is in
// test/integration/container-model-api.test.ts.
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BerthError } from '../../src/domain/errors.js';
import { hostGatewayFromRoutes, inSubnet, type HostGateway } from '../../src/runtime/container-gateway.js';
import { LoopbackBridge, isLoopbackHost, loopbackTargetOf } from '../../src/runtime/loopback-bridge.js';

// /proc/net/route as read in containers on Docker's default bridge and on rootful Podman (CNI).
const DOCKER_ROUTES = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
`;
const PODMAN_ROUTES = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0100580A\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
`;
// --network none: the header and nothing else.
const NO_NETWORK = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n';

function rejectAfter(ms: number, reason: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(reason)), ms).unref());
}

/** A relay placed on this machine's loopback, which the tests' client can reach as a container reaches its gateway. */
const LOCAL: HostGateway = { address: '127.0.0.1', subnet: { address: '127.0.0.0', prefixLength: 8 } };

describe('the container gateway, from its route table', () => {
  it('is the default route and the network it sits in', () => {
    expect(hostGatewayFromRoutes(DOCKER_ROUTES)).toEqual({ address: '172.17.0.1', subnet: { address: '172.17.0.0', prefixLength: 16 } });
    expect(hostGatewayFromRoutes(PODMAN_ROUTES)).toEqual({ address: '10.88.0.1', subnet: { address: '10.88.0.0', prefixLength: 16 } });
  });

  it('is missing without a default route, or without a table', () => {
    expect(hostGatewayFromRoutes(NO_NETWORK)).toBeUndefined();
    expect(hostGatewayFromRoutes('')).toBeUndefined();
    expect(hostGatewayFromRoutes('cat: /proc/net/route: No such file or directory')).toBeUndefined();
  });

  it('admits only the peers of that network', () => {
    const subnet = { address: '172.17.0.0', prefixLength: 16 };
    expect(inSubnet('172.17.0.2', subnet)).toBe(true);
    expect(inSubnet('::ffff:172.17.255.254', subnet)).toBe(true);
    expect(inSubnet('172.18.0.2', subnet)).toBe(false);
    expect(inSubnet('192.0.2.2', subnet)).toBe(false);
    expect(inSubnet('fe80::1', subnet)).toBe(false);
    expect(inSubnet(undefined, subnet)).toBe(false);
    expect(inSubnet('172.17.0.1', { address: '172.17.0.1', prefixLength: 32 })).toBe(true);
    expect(inSubnet('172.17.0.2', { address: '172.17.0.1', prefixLength: 32 })).toBe(false);
  });
});

describe('which URLs need a relay', () => {
  it('those on the loopback, with their port or the scheme default', () => {
    expect(loopbackTargetOf('http://127.0.0.1:8080/v1')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(loopbackTargetOf('http://localhost')).toEqual({ host: 'localhost', port: 80 });
    expect(loopbackTargetOf('https://[::1]/anthropic')).toEqual({ host: '::1', port: 443 });
    expect(loopbackTargetOf('http://127.9.8.7:1')).toEqual({ host: '127.9.8.7', port: 1 });
    expect(loopbackTargetOf('http://gateway.localhost:3000')).toEqual({ host: 'gateway.localhost', port: 3000 });
    expect(loopbackTargetOf('http://0.0.0.0:4000')).toEqual({ host: '0.0.0.0', port: 4000 });
  });

  it('not those elsewhere, nor what is not a URL', () => {
    expect(loopbackTargetOf('https://api.anthropic.com')).toBeUndefined();
    expect(loopbackTargetOf('http://192.0.2.2:8080')).toBeUndefined();
    expect(loopbackTargetOf('http://localhost.example.com')).toBeUndefined();
    expect(loopbackTargetOf('http://128.0.0.1')).toBeUndefined();
    expect(loopbackTargetOf('not a url')).toBeUndefined();
    expect(isLoopbackHost('LOCALHOST')).toBe(true);
  });
});

describe('the loopback bridge', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  /** A server on the loopback that answers what it was sent, uppercased, once the sender has finished. */
  async function upperServer(): Promise<{ url: string; server: Server }> {
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (received += chunk));
      socket.on('end', () => socket.end(received.toUpperCase()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/base?q=1`, server };
  }

  function newBridge(): LoopbackBridge {
    const bridge = new LoopbackBridge();
    cleanups.push(() => bridge.close());
    return bridge;
  }

  /** Sends `text`, half-closes, and reads until the relay closes; rejects with the socket's error. */
  function exchange(url: string, text: string): Promise<string> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: true });
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (answer += chunk));
      socket.on('error', reject);
      socket.on('close', () => resolve(answer));
      socket.end(text);
    });
  }

  it('relays both ways, the answer after the client finished sending, and keeps path and query', async () => {
    const { url } = await upperServer();
    const lease = await newBridge().lease(LOCAL, url);
    expect(lease.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/base\?q=1$/);
    expect(new URL(lease.url).port).not.toBe(new URL(url).port);
    expect(await exchange(lease.url, 'hello relay')).toBe('HELLO RELAY');
    await lease.close();
  });

  it('passes a URL that is not on the loopback unchanged, opening nothing', async () => {
    const bridge = newBridge();
    const lease = await bridge.lease(LOCAL, 'https://api.anthropic.com/');
    expect(lease.url).toBe('https://api.anthropic.com/');
    expect(bridge.openRelays()).toBe(0);
  });

  it('refuses peers outside the container network', async () => {
    const { url } = await upperServer();
    const bridge = newBridge();
    const lease = await bridge.lease({ address: '127.0.0.1', subnet: { address: '10.0.0.0', prefixLength: 8 } }, url);
    const answer = await exchange(lease.url, 'let me in').catch((error: NodeJS.ErrnoException) => error.code);
    expect(['', 'ECONNRESET']).toContain(answer);
  });

  it('shares one relay per target, across concurrent leases, and closes it with the last lease', async () => {
    const { url } = await upperServer();
    const other = await upperServer();
    const bridge = newBridge();
    const [first, second] = await Promise.all([bridge.lease(LOCAL, url), bridge.lease(LOCAL, url)]);
    const elsewhere = await bridge.lease(LOCAL, other.url);
    expect(second.url).toBe(first.url);
    expect(elsewhere.url).not.toBe(first.url);
    expect(bridge.openRelays()).toBe(2);

    await first.close();
    await first.close();
    expect(await exchange(second.url, 'still here')).toBe('STILL HERE');
    await second.close();
    expect(bridge.openRelays()).toBe(1);
    await expect(exchange(second.url, 'gone')).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    const again = await bridge.lease(LOCAL, url);
    expect(await exchange(again.url, 'back')).toBe('BACK');
  });

  it('gives a lease asked for while the last one closed a relay that works', async () => {
    const { url } = await upperServer();
    const bridge = newBridge();
    const last = await bridge.lease(LOCAL, url);
    // Asked first, but still waiting for the relay when the last lease closes it.
    const asked = bridge.lease(LOCAL, url);
    await last.close();
    const lease = await asked;
    expect(await exchange(lease.url, 'fresh')).toBe('FRESH');
    expect(bridge.openRelays()).toBe(1);
  });

  it('closes every relay and the connections through them on shutdown, and opens no new one', async () => {
    const { url } = await upperServer();
    const bridge = newBridge();
    const lease = await bridge.lease(LOCAL, url);
    const { hostname, port } = new URL(lease.url);
    const open = connect({ host: hostname, port: Number(port) });
    await new Promise((resolve) => open.once('connect', resolve));
    const closed = new Promise((resolve) => open.once('close', resolve));
    open.on('error', () => undefined);

    // Bounded only so that a relay left open fails here, saying so, instead of hanging the run.
    await Promise.race([Promise.all([bridge.close(), closed]), rejectAfter(10_000, 'the bridge did not close its open connection')]);
    expect(bridge.openRelays()).toBe(0);
    await expect(exchange(lease.url, 'after')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(bridge.lease(LOCAL, url)).rejects.toThrow(/shutting down/);
  });

  it('ends the container side when the target does not answer', async () => {
    const { url, server } = await upperServer();
    await new Promise((resolve) => server.close(resolve));
    const lease = await newBridge().lease(LOCAL, url);
    const answer = await exchange(lease.url, 'anyone?').catch((error: NodeJS.ErrnoException) => error.code);
    expect(['', 'ECONNRESET']).toContain(answer);
  });

  it('says in one line when the gateway is no address of this machine', async () => {
    const bridge = newBridge();
    const error = await bridge
      .lease({ address: '198.51.100.77', subnet: { address: '198.51.100.0', prefixLength: 24 } }, 'http://user:pw@127.0.0.1:9/')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BerthError);
    const text = (error as Error).message;
    expect(text).toContain("http://127.0.0.1:9/ is on this machine's loopback");
    expect(text).toContain('198.51.100.77');
    expect(text).not.toContain('pw');
    expect(text).not.toContain('\n');
    expect(bridge.openRelays()).toBe(0);
  });
});
