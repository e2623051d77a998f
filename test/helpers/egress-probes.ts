// What the egress suites (Docker and Podman) try from inside a project's container.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { expect } from 'vitest';
import type { BerthResult } from './berth-cli.js';

/** Runs a shell script as the agent in the project's container, as `berth exec` does (proxy variables set). */
export type ContainerShell = (project: string, script: string) => Promise<BerthResult>;

/** Where the test servers listen, in their containers. */
export const PORT = 8080;

/** An HTTP server that says who it is, run in an "outside" container or a project's. */
export const serverArgv = (name: string) => ['node', '-e', `require('http').createServer((q, s) => s.end('${name} says hi\\n')).listen(${PORT})`];

/** curl straight to `address` (host:port), bypassing the proxy. */
export const curlDirect = (address: string) => `curl -sS --noproxy '*' --connect-timeout 3 -m 5 http://${address}/`;

/** This machine's address on its own network (not a container bridge's). */
export function hostAddress(): string {
  const bridges = /^(docker\d*|br-|cni-|podman|veth)/;
  const found = Object.entries(networkInterfaces())
    .filter(([name]) => !bridges.test(name))
    .flatMap(([, addresses]) => addresses ?? [])
    .find((address) => address.family === 'IPv4' && !address.internal);
  if (!found) throw new Error('this machine has no IPv4 address of its own');
  return found.address;
}

/**
 * Starts a service listening on every address of this machine, then asserts
 * that the project's container reaches it neither at its gateway nor at this
 * machine's own address, while this machine itself does.
 */
export async function expectHostServiceOutOfReach(sh: ContainerShell, project: string): Promise<void> {
  const server = createServer((_request, response) => response.end('host service says hi\n'));
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    const gateway = new URL((await sh(project, 'echo "$http_proxy"')).stdout.trim()).hostname;
    for (const address of [gateway, hostAddress()]) {
      const direct = await sh(project, curlDirect(`${address}:${port}`));
      expect(direct.exitCode, `${address}: ${direct.stdout}`).not.toBe(0);
      expect(direct.stdout).not.toContain('host service says hi');
    }
    // From the host itself, the service answers: the firewall keeps out the containers only.
    expect(await (await fetch(`http://${hostAddress()}:${port}/`)).text()).toBe('host service says hi\n');
  } finally {
    server.close();
  }
}
