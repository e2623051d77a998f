/**
 * The host firewall against real iptables, in network namespaces of the
 * test's own, so that the host's rules are never touched: a "host" namespace
 * with a bridge, a "container" namespace on that bridge, and an "outside"
 * namespace the host routes to. Docker's and Podman's CNI rules, which
 * accept the bridge's traffic, are added before and after berth's, and the
 * seal must hold either way: by the chain's order and by real connections.
 */
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HostFirewall, type IptablesRunner } from '../../src/runtime/host-firewall.js';
import type { HostInterface } from '../../src/runtime/host-interfaces.js';
import { LISTENER_PORTS } from '../../src/runtime/listen-in-range.js';
import { newTestRunId } from '../helpers/engine.js';

const canRun = process.platform === 'linux' && process.getuid?.() === 0;
/** Named by the run's mark, by which the run's end finds a namespace left behind. */
const NAMESPACE = newTestRunId();
const HOST = `${NAMESPACE}-host`;
const CONTAINER = `${NAMESPACE}-ct`;
const OUTSIDE = `${NAMESPACE}-out`;
const BRIDGE = 'br-berthtest';
const GATEWAY = '10.250.0.1';
const SUBNET = '10.250.0.0/28';
const OUTSIDE_ADDRESS = '10.251.0.2';
const SERVICE_PORT = 8080;
const FORWARD_JUMP = '-A FORWARD -j BERTH-FORWARD';
const INPUT_JUMP = '-A INPUT -j BERTH-INPUT';

/** Rules as dockerd makes them, for a bridge of its own that is ours here: DOCKER-USER put first, then an accept of the bridge's traffic. */
const DOCKER_RULES = [
  ['-P', 'FORWARD', 'DROP'],
  ['-N', 'DOCKER-USER'],
  ['-A', 'DOCKER-USER', '-j', 'RETURN'],
  ['-N', 'DOCKER-ISOLATION-STAGE-1'],
  ['-A', 'DOCKER-ISOLATION-STAGE-1', '-j', 'RETURN'],
  ['-I', 'FORWARD', '1', '-j', 'DOCKER-ISOLATION-STAGE-1'],
  ['-I', 'FORWARD', '1', '-j', 'DOCKER-USER'],
  ['-A', 'FORWARD', '-o', BRIDGE, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
  ['-A', 'FORWARD', '-i', BRIDGE, '!', '-o', BRIDGE, '-j', 'ACCEPT'],
];
/** Rules as Podman's CNI firewall plugin makes them when it sets a network up: its chain jumped to from position 1. */
const CNI_RULES = [
  ['-N', 'CNI-FORWARD'],
  ['-A', 'CNI-FORWARD', '-d', SUBNET, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
  ['-A', 'CNI-FORWARD', '-s', SUBNET, '-j', 'ACCEPT'],
  ['-I', 'FORWARD', '1', '-m', 'comment', '--comment', 'CNI firewall plugin rules', '-j', 'CNI-FORWARD'],
];

const inNamespace = (namespace: string, command: string, args: string[], input?: string) =>
  execa('ip', ['netns', 'exec', namespace, command, ...args], { reject: false, ...(input === undefined ? { stdin: 'ignore' as const } : { input }) });

/** Every iptables command the firewall runs, for the test to count. */
const commands: string[][] = [];
const runInHost: IptablesRunner = async (command, args, input) => {
  commands.push([command, ...args]);
  const result = await inNamespace(HOST, command, ['-w', ...args], input);
  return { exitCode: result.exitCode ?? 1, stdout: result.stdout };
};

/** The host namespace's interfaces, as hostInterfaces reads this machine's. */
async function hostNamespaceInterfaces(): Promise<HostInterface[]> {
  const listed = await execa('ip', ['-n', HOST, '-j', '-4', 'addr', 'show']);
  const entries = JSON.parse(listed.stdout) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>;
  return entries.map((entry) => ({ name: entry.ifname, addresses: entry.addr_info.map((info) => ({ address: info.local, prefixLength: info.prefixlen })) }));
}

async function iptables(...args: string[]): Promise<string> {
  const result = await inNamespace(HOST, 'iptables', ['-w', ...args]);
  if (result.exitCode !== 0) throw new Error(`iptables ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function addRules(rules: string[][]): Promise<void> {
  for (const rule of rules) await iptables(...rule);
}

/** The rules of a built-in chain in order, without its policy. */
async function order(chain: 'FORWARD' | 'INPUT'): Promise<string[]> {
  return (await iptables('-S', chain)).split('\n').filter((line) => line.startsWith('-A '));
}

/** Whether a TCP connection from the container namespace to `address:port` gets the server's greeting. */
async function reaches(address: string, port: number): Promise<boolean> {
  const script = `const s = require('net').connect({ host: '${address}', port: ${port}, timeout: 1000 });
    s.on('data', () => process.exit(0)); s.on('timeout', () => process.exit(1)); s.on('error', () => process.exit(1));`;
  return (await inNamespace(CONTAINER, process.execPath, ['-e', script])).exitCode === 0;
}

const reachesOutside = () => reaches(OUTSIDE_ADDRESS, SERVICE_PORT);

/** A server in `namespace` that greets whoever connects to `ports`, on every address, added to `servers` once it listens. */
async function startServer(servers: ResultPromise[], namespace: string, ports: number[]): Promise<void> {
  const script = `for (const port of ${JSON.stringify(ports)}) require('net').createServer((s) => s.end('hi')).listen(port);`;
  const server = execa('ip', ['netns', 'exec', namespace, process.execPath, '-e', script], { stdin: 'ignore', reject: false });
  // Not returned: a subprocess is a promise of its end, which an async function would wait for.
  servers.push(server);
  const listening = async () => {
    const listed = (await inNamespace(namespace, 'ss', ['-Htln'])).stdout;
    return ports.every((port) => new RegExp(`:${port}\\s`).test(listed));
  };
  for (let attempt = 0; !(await listening()); attempt += 1) {
    if (attempt === 100 || server.exitCode !== null) throw new Error(`the server in ${namespace} does not listen`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.runIf(canRun)('the host firewall in a network namespace of its own (real iptables)', () => {
  const servers: ResultPromise[] = [];

  beforeAll(async () => {
    const ip = async (...args: string[]) => {
      const result = await execa('ip', args, { reject: false });
      if (result.exitCode !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr}`);
    };
    for (const namespace of [HOST, CONTAINER, OUTSIDE]) await ip('netns', 'add', namespace);
    await ip('-n', HOST, 'link', 'add', BRIDGE, 'type', 'bridge');
    await ip('-n', HOST, 'addr', 'add', `${GATEWAY}/28`, 'dev', BRIDGE);
    await ip('-n', HOST, 'link', 'set', BRIDGE, 'up');
    // The container: one end of a veth pair on the bridge, as an engine attaches one.
    await ip('link', 'add', 'veth-ct', 'netns', HOST, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', CONTAINER);
    await ip('-n', HOST, 'link', 'set', 'veth-ct', 'master', BRIDGE, 'up');
    await ip('-n', CONTAINER, 'addr', 'add', '10.250.0.2/28', 'dev', 'eth0');
    await ip('-n', CONTAINER, 'link', 'set', 'eth0', 'up');
    await ip('-n', CONTAINER, 'route', 'add', 'default', 'via', GATEWAY);
    // The outside: another network the host routes to.
    await ip('link', 'add', 'veth-out', 'netns', HOST, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', OUTSIDE);
    await ip('-n', HOST, 'addr', 'add', '10.251.0.1/30', 'dev', 'veth-out');
    await ip('-n', HOST, 'link', 'set', 'veth-out', 'up');
    await ip('-n', OUTSIDE, 'addr', 'add', `${OUTSIDE_ADDRESS}/30`, 'dev', 'eth0');
    await ip('-n', OUTSIDE, 'link', 'set', 'eth0', 'up');
    await ip('-n', OUTSIDE, 'route', 'add', 'default', 'via', '10.251.0.1');
    await inNamespace(HOST, 'sh', ['-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    await startServer(servers, OUTSIDE, [SERVICE_PORT]);
    // A service of the host's on every address, and one on a port berth's listeners use.
    await startServer(servers, HOST, [SERVICE_PORT, LISTENER_PORTS.first]);
  });

  afterAll(async () => {
    for (const server of servers) {
      server.kill();
      await server;
    }
    for (const namespace of [HOST, CONTAINER, OUTSIDE]) await execa('ip', ['netns', 'del', namespace], { reject: false });
  });

  beforeEach(async () => {
    // A host with no rules at all, each time.
    await inNamespace(HOST, 'iptables-restore', [], '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n');
    commands.length = 0;
  });

  it('control: the engines’ rules let the bridge’s traffic out', async () => {
    await addRules([...DOCKER_RULES, ...CNI_RULES]);
    expect(await reachesOutside()).toBe(true);
  });

  it('seals a bridge whose engines added their rules first', async () => {
    await addRules([...DOCKER_RULES, ...CNI_RULES]);
    const firewall = new HostFirewall(runInHost, hostNamespaceInterfaces);
    expect(await firewall.seal(BRIDGE, GATEWAY)).toBe(true);
    expect((await order('FORWARD'))[0]).toBe(FORWARD_JUMP);
    expect(await reachesOutside()).toBe(false);
  });

  it('keeps the seal when the engines put their rules before berth’s later, checked by place before each command', async () => {
    // One firewall for the whole test, as in a long-running berth (the control center).
    const firewall = new HostFirewall(runInHost, hostNamespaceInterfaces);
    expect(await firewall.seal(BRIDGE, GATEWAY)).toBe(true);
    await addRules([...DOCKER_RULES, ...CNI_RULES]);
    // As found on a new machine: berth's jump behind the engines' accepts, which let everything through.
    expect(await order('FORWARD')).toEqual(expect.arrayContaining([FORWARD_JUMP]));
    expect((await order('FORWARD'))[0]).not.toBe(FORWARD_JUMP);
    expect(await reachesOutside()).toBe(true);

    expect(await firewall.seal(BRIDGE, GATEWAY)).toBe(true);
    const rules = await order('FORWARD');
    expect(rules[0]).toBe(FORWARD_JUMP);
    expect(rules.filter((rule) => rule === FORWARD_JUMP)).toHaveLength(1);
    expect(rules).toContain('-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD');
    expect(await reachesOutside()).toBe(false);
  });

  it('leaves one jump, first, where earlier ones were left lower down', async () => {
    await addRules([...DOCKER_RULES, ['-N', 'BERTH-FORWARD'], ['-A', 'FORWARD', '-j', 'BERTH-FORWARD'], ...CNI_RULES, ['-A', 'FORWARD', '-j', 'BERTH-FORWARD']]);
    const firewall = new HostFirewall(runInHost, hostNamespaceInterfaces);
    expect(await firewall.seal(BRIDGE, GATEWAY)).toBe(true);
    const rules = await order('FORWARD');
    expect(rules[0]).toBe(FORWARD_JUMP);
    expect(rules.filter((rule) => rule === FORWARD_JUMP)).toHaveLength(1);
    expect(await reachesOutside()).toBe(false);
  });

  it('reads, and changes nothing, when all is in place', async () => {
    const firewall = new HostFirewall(runInHost, hostNamespaceInterfaces);
    await firewall.seal(BRIDGE, GATEWAY);
    commands.length = 0;
    expect(await firewall.seal(BRIDGE, GATEWAY)).toBe(true);
    expect(commands).toEqual([
      ['iptables', '-S', 'FORWARD'],
      ['iptables', '-C', 'BERTH-FORWARD', '-o', BRIDGE, '-m', 'comment', '--comment', `berth:${GATEWAY}`, '-j', 'DROP'],
    ]);
  });

  it('guards the host the same way: an accept put before berth’s INPUT jump later does not open it', async () => {
    expect(await reaches(GATEWAY, SERVICE_PORT)).toBe(true);
    const firewall = new HostFirewall(runInHost, hostNamespaceInterfaces);
    expect(await firewall.guard(BRIDGE, GATEWAY)).toBe(true);
    expect(await reaches(GATEWAY, SERVICE_PORT)).toBe(false);
    expect(await reaches(GATEWAY, LISTENER_PORTS.first)).toBe(true);

    // Another program accepts the bridge's traffic to the host, first.
    await iptables('-I', 'INPUT', '1', '-i', BRIDGE, '-j', 'ACCEPT');
    expect(await reaches(GATEWAY, SERVICE_PORT)).toBe(true);
    expect(await firewall.guard(BRIDGE, GATEWAY)).toBe(true);
    expect((await order('INPUT'))[0]).toBe(INPUT_JUMP);
    expect(await reaches(GATEWAY, SERVICE_PORT)).toBe(false);
  });
});
