/** IPv4 addresses and networks, as numbers: enough for berth's relays and the egress proxy's checks. */

export interface Subnet {
  address: string;
  prefixLength: number;
}

/** `a.b.c.d` (or `::ffff:a.b.c.d`, as a dual-stack socket reports a peer) as a number; undefined for anything else. */
export function ipv4ToNumber(text: string | undefined): number | undefined {
  const parts = text?.replace(/^::ffff:/i, '').split('.');
  if (!parts || parts.length !== 4 || parts.some((part) => !/^\d{1,3}$/.test(part) || Number(part) > 255)) return undefined;
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

/** Whether `address` (as a socket reports its peer) lies in `subnet`. */
export function inSubnet(address: string | undefined, subnet: Subnet): boolean {
  const peer = ipv4ToNumber(address);
  const network = ipv4ToNumber(subnet.address);
  if (peer === undefined || network === undefined) return false;
  const mask = subnet.prefixLength === 0 ? 0 : (~0 << (32 - subnet.prefixLength)) >>> 0;
  return ((peer & mask) >>> 0) === ((network & mask) >>> 0);
}

/** `172.18.0.0/16` → its address and prefix length; undefined when it is not IPv4 CIDR. */
export function parseCidr(text: string): Subnet | undefined {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!match || ipv4ToNumber(match[1]) === undefined || Number(match[2]) > 32) return undefined;
  return { address: match[1]!, prefixLength: Number(match[2]) };
}

/** Addresses that are never a host on the internet: no allowlist entry reaches them. */
const SPECIAL: ReadonlyArray<[Subnet, string]> = [
  [{ address: '0.0.0.0', prefixLength: 8 }, 'an unspecified address'],
  [{ address: '127.0.0.0', prefixLength: 8 }, "this machine's loopback"],
  [{ address: '169.254.0.0', prefixLength: 16 }, 'a link-local address (cloud metadata lives there)'],
  [{ address: '224.0.0.0', prefixLength: 3 }, 'a multicast or reserved address'],
];

/** What makes `address` one that is never a host on the internet (loopback, link-local...), or undefined. */
export function specialAddressReason(address: string): string | undefined {
  return SPECIAL.find(([subnet]) => inSubnet(address, subnet))?.[1];
}

/**
 * Why the egress proxy must not connect to `address` whatever the
 * allowlist says: a special address, one of this machine's own (its
 * services), or one in a berth project's network (another project).
 */
export function forbiddenAddressReason(address: string, context: { localAddresses: readonly string[]; projectSubnets: readonly Subnet[] }): string | undefined {
  if (ipv4ToNumber(address) === undefined) return 'not an IPv4 address';
  const special = specialAddressReason(address);
  if (special) return special;
  if (context.localAddresses.includes(address)) return 'an address of this machine';
  if (context.projectSubnets.some((subnet) => inSubnet(address, subnet))) return "an address in a berth project's network";
  return undefined;
}

export function formatCidr(subnet: Subnet): string {
  return `${subnet.address}/${subnet.prefixLength}`;
}

/** The first address after the network's own: where the host sits on a bridge network. */
export function firstHostOf(subnet: Subnet): string {
  return numberToIpv4(ipv4ToNumber(subnet.address)! + 1);
}

/**
 * A block of `prefixLength` in `pool` that overlaps none of `taken`, looking
 * from block number `startAt` on (and round): how berth gives each project
 * network a small subnet of its own, instead of a /16 from the engine's
 * default pools, which run out after about 30. A random start keeps berth
 * processes creating networks at once from reaching for the same block.
 */
export function nextFreeSubnet(pool: Subnet, prefixLength: number, taken: readonly Subnet[], startAt = 0): Subnet | undefined {
  const start = ipv4ToNumber(pool.address)!;
  const blockSize = 2 ** (32 - prefixLength);
  const blocks = Math.floor(2 ** (32 - pool.prefixLength) / blockSize);
  for (let step = 0; step < blocks; step += 1) {
    const candidate = { address: numberToIpv4(start + ((startAt + step) % blocks) * blockSize), prefixLength };
    if (!taken.some((other) => overlaps(candidate, other))) return candidate;
  }
  return undefined;
}

function overlaps(a: Subnet, b: Subnet): boolean {
  const wider = a.prefixLength <= b.prefixLength ? a : b;
  const narrower = wider === a ? b : a;
  return inSubnet(narrower.address, wider);
}

/**
 * An address in any of the forms the C library's resolver takes (inet_aton):
 * one to four parts, each decimal, octal (a leading 0) or hexadecimal (0x),
 * the last filling the bytes left: `0x7f000001`, `2130706433`, `0177.0.0.1`
 * and `127.1` are all 127.0.0.1. Undefined when `text` is no such form.
 */
export function numericIpv4(text: string): string | undefined {
  const parts = text.toLowerCase().split('.');
  if (parts.length > 4) return undefined;
  const values = parts.map((part) => (/^0x[0-9a-f]+$/.test(part) ? parseInt(part, 16) : /^0[0-7]*$/.test(part) ? parseInt(part, 8) : /^[1-9]\d*$/.test(part) ? Number(part) : NaN));
  if (values.some((value) => !Number.isSafeInteger(value))) return undefined;
  const last = values.pop()!;
  if (values.some((value) => value > 255) || last >= 2 ** (8 * (4 - values.length))) return undefined;
  return numberToIpv4(values.reduce((sum, value, index) => sum + value * 2 ** (8 * (3 - index)), 0) + last);
}

export function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}
