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
 * Both hang on a jump from a built-in chain (INPUT, FORWARD) that must come
 * first there: an engine's rule before it that accepts the bridge's traffic
 * (Podman's CNI plugin inserts its own at 1 when it makes a network) would
 * take the packet first. So its place is checked before each command that
 * relies on it, and it is moved back to the top when something came before.
 *
 * Needs root, Linux, iptables and an engine on this machine; elsewhere it
 * says why, and berth net shows it.
 */
import { execa } from 'execa';
import { hostInterfaces, type HostInterface } from './host-interfaces.js';
import { LISTENER_PORTS } from './listen-in-range.js';

/** berth's chains, and the built-in chain each is jumped to from. */
const CHAINS = { 'BERTH-INPUT': 'INPUT', 'BERTH-FORWARD': 'FORWARD' } as const;
type Chain = keyof typeof CHAINS;
/** Each rule's comment: berth's, and the gateway of the network it is for. */
const TAG = 'berth:';

/** Runs `iptables` (or `iptables-restore`, reading `input`) with `args`; never rejects for an exit code. */
export type IptablesRunner = (command: 'iptables' | 'iptables-restore', args: string[], input?: string) => Promise<{ exitCode: number; stdout: string }>;

const runIptables: IptablesRunner = async (command, args, input) => {
  const result = await execa(command, ['-w', ...args], { reject: false, ...(input === undefined ? { stdin: 'ignore' } : { input }) });
  return { exitCode: result.exitCode ?? 1, stdout: result.stdout };
};

/** How often a jump is put back first when another program changes the chain at the same moment. */
const MOVE_ATTEMPTS = 3;

export class HostFirewall {
  private ready: Promise<string | undefined> | undefined;

  /** `interfaces` tells which bridges still hold their gateway; both seams default to this machine's. */
  constructor(
    private readonly run: IptablesRunner = runIptables,
    private readonly interfaces: () => Promise<HostInterface[]> = hostInterfaces,
  ) {}

  /** Why the firewall cannot work here, in one line; undefined when it can. Creates berth's chains once. */
  unavailable(): Promise<string | undefined> {
    this.ready ??= this.prepare();
    return this.ready;
  }

  /**
   * Lets `bridge` reach only replies and berth's listener ports on `gateway`.
   * Checked on every call, as seal is.
   */
  guard(bridge: string, gateway: string): Promise<boolean> {
    return this.ensureRules('BERTH-INPUT', gateway, [
      ['-i', bridge, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'RETURN'],
      ['-i', bridge, '-d', gateway, '-p', 'tcp', '--dport', `${LISTENER_PORTS.first}:${LISTENER_PORTS.last}`, '-j', 'RETURN'],
      ['-i', bridge, '-j', 'DROP'],
    ]);
  }

  /**
   * Drops every packet forwarded from or to `bridge` (which holds `gateway`):
   * no route out, nor in from another network. Checked on every call (not
   * cached), since it is what keeps the container in: it is cheap (two reads
   * when all is in place), and an engine may have put a rule before berth's
   * jump, or another berth pruned the rules, meanwhile.
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
    for (const chain of Object.keys(CHAINS) as Chain[]) await this.forgetGoneIn(chain);
  }

  /** The rules forgetGone would drop, as `iptables -S` prints them. */
  async goneRules(): Promise<string[]> {
    const rules: string[] = [];
    for (const chain of Object.keys(CHAINS) as Chain[]) rules.push(...(await this.goneRulesIn(chain)));
    return rules;
  }

  /**
   * Puts the jump to `chain` first in its built-in chain, then appends
   * `rules`, tagged with `gateway`, to `chain` unless its last one is there
   * already; false when iptables refuses.
   */
  private async ensureRules(chain: Chain, gateway: string, rules: string[][]): Promise<boolean> {
    if ((await this.unavailable()) !== undefined || !(await this.jumpFirst(chain))) return false;
    const tagged = rules.map((rule) => [...rule.slice(0, -2), '-m', 'comment', '--comment', `${TAG}${gateway}`, ...rule.slice(-2)]);
    if ((await this.iptables('-C', chain, ...tagged.at(-1)!)).exitCode === 0) return true;
    await this.forgetGoneIn(chain);
    for (const rule of tagged) {
      if ((await this.iptables('-A', chain, ...rule)).exitCode !== 0) return false;
    }
    return true;
  }

  /**
   * Makes the jump to `chain` the first rule of its built-in chain, by place,
   * not by presence: one read when it is. Otherwise the jumps found lower are
   * taken out and one is put at the top in a single iptables-restore
   * transaction, so the chain is never without it; retried when another
   * program changed the chain between the read and the move.
   */
  private async jumpFirst(chain: Chain): Promise<boolean> {
    const builtIn = CHAINS[chain];
    const jump = `-A ${builtIn} -j ${chain}`;
    for (let attempt = 0; attempt < MOVE_ATTEMPTS; attempt += 1) {
      const listed = await this.iptables('-S', builtIn);
      if (listed.exitCode !== 0) return false;
      const rules = listed.stdout.split('\n').filter((line) => line.startsWith('-A '));
      if (rules[0] === jump) return true;
      const stale = rules.filter((rule) => rule === jump).map(() => `-D ${builtIn} -j ${chain}`);
      const transaction = ['*filter', ...stale, `-I ${builtIn} 1 -j ${chain}`, 'COMMIT', ''].join('\n');
      if ((await this.run('iptables-restore', ['--noflush'], transaction)).exitCode === 0) return true;
    }
    return false;
  }

  private async prepare(): Promise<string | undefined> {
    if (process.platform !== 'linux') return 'the host firewall needs Linux';
    if (process.getuid?.() !== 0) return 'the host firewall needs berth to run as root';
    for (const [chain, builtIn] of Object.entries(CHAINS) as Array<[Chain, string]>) {
      const listed = await this.iptables('-S', chain).catch(() => undefined);
      if (!listed) return 'the host firewall needs iptables';
      // Another berth may have made it between the two calls: it is there, which is what counts.
      const made = async () => (await this.iptables('-N', chain)).exitCode === 0 || (await this.iptables('-S', chain)).exitCode === 0;
      if (listed.exitCode !== 0 && !(await made())) return `iptables refused to create the ${chain} chain`;
      if (!(await this.jumpFirst(chain))) return `iptables refused to send ${builtIn} through ${chain} first`;
    }
    return undefined;
  }

  private iptables(...args: string[]): ReturnType<IptablesRunner> {
    return this.run('iptables', args);
  }

  private async forgetGoneIn(chain: Chain): Promise<void> {
    // By its text, not its number, which another berth's change would shift. (Tags hold no spaces.)
    for (const line of await this.goneRulesIn(chain)) await this.iptables('-D', ...line.split(/\s+/).slice(1).map((token) => token.replaceAll('"', '')));
  }

  /** Reads only: where the chain is not there (or iptables cannot be run), none. */
  private async goneRulesIn(chain: Chain): Promise<string[]> {
    const { exitCode, stdout } = await this.iptables('-S', chain);
    if (exitCode !== 0) return [];
    const held = new Map((await this.interfaces()).map((found) => [found.name, new Set(found.addresses.map((address) => address.address))]));
    return stdout.split('\n').filter((line) => {
      if (!line.startsWith('-A ')) return false;
      const bridge = / -[io] (\S+)/.exec(line)?.[1];
      const gateway = new RegExp(`--comment "?${TAG}([\\d.]+)`).exec(line)?.[1];
      // Untagged: made by an earlier berth; it is added again, tagged.
      return !(bridge && gateway && held.get(bridge)?.has(gateway));
    });
  }
}
