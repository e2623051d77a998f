/**
 * Each project's egress allowlist: built from the defaults, the model API's
 * host, the workspace's git remote and the `net.*` settings; edited by
 * `berth net` and the TUI; consulted by the egress proxy on every connection;
 * and the hosts it refused, kept in the audit log.
 */
import {
  buildAllowlist,
  editAllowlist,
  formatHostEntry,
  gitRemoteHostOf,
  modelApiHostOf,
  neverReachedReason,
  parseHostEntry,
  type AllowlistEntry,
  type HostEntry,
} from '../domain/egress.js';
import { BerthError } from '../domain/errors.js';
import { forbiddenAddressReason, parseCidr, type Subnet } from '../domain/ipv4.js';
import { quote, type Project } from '../domain/project.js';
import { settingsForProject, type Settings } from '../domain/settings.js';
import type { EgressRefusal, EgressRules } from '../runtime/egress-proxy.js';
import { gitRemoteUrl } from '../runtime/git.js';
import { recentHostInterfaces } from '../runtime/host-interfaces.js';
import type { ObservedNetwork } from '../runtime/types.js';
import type { AuditLog } from '../store/audit-log.js';
import type { SettingsStore } from '../store/settings-store.js';
import type { ProjectService } from './project-service.js';

export const EGRESS_REFUSED = 'egress-refused';

export interface RefusedHost {
  time: string;
  host: string;
  port: number;
  reason: string;
}

export interface EgressServiceDeps {
  projects: ProjectService;
  settings: () => SettingsStore;
  audit: AuditLog;
  /** berth's project networks, whose addresses no allowlist opens (another project's containers). */
  networks: () => Promise<ObservedNetwork[]>;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

/** A refused host is logged once per this span: an agent retrying in a loop does not flood the log. */
const REFUSAL_LOG_EVERY_MS = 30_000;
const CACHE_MS = 10_000;

export class EgressService implements EgressRules {
  private readonly remotes = new Map<string, { at: number; host: Promise<string | undefined> }>();
  private subnets: { at: number; subnets: Promise<Subnet[]> } | undefined;
  private readonly lastLogged = new Map<string, number>();

  constructor(private readonly deps: EgressServiceDeps) {}

  /** The project's allowlist, each entry with where it comes from. */
  async allowlistOf(project: Project): Promise<AllowlistEntry[]> {
    const settings = this.settingsOf(project);
    return buildAllowlist({
      modelApiHost: modelApiHostOf(this.env().ANTHROPIC_BASE_URL),
      gitRemoteHost: await this.gitRemoteHost(project),
      allow: String(settings['net.allow']),
      deny: String(settings['net.deny']),
    });
  }

  async allowlist(projectName: string): Promise<AllowlistEntry[]> {
    return this.allowlistOf(await this.deps.projects.require(projectName));
  }

  /**
   * `berth net <name> allow|deny <host>`: changes the project's `net.allow`
   * and `net.deny` so that the host is on the allowlist, or off it.
   */
  async edit(projectName: string, verb: 'allow' | 'deny', hostText: string): Promise<AllowlistEntry[]> {
    const project = await this.deps.projects.require(projectName);
    const parsed = parseHostEntry(hostText);
    const settings = this.settingsOf(project);
    // Denying such a host is harmless; allowing it would promise what the proxy never does.
    if (verb === 'allow') checkAllowable(parsed, hostText, settings);
    const entry = formatHostEntry(parsed);
    const modelApiHost = modelApiHostOf(this.env().ANTHROPIC_BASE_URL);
    const gitRemoteHost = await this.gitRemoteHost(project);
    const next = editAllowlist({ allow: String(settings['net.allow']), deny: String(settings['net.deny']) }, verb, entry, (allow, deny) =>
      buildAllowlist({ modelApiHost, gitRemoteHost, allow, deny }).some((candidate) => formatHostEntry(candidate) === entry),
    );
    if (next.allow !== settings['net.allow']) await this.deps.projects.setSetting(projectName, 'net.allow', next.allow);
    if (next.deny !== settings['net.deny']) await this.deps.projects.setSetting(projectName, 'net.deny', next.deny);
    return this.allowlist(projectName);
  }

  /** The hosts the proxy refused for the project, newest first. */
  async refused(projectName: string, limit = 10): Promise<RefusedHost[]> {
    const events = await this.deps.audit.recent((event) => event.project === projectName && event.action === EGRESS_REFUSED, limit);
    return events.map((event) => ({ time: event.time, host: String(event.host), port: Number(event.port), reason: event.reason }));
  }

  /** Why `berth net … allow <entryText>` would be refused, or undefined: the proxy's refusals suggest only entries that are not. */
  async allowRefusal(entryText: string): Promise<string | undefined> {
    try {
      checkAllowable(parseHostEntry(entryText), entryText, this.deps.settings().load());
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }

  async forbiddenAddress(address: string): Promise<string | undefined> {
    return forbiddenAddressReason(address, { localAddresses: await localAddresses(), projectSubnets: await this.projectSubnets() });
  }

  onRefused(refusal: EgressRefusal): void {
    const key = `${refusal.project} ${refusal.host} ${refusal.port}`;
    const now = this.now();
    if (now - (this.lastLogged.get(key) ?? -Infinity) < REFUSAL_LOG_EVERY_MS) return;
    this.lastLogged.set(key, now);
    void this.deps.audit
      .append({ project: refusal.project, action: EGRESS_REFUSED, reason: refusal.reason, host: refusal.host, port: refusal.port })
      .catch(() => undefined);
  }

  private settingsOf(project: Project): Settings {
    return settingsForProject(this.deps.settings().load(), project.settings);
  }

  private gitRemoteHost(project: Project): Promise<string | undefined> {
    const cached = this.remotes.get(project.path);
    if (cached && this.now() - cached.at < CACHE_MS) return cached.host;
    const host = gitRemoteUrl(project.path).then(
      (url) => (url === undefined ? undefined : gitRemoteHostOf(url)),
      () => undefined,
    );
    this.remotes.set(project.path, { at: this.now(), host });
    return host;
  }

  private projectSubnets(): Promise<Subnet[]> {
    if (this.subnets && this.now() - this.subnets.at < CACHE_MS) return this.subnets.subnets;
    const subnets = this.deps.networks().then(
      (networks) => networks.flatMap((network) => (network.subnet ? [parseCidr(network.subnet)].filter((subnet): subnet is Subnet => !!subnet) : [])),
      // No answer from the engine: every private range stands in for its networks, so that none is missed.
      () => PRIVATE_RANGES,
    );
    this.subnets = { at: this.now(), subnets };
    return subnets;
  }

  private env(): NodeJS.ProcessEnv {
    return this.deps.env ?? process.env;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }
}

/** Refuses an entry that names what berth never connects to; berth's own networks are those of network.subnetPool. */
function checkAllowable(entry: HostEntry, text: string, settings: Settings): void {
  const pool = parseCidr(String(settings['network.subnetPool']));
  const never = neverReachedReason(entry, pool ? [pool] : []);
  if (never) throw new BerthError(`allowlist entry ${quote(text, 60)}: ${never}`);
}

const PRIVATE_RANGES: Subnet[] = [
  { address: '10.0.0.0', prefixLength: 8 },
  { address: '172.16.0.0', prefixLength: 12 },
  { address: '192.168.0.0', prefixLength: 16 },
];

/** This machine's IPv4 addresses, down bridges' included: its services are not the internet, whatever name points at them. */
async function localAddresses(): Promise<string[]> {
  return (await recentHostInterfaces()).flatMap((found) => found.addresses.map((held) => held.address));
}
