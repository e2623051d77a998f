/**
 * What berth adds to iptables around a project's bridge, on this machine.
 *
 * - guard: closes the one door an internal network leaves open, this machine
 *   itself. A container reaches every address of the host through its
 *   network's gateway (the kernel delivers locally what the engine's
 *   isolation rules, which filter forwarding, never see), so a service
 *   listening on 0.0.0.0 would be in its reach. berth's INPUT chain lets
 *   through only replies and berth's own listener ports on the gateway.
 * - seal: for an engine that cannot make a network internal and still leave
 *   the host an address on it (Podman), drops everything forwarded from or to
 *   the bridge, which makes it internal in effect.
 *
 * Needs root, Linux, iptables and an engine on this machine; elsewhere it
 * says why, and berth net shows it.
 */
import { execa } from 'execa';
import { hostInterfaces } from './host-interfaces.js';
import { LISTENER_PORTS } from './listen-in-range.js';

/** berth's chains, and the built-in chain each is jumped to from. */
const CHAINS = { 'BERTH-INPUT': 'INPUT', 'BERTH-FORWARD': 'FORWARD' } as const;
type Chain = keyof typeof CHAINS;
/** Each rule's comment: berth's, and the gateway of the network it is for. */
const TAG = 'berth:';

export type IptablesRunner = (args: string[]) => Promise<{ exitCode: number; stdout: string }>;

const runIptables: IptablesRunner = async (args) => {
  const result = await execa('iptables', ['-w', ...args], { reject: false, stdin: 'ignore' });
  return { exitCode: result.exitCode ?? 1, stdout: result.stdout };
};

export class HostFirewall {
  private readonly guarded = new Set<string>();
  private ready: Promise<string | undefined> | undefined;

  constructor(private readonly run: IptablesRunner = runIptables) {}

  /** Why the firewall cannot work here, in one line; undefined when it can. Creates berth's chains once. */
  unavailable(): Promise<string | undefined> {
    this.ready ??= this.prepare();
    return this.ready;
  }

  /**
   * Lets `bridge` reach only replies and berth's listener ports on `gateway`;
   * idempotent, checked once per process.
   */
  async guard(bridge: string, gateway: string): Promise<boolean> {
    if (this.guarded.has(bridge)) return true;
    const added = await this.ensureRules('BERTH-INPUT', gateway, [
      ['-i', bridge, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'RETURN'],
      ['-i', bridge, '-d', gateway, '-p', 'tcp', '--dport', `${LISTENER_PORTS.first}:${LISTENER_PORTS.last}`, '-j', 'RETURN'],
      ['-i', bridge, '-j', 'DROP'],
    ]);
    if (added) this.guarded.add(bridge);
    return added;
  }

  /**
   * Drops every packet forwarded from or to `bridge` (which holds `gateway`):
   * no route out, nor in from another network. Checked on every call (not
   * cached), since it is what keeps the container in: it is cheap, and
   * another berth may have pruned the rules meanwhile.
   */
  seal(bridge: string, gateway: string): Promise<boolean> {
    return this.ensureRules('BERTH-FORWARD', gateway, [
      ['-i', bridge, '-j', 'DROP'],
      ['-o', bridge, '-j', 'DROP'],
    ]);
  }

  /**
   * Drops the rules of networks that are gone. Each rule names its network's
   * gateway; it is stale once its bridge no longer holds that address, which
   * matters since Podman reuses bridge names (cni-podman1, …): a stale rule
   * would otherwise cut off whatever network gets the name next.
   */
  async forgetGone(): Promise<void> {
    if ((await this.unavailable()) !== undefined) return;
    for (const chain of Object.keys(CHAINS) as Chain[]) await this.forgetGoneIn(chain);
  }

  /** Appends `rules`, tagged with `gateway`, to `chain` unless its last one is there already; false when iptables refuses. */
  private async ensureRules(chain: Chain, gateway: string, rules: string[][]): Promise<boolean> {
    if ((await this.unavailable()) !== undefined) return false;
    const tagged = rules.map((rule) => [...rule.slice(0, -2), '-m', 'comment', '--comment', `${TAG}${gateway}`, ...rule.slice(-2)]);
    if ((await this.run(['-C', chain, ...tagged.at(-1)!])).exitCode === 0) return true;
    await this.forgetGoneIn(chain);
    for (const rule of tagged) {
      if ((await this.run(['-A', chain, ...rule])).exitCode !== 0) return false;
    }
    return true;
  }

  private async prepare(): Promise<string | undefined> {
    if (process.platform !== 'linux') return 'the host firewall needs Linux';
    if (process.getuid?.() !== 0) return 'the host firewall needs berth to run as root';
    for (const [chain, builtIn] of Object.entries(CHAINS)) {
      const listed = await this.run(['-S', chain]).catch(() => undefined);
      if (!listed) return 'the host firewall needs iptables';
      if (listed.exitCode !== 0 && (await this.run(['-N', chain])).exitCode !== 0) return `iptables refused to create the ${chain} chain`;
      // First, so that no accept of the engine's comes before it.
      if ((await this.run(['-C', builtIn, '-j', chain])).exitCode !== 0 && (await this.run(['-I', builtIn, '1', '-j', chain])).exitCode !== 0) {
        return `iptables refused to send ${builtIn} through ${chain}`;
      }
    }
    return undefined;
  }

  private async forgetGoneIn(chain: Chain): Promise<void> {
    const { stdout } = await this.run(['-S', chain]);
    const rules = stdout.split('\n').filter((line) => line.startsWith('-A '));
    const held = new Map((await hostInterfaces()).map((found) => [found.name, new Set(found.addresses.map((address) => address.address))]));
    for (const line of rules) {
      const bridge = / -[io] (\S+)/.exec(line)?.[1];
      const gateway = new RegExp(`--comment "?${TAG}([\\d.]+)`).exec(line)?.[1];
      // Untagged: made by an earlier berth; it is added again, tagged.
      if (bridge && gateway && held.get(bridge)?.has(gateway)) continue;
      // By its text, not its number, which another berth's change would shift. (Tags hold no spaces.)
      await this.run(['-D', ...line.split(/\s+/).slice(1).map((token) => token.replaceAll('"', ''))]);
    }
  }
}

