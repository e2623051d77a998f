/**
 * The egress allowlist: which hosts a project's container may reach, through
 * berth's egress proxy, and nothing else. Pure: entries are parsed and
 * matched here; the proxy resolves names and opens connections.
 */
import { BerthError } from './errors.js';
import { formatCidr, inSubnet, numericIpv4, specialAddressReason, type Subnet } from './ipv4.js';
import { quote } from './project.js';

/** One allowlist entry: a host name, `*.` and a domain (its subdomains), or an IPv4 address; a port or, without one, 80 and 443. */
export interface HostEntry {
  host: string;
  wildcard: boolean;
  port?: number;
}

/** Reachable by every project unless denied: npm's registry. The model API host and the workspace's git host are added per project. */
export const DEFAULT_ALLOWED_HOSTS = ['registry.npmjs.org'] as const;
export const OFFICIAL_MODEL_API_HOST = 'api.anthropic.com';
/** Ports an entry without one opens: HTTP and HTTPS. */
export const WEB_PORTS = [80, 443] as const;

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const MAX_HOST_LENGTH = 253;
const ENTRY_HINT = 'expected a host name such as registry.npmjs.org, *.github.com, an IPv4 address, or one of them with :port';
const NEVER = 'berth never connects there';

/**
 * Only ASCII letters, digits, dots and hyphens: a look-alike (a Cyrillic
 * "а" in "аpi.github.com") is refused instead of silently meaning another host.
 */
export function parseHostEntry(text: string): HostEntry {
  const entry = text.trim().toLowerCase();
  const refuse = (why: string) => new BerthError(`allowlist entry ${quote(text, 60)}: ${why}`);
  const match = /^(\*\.)?([^:]*)(?::(\d{1,5}))?$/.exec(entry);
  if (!match || entry.length > MAX_HOST_LENGTH + 8) throw refuse(ENTRY_HINT);
  const [, star, host = '', portText] = match;
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (port < 1 || port > 65_535)) throw refuse('the port must be between 1 and 65535');
  const numeric = numericIpv4(host);
  if (numeric !== undefined && numeric !== host) {
    const special = specialAddressReason(numeric);
    throw refuse(`it is the address ${numeric} written another way${special ? `, ${special}: ${NEVER}` : `: write ${numeric}`}`);
  }
  const isAddress = IPV4.test(host);
  if (isAddress && star) throw refuse('a wildcard takes a domain, not an address');
  if (!isAddress) {
    const labels = host.split('.');
    if (host.length === 0 || host.length > MAX_HOST_LENGTH || !labels.every((label) => LABEL.test(label))) throw refuse(ENTRY_HINT);
    if (/^\d+$/.test(labels.at(-1)!)) throw refuse('not a host name, nor an IPv4 address');
    if (star && labels.length < 2) throw refuse('a wildcard needs a domain of two labels or more, such as *.github.com');
  }
  return { host, wildcard: star !== undefined, ...(port !== undefined && { port }) };
}

/** Names of this machine: localhost, any name under .localhost (RFC 6761), and Debian's names of its loopback. */
const LOCAL_NAMES = ['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback'];
/** Names of the clouds' metadata services (Google's; AWS's), which hand out the machine's credentials. */
const METADATA_NAMES = ['metadata.google.internal', 'metadata', 'instance-data', 'instance-data.ec2.internal'];

/**
 * Why an allowlist entry names what the egress proxy never connects to, or
 * undefined: this machine, a special address (loopback, link-local and the
 * metadata address, unspecified), a cloud's metadata service by name, or
 * berth's own networks (`ownNetworks`: other projects' containers). Such an
 * entry is refused when it is entered, and never suggested.
 */
export function neverReachedReason(entry: HostEntry, ownNetworks: readonly Subnet[]): string | undefined {
  const { host } = entry;
  if (LOCAL_NAMES.includes(host) || host.endsWith('.localhost')) return `${host} is this machine: ${NEVER}`;
  const metadata = METADATA_NAMES.find((name) => isAllowed([{ ...entry, port: undefined }], name, WEB_PORTS[0]));
  if (metadata) return `${metadata} is a cloud's metadata service: ${NEVER}`;
  if (!IPV4.test(host)) return undefined;
  const special = specialAddressReason(host);
  if (special) return `${host} is ${special}: ${NEVER}`;
  const own = ownNetworks.find((subnet) => inSubnet(host, subnet));
  if (own) return `${host} is in berth's own networks (${formatCidr(own)}, network.subnetPool), other projects' containers: ${NEVER}`;
  return undefined;
}

/** An entry as it is written in settings and shown. */
export function formatHostEntry(entry: HostEntry): string {
  return `${entry.wildcard ? '*.' : ''}${entry.host}${entry.port === undefined ? '' : `:${entry.port}`}`;
}

/** `net.allow` and `net.deny` hold entries separated by commas or spaces. */
export function parseHostList(text: string): HostEntry[] {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(parseHostEntry);
}

export function formatHostList(entries: readonly HostEntry[]): string {
  return entries.map(formatHostEntry).join(',');
}

/** Why a settings value is not a host list, or undefined when it is one. */
export function hostListProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 4000) return 'expected host names separated by commas, such as registry.npmjs.org,*.github.com';
  try {
    parseHostList(value);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Where an entry of the project's allowlist comes from, for `berth net`. */
export type EntrySource = 'default' | 'model API' | 'git remote' | 'net.allow';

export interface AllowlistEntry extends HostEntry {
  source: EntrySource;
}

export interface AllowlistInput {
  /** The host of the model API the credential proxy forwards to (its own traffic skips the egress proxy). */
  modelApiHost?: string;
  /** The host of the workspace's git remote, when it has one. */
  gitRemoteHost?: string;
  /** `net.allow`: entries added. */
  allow: string;
  /** `net.deny`: entries taken away, defaults included. */
  deny: string;
}

/** The project's allowlist: the defaults, its model API and git hosts, and `net.allow`, less what `net.deny` names. */
export function buildAllowlist(input: AllowlistInput): AllowlistEntry[] {
  const candidates: AllowlistEntry[] = [
    ...DEFAULT_ALLOWED_HOSTS.map((host) => ({ ...parseHostEntry(host), source: 'default' as const })),
    ...optionalEntry(input.modelApiHost, 'model API'),
    ...optionalEntry(input.gitRemoteHost, 'git remote'),
    ...parseHostList(input.allow).map((entry) => ({ ...entry, source: 'net.allow' as const })),
  ];
  const denied = new Set(parseHostList(input.deny).map(formatHostEntry));
  const seen = new Set<string>();
  return candidates.filter((entry) => {
    const key = formatHostEntry(entry);
    if (denied.has(key) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function optionalEntry(host: string | undefined, source: EntrySource): AllowlistEntry[] {
  if (!host) return [];
  try {
    return [{ ...parseHostEntry(host), source }];
  } catch {
    // A remote or base URL whose host is no valid entry (an IPv6 literal, say) opens nothing.
    return [];
  }
}

/** Whether the allowlist lets a connection to `host`:`port` through. */
export function isAllowed(allowlist: readonly HostEntry[], host: string, port: number): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return allowlist.some((entry) => {
    const hostMatches = entry.wildcard ? name.endsWith(`.${entry.host}`) : name === entry.host;
    const portMatches = entry.port === undefined ? (WEB_PORTS as readonly number[]).includes(port) : entry.port === port;
    return hostMatches && portMatches;
  });
}

/** The host of a git remote: https://github.com/o/r.git, git@github.com:o/r.git, ssh://git@host:22/o/r. */
export function gitRemoteHostOf(remote: string): string | undefined {
  const text = remote.trim();
  const scpLike = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)/.exec(text);
  if (scpLike && !/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return scpLike[1]!.toLowerCase();
  try {
    const url = new URL(text);
    if (url.protocol === 'file:' || url.hostname === '') return undefined;
    return url.hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The host that the host's ANTHROPIC_BASE_URL names, or the official API's. */
export function modelApiHostOf(baseUrl: string | undefined): string {
  if (!baseUrl) return OFFICIAL_MODEL_API_HOST;
  try {
    return new URL(baseUrl).hostname.toLowerCase() || OFFICIAL_MODEL_API_HOST;
  } catch {
    return OFFICIAL_MODEL_API_HOST;
  }
}

/**
 * The edit `berth net <name> allow|deny <host>` makes to the project's
 * `net.allow` and `net.deny`: allowing takes a host off the deny list and
 * adds it; denying takes it off the allow list, and denies it outright when
 * it would still be allowed (a default, say).
 */
export function editAllowlist(
  current: { allow: string; deny: string },
  verb: 'allow' | 'deny',
  entryText: string,
  stillAllowed: (allow: string, deny: string) => boolean,
): { allow: string; deny: string } {
  const key = formatHostEntry(parseHostEntry(entryText));
  const allow = parseHostList(current.allow).map(formatHostEntry).filter((entry) => entry !== key);
  const deny = parseHostList(current.deny).map(formatHostEntry).filter((entry) => entry !== key);
  if (verb === 'allow') return { allow: [...allow, key].join(','), deny: deny.join(',') };
  const allowText = allow.join(',');
  const denyText = stillAllowed(allowText, deny.join(',')) ? [...deny, key].join(',') : deny.join(',');
  return { allow: allowText, deny: denyText };
}
