/**
 * How a container reaches the machine its engine runs on: through its default
 * gateway, which on a bridge network (Docker's docker0, rootful Podman's
 * cni-podman0) is an address of that machine. Read from the container's own
 * routing table, so that it is what the container really uses, on any engine.
 */
import { inSubnet, type Subnet } from '../domain/ipv4.js';

/** The host side of a container's network: where a relay listens, and who may connect to it. */
export interface HostGateway {
  /** The container's default gateway (IPv4), e.g. 172.17.0.1. */
  address: string;
  /** The network the container is on, e.g. 172.17.0.0/16: only peers in it may use a relay. */
  subnet: Subnet;
}

export { inSubnet };

/** `cat` of this file is all it takes: readable by any user, present in every Linux container. */
export const ROUTE_TABLE = '/proc/net/route';

const FLAG_UP = 0x1;
const FLAG_GATEWAY = 0x2;

/**
 * The gateway of the default route and the network it sits in, from the text
 * of /proc/net/route; undefined when the container has no default route (no
 * network) or the table is not one.
 */
export function hostGatewayFromRoutes(routeTable: string): HostGateway | undefined {
  const routes = routeTable
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 8)
    .map(([iface, destination, gateway, flags, , , , mask]) => ({
      iface: iface!,
      destination: hexToIpv4(destination!),
      gateway: hexToIpv4(gateway!),
      flags: Number.parseInt(flags!, 16),
      mask: hexToIpv4(mask!),
    }));
  const byDefault = routes.find(
    (route) => route.destination === 0 && route.mask === 0 && (route.flags & (FLAG_UP | FLAG_GATEWAY)) === (FLAG_UP | FLAG_GATEWAY),
  );
  if (byDefault?.gateway === undefined || byDefault.gateway === 0) return undefined;
  // The on-link route of the same interface that holds the gateway: the container's network.
  const network = routes.find(
    (route) =>
      route.iface === byDefault.iface &&
      route.gateway === 0 &&
      route.mask !== undefined &&
      route.mask !== 0 &&
      route.destination !== undefined &&
      ((byDefault.gateway! & route.mask) >>> 0) === route.destination,
  );
  // Without one (an odd table), only the gateway itself, which is the host, may connect.
  const subnet = network
    ? { address: ipv4ToText(network.destination!), prefixLength: prefixLengthOf(network.mask!) }
    : { address: ipv4ToText(byDefault.gateway), prefixLength: 32 };
  return { address: ipv4ToText(byDefault.gateway), subnet };
}

/** The kernel writes addresses as 8 hex digits in the host's byte order: little-endian on x86 and arm64. */
function hexToIpv4(hex: string): number | undefined {
  if (!/^[0-9a-f]{8}$/i.test(hex)) return undefined;
  const bytes = Buffer.from(hex, 'hex');
  return bytes.readUInt32LE(0);
}

function ipv4ToText(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}

function prefixLengthOf(mask: number): number {
  let bits = 0;
  for (let value = mask; value !== 0; value = (value << 1) >>> 0) bits += 1;
  return bits;
}
