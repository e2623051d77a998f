/**
 * This machine's IPv4 interfaces and their addresses, down ones included.
 * Node's os.networkInterfaces() lists only interfaces that are up and
 * running, and an engine's bridge with no container running is down, yet
 * holds its address, which still reaches this machine.
 */
import { networkInterfaces } from 'node:os';
import { execa } from 'execa';

export interface HostInterface {
  name: string;
  addresses: Array<{ address: string; prefixLength: number }>;
}

/** How long recentHostInterfaces reuses a read: it sits on the path of every proxied connection. */
const RECENT_MS = 1_000;
let recent: { at: number; read: Promise<HostInterface[]> } | undefined;

/** Read now, from iproute2 (`ip -j addr`); where it is missing, what Node sees. */
export async function hostInterfaces(): Promise<HostInterface[]> {
  const listed = await execa('ip', ['-j', '-4', 'addr', 'show'], { reject: false, stdin: 'ignore' }).catch(() => undefined);
  const parsed = listed?.exitCode === 0 ? parseIpJson(listed.stdout) : undefined;
  return parsed ?? fromNode();
}

/** A read at most a second old. */
export function recentHostInterfaces(now = Date.now()): Promise<HostInterface[]> {
  if (!recent || now - recent.at > RECENT_MS) recent = { at: now, read: hostInterfaces() };
  return recent.read;
}

/** The interface that holds `address` (a network's gateway: its bridge, whatever the engine named it). */
export async function interfaceHolding(address: string): Promise<string | undefined> {
  return (await hostInterfaces()).find((found) => found.addresses.some((held) => held.address === address))?.name;
}

function parseIpJson(text: string): HostInterface[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  return value.flatMap((entry: { ifname?: unknown; addr_info?: unknown }) => {
    if (typeof entry?.ifname !== 'string' || !Array.isArray(entry.addr_info)) return [];
    const addresses = (entry.addr_info as Array<{ family?: unknown; local?: unknown; prefixlen?: unknown }>).flatMap((info) =>
      info?.family === 'inet' && typeof info.local === 'string' && typeof info.prefixlen === 'number' ? [{ address: info.local, prefixLength: info.prefixlen }] : [],
    );
    return [{ name: entry.ifname, addresses }];
  });
}

function fromNode(): HostInterface[] {
  return Object.entries(networkInterfaces()).map(([name, addresses]) => ({
    name,
    addresses: (addresses ?? []).flatMap((address) => (address.family === 'IPv4' ? [{ address: address.address, prefixLength: Number(address.cidr?.split('/')[1] ?? 32) }] : [])),
  }));
}
