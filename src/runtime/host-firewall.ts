/**
 * Closes the one door a project's internal network leaves open: this machine
 * itself. A container reaches every address of the host through its
 * network's gateway (the kernel delivers locally what Docker's isolation
 * rules, which filter forwarding, never see), so a service listening on
 * 0.0.0.0 would be in its reach. Per project bridge, berth's chain in the
 * INPUT table lets through only replies and berth's own listener ports on
 * the gateway, and drops the rest.
 *
 * Needs root, Linux, iptables and an engine on this machine; elsewhere it
 * says why, and berth net shows it.
 */
import { access } from 'node:fs/promises';
import { execa } from 'execa';
import { LISTENER_PORTS } from './listen-in-range.js';

const CHAIN = 'BERTH-INPUT';

export type IptablesRunner = (args: string[]) => Promise<{ exitCode: number; stdout: string }>;

const runIptables: IptablesRunner = async (args) => {
  const result = await execa('iptables', ['-w', ...args], { reject: false, stdin: 'ignore' });
  return { exitCode: result.exitCode ?? 1, stdout: result.stdout };
};

export class HostFirewall {
  private readonly guarded = new Set<string>();
  private ready: Promise<string | undefined> | undefined;

  constructor(private readonly run: IptablesRunner = runIptables) {}

  /** Why the firewall cannot work here, in one line; undefined when it can. Creates berth's chain once. */
  unavailable(): Promise<string | undefined> {
    this.ready ??= this.prepare();
    return this.ready;
  }

  /**
   * Lets `bridge` reach only replies and berth's listener ports on `gateway`;
   * idempotent, checked once per process. The rules of a removed network's
   * bridge are dropped the next time a bridge is guarded.
   */
  async guard(bridge: string, gateway: string): Promise<boolean> {
    if ((await this.unavailable()) !== undefined) return false;
    if (this.guarded.has(bridge)) return true;
    if ((await this.run(['-C', CHAIN, ...dropRule(bridge)])).exitCode !== 0) {
      await this.forgetGoneBridges();
      for (const rule of [
        ['-i', bridge, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'RETURN'],
        ['-i', bridge, '-d', gateway, '-p', 'tcp', '--dport', `${LISTENER_PORTS.first}:${LISTENER_PORTS.last}`, '-j', 'RETURN'],
        dropRule(bridge),
      ]) {
        const added = await this.run(['-A', CHAIN, ...rule]);
        if (added.exitCode !== 0) return false;
      }
    }
    this.guarded.add(bridge);
    return true;
  }

  private async prepare(): Promise<string | undefined> {
    if (process.platform !== 'linux') return 'the host firewall needs Linux';
    if (process.getuid?.() !== 0) return 'the host firewall needs berth to run as root';
    const listed = await this.run(['-S', CHAIN]).catch(() => undefined);
    if (!listed) return 'the host firewall needs iptables';
    if (listed.exitCode !== 0 && (await this.run(['-N', CHAIN])).exitCode !== 0) return `iptables refused to create the ${CHAIN} chain`;
    if ((await this.run(['-C', 'INPUT', '-j', CHAIN])).exitCode !== 0 && (await this.run(['-I', 'INPUT', '1', '-j', CHAIN])).exitCode !== 0) {
      return `iptables refused to send INPUT through ${CHAIN}`;
    }
    return undefined;
  }

  /** Rules of bridges that no longer exist match nothing: they go, so that the chain does not grow forever. */
  private async forgetGoneBridges(): Promise<void> {
    const gone = new Set<string>();
    for (const name of await this.bridgesInChain()) {
      if (!(await access(`/sys/class/net/${name}`).then(() => true, () => false))) gone.add(name);
    }
    if (gone.size > 0) await this.deleteRulesOf((name) => gone.has(name));
  }

  private async bridgesInChain(): Promise<string[]> {
    const { stdout } = await this.run(['-S', CHAIN]);
    return [...new Set(stdout.split('\n').flatMap((line) => / -i (\S+)/.exec(line)?.[1] ?? []))];
  }

  private async deleteRulesOf(matches: (bridge: string) => boolean): Promise<void> {
    const { stdout } = await this.run(['-S', CHAIN]);
    for (const line of stdout.split('\n')) {
      const bridge = / -i (\S+)/.exec(line)?.[1];
      if (bridge && matches(bridge)) await this.run(['-D', ...line.trim().split(/\s+/).slice(1)]);
    }
  }
}

function dropRule(bridge: string): string[] {
  return ['-i', bridge, '-j', 'DROP'];
}
