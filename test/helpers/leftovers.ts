/**
 * What a test run leaves on this machine, for test/global-setup.ts to name
 * and remove at the end of the run.
 *
 * A run tells what it made from what was there before and from what other
 * runs on the same machine make meanwhile (engineers run single files side
 * by side) by marks it gives its processes: TMPDIR points into a folder of
 * the run's own, so every temporary folder, workspace, mount and process a
 * test makes is under it or carries it in its environment (berth passes
 * TMPDIR on to the agent), and BERTH_TEST_RUN starts every test label
 * (newTestRunId). Networks carry no mark: the engines' events tell which ones
 * the run's containers were on, and their gateways tell berth's firewall
 * rules for them. A failed build step carries none either: a stopped
 * container with no label that was not there at the start counts.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Dockerode from 'dockerode';
import { execa } from 'execa';
import { LABELS } from '../../src/domain/container.js';
import { createDockerode } from '../../src/runtime/docker/connect.js';
import { HostFirewall } from '../../src/runtime/host-firewall.js';
import { TEST_RUN_LABEL, createDockerClient, dockerEngine } from './engine.js';
import { PODMAN_ADDRESS, probeEndpoint } from './podman.js';

/** Something the run made that is still there: what it is, in words, and how it goes. */
export interface Leftover {
  what: string;
  remove: () => Promise<void>;
}

interface Engine {
  name: string;
  client: Dockerode;
}

/** What the engines' events showed of the run's containers: the networks they were on, and those networks' gateways. */
interface Seen {
  networks: Set<string>;
  gateways: Set<string>;
}

interface EngineEventJson {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** How long processes a test ended get to exit before they count as left. */
const PROCESS_GRACE_MS = 5_000;

export class RunLeftovers {
  private readonly seen: Seen = { networks: new Set(), gateways: new Set() };
  private readonly streams: Readable[] = [];
  /** Inspections an event started, awaited before what they note is read. */
  private readonly noting = new Set<Promise<void>>();

  private constructor(
    /** The run's TMPDIR. */
    readonly folder: string,
    /** The run's mark: BERTH_TEST_RUN, and the start of every test label and namespace name. */
    readonly mark: string,
    private readonly engines: Engine[],
    /** The containers there at the start. */
    private readonly before: Set<string>,
    private readonly firewall: HostFirewall,
  ) {}

  /** Marks the processes started from now on (through process.env, which the test workers inherit), takes the snapshot and follows the engines' events. */
  static async start(): Promise<RunLeftovers> {
    const mark = `r${randomBytes(4).toString('hex')}`;
    const folder = await mkdtemp(path.join(tmpdir(), `berth-test-run-${mark}-`));
    // As /tmp is: a user other than root (the agent, say) writes its temporary files here too.
    await chmod(folder, 0o1777);
    process.env.TMPDIR = folder;
    process.env.BERTH_TEST_RUN = mark;
    const engines = await answeringEngines();
    const before = new Set<string>();
    for (const engine of engines) for (const container of await engine.client.listContainers({ all: true })) before.add(container.Id);
    const run = new RunLeftovers(folder, mark, engines, before, new HostFirewall());
    for (const engine of engines) await run.follow(engine);
    return run;
  }

  /** Everything the run left, in the order it is best removed: processes, containers, networks, rules, namespaces, mounts. */
  async find(): Promise<Leftover[]> {
    // Every test has ended: the events have told what they can.
    for (const stream of this.streams) stream.destroy();
    await Promise.all(this.noting);
    const containers = (await Promise.all(this.engines.map((engine) => this.containersOn(engine)))).flat();
    const networks = (await Promise.all(this.engines.map((engine) => this.networksOn(engine, new Set(containers.map((found) => found.id)))))).flat();
    return [...(await this.processes()), ...containers, ...networks, ...(await this.rules()), ...(await this.namespaces()), ...(await this.mounts())];
  }

  /** Removes `leftovers`, then the run's folder unless a mount is still under it (removing it would reach through). */
  async remove(leftovers: Leftover[]): Promise<void> {
    for (const leftover of leftovers) await leftover.remove().catch(() => undefined);
    await this.firewall.forgetGone();
    if ((await this.mounts()).length === 0) await rm(this.folder, { recursive: true, force: true });
  }

  /** Whether a container is the run's, by its labels. */
  private marks(labels: Record<string, string>, mounts: string[] = []): boolean {
    const workspace = labels[LABELS.workspace];
    return Boolean(labels[TEST_RUN_LABEL]?.startsWith(`${this.mark}-`) || (workspace && isUnder(workspace, this.folder)) || mounts.some((source) => isUnder(source, this.folder)));
  }

  /** Notes the networks of the run's containers as they start (and, on Docker, as they are connected to one). */
  private async follow(engine: Engine): Promise<void> {
    const stream = (await engine.client.getEvents({ filters: { type: ['container', 'network'] } })) as Readable;
    this.streams.push(stream);
    const decoder = new StringDecoder('utf8');
    let pending = '';
    stream.on('error', () => undefined);
    stream.on('data', (chunk: Buffer) => {
      const lines = (pending + decoder.write(chunk)).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        let event: EngineEventJson;
        try {
          event = JSON.parse(line) as EngineEventJson;
        } catch {
          continue;
        }
        const id = event.Actor?.ID;
        const attributes = event.Actor?.Attributes ?? {};
        if (event.Type === 'container' && (event.Action === 'create' || event.Action === 'start') && id && this.marks(attributes)) this.note(this.networksOf(engine, id));
        if (event.Type === 'network' && event.Action === 'connect' && id && attributes.container) this.note(this.networkIfMarked(engine, attributes.container, id));
      }
    });
  }

  private note(inspection: Promise<void>): void {
    const settled = inspection.catch(() => undefined).finally(() => this.noting.delete(settled));
    this.noting.add(settled);
  }

  private async networksOf(engine: Engine, containerId: string): Promise<void> {
    const inspected = await engine.client.getContainer(containerId).inspect().catch(() => undefined);
    // By name: Podman gives it as the NetworkID too.
    for (const name of Object.keys(inspected?.NetworkSettings.Networks ?? {})) await this.noteNetwork(engine, name);
  }

  private async networkIfMarked(engine: Engine, containerId: string, networkId: string): Promise<void> {
    const inspected = await engine.client.getContainer(containerId).inspect().catch(() => undefined);
    if (inspected && this.marks(inspected.Config.Labels ?? {}, inspected.Mounts.map((mount) => mount.Source))) await this.noteNetwork(engine, networkId);
  }

  /** `network` by name or id; noted by its id. */
  private async noteNetwork(engine: Engine, network: string): Promise<void> {
    const inspected = (await engine.client.getNetwork(network).inspect().catch(() => undefined)) as Dockerode.NetworkInspectInfo | undefined;
    if (!inspected) return;
    this.seen.networks.add(inspected.Id);
    for (const config of inspected.IPAM?.Config ?? []) if (config.Gateway) this.seen.gateways.add(config.Gateway);
  }

  private async processes(): Promise<Leftover[]> {
    const deadline = Date.now() + PROCESS_GRACE_MS;
    let found = await this.markedProcesses();
    while (found.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      found = await this.markedProcesses();
    }
    return found.map(({ pid, command }) => ({
      what: `process ${pid}: ${command}`,
      remove: async () => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
      },
    }));
  }

  /**
   * Processes with the run's TMPDIR in their environment or its folder as
   * their working directory; not vitest itself nor its workers (its
   * children), and not a tmux server, which sessions of other runs share.
   */
  private async markedProcesses(): Promise<Array<{ pid: number; command: string }>> {
    const marked: Array<{ pid: number; command: string }> = [];
    for (const entry of await readdir('/proc').catch(() => [])) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      // After the command's name, which may hold spaces and parentheses: state, then parent.
      const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (!state || state === 'Z' || Number(parent) === process.pid) continue;
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
      const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
      if (!environ.split('\0').includes(`TMPDIR=${this.folder}`) && !isUnder(cwd, this.folder)) continue;
      const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim();
      if (/^tmux\b/.test(command)) continue;
      marked.push({ pid, command: command.length > 160 ? `${command.slice(0, 160)}…` : command });
    }
    return marked;
  }

  private async containersOn(engine: Engine): Promise<Array<Leftover & { id: string }>> {
    const listed = await engine.client.listContainers({ all: true }).catch(() => []);
    return listed.flatMap((info) => {
      const labels = info.Labels ?? {};
      const marked = this.marks(labels, (info.Mounts ?? []).map((mount) => mount.Source ?? ''));
      // A failed step of an image build leaves its container unless the build says forcerm; it carries no mark.
      const buildStep = !this.before.has(info.Id) && info.State !== 'running' && !labels[LABELS.managed] && !labels[TEST_RUN_LABEL];
      if (!marked && !buildStep) return [];
      const name = info.Names?.[0]?.replace(/^\//, '') ?? info.Id.slice(0, 12);
      const workspace = labels[LABELS.workspace];
      const about = !marked ? `no label, as a failed build step leaves: ${info.Command}` : workspace ? `workspace ${workspace}` : info.Image;
      return [
        {
          id: info.Id,
          what: `container ${name} on ${engine.name} (${info.State}; ${about})`,
          remove: () => engine.client.getContainer(info.Id).remove({ force: true, v: true }),
        },
      ];
    });
  }

  /** berth's networks the run's containers were on, that no one else's container is on now. */
  private async networksOn(engine: Engine, leftContainers: Set<string>): Promise<Leftover[]> {
    const listed = await engine.client.listNetworks({ filters: { label: [`${LABELS.managed}=true`] } }).catch(() => []);
    const left: Leftover[] = [];
    for (const network of listed.filter((candidate) => this.seen.networks.has(candidate.Id))) {
      const inspected = await engine.client.getNetwork(network.Id).inspect().catch(() => undefined);
      if (!inspected || Object.keys((inspected as Dockerode.NetworkInspectInfo).Containers ?? {}).some((id) => !leftContainers.has(id))) continue;
      left.push({ what: `network ${network.Name} on ${engine.name}`, remove: () => engine.client.getNetwork(network.Id).remove() });
    }
    return left;
  }

  /** berth's firewall rules for the run's networks that are gone. */
  private async rules(): Promise<Leftover[]> {
    const gone = (await this.firewall.goneRules()).filter((rule) => this.seen.gateways.has(/--comment "?berth:([\d.]+)/.exec(rule)?.[1] ?? ''));
    // forgetGone, run by remove, takes them all at once.
    return gone.map((rule) => ({ what: `iptables rule ${rule}`, remove: async () => {} }));
  }

  private async namespaces(): Promise<Leftover[]> {
    const listed = await execa('ip', ['netns', 'list'], { reject: false });
    const names = (listed.stdout ?? '').split('\n').map((line) => line.split(' ')[0] ?? '');
    return names
      .filter((name) => name.startsWith(`${this.mark}-`))
      .map((name) => ({ what: `network namespace ${name}`, remove: async () => void (await execa('ip', ['netns', 'del', name], { reject: false })) }));
  }

  /** Mounts under the run's folder (warm pool slots, say), deepest first. */
  private async mounts(): Promise<Leftover[]> {
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
    // Field 5 is the mount point, with spaces and such escaped as octal.
    const points = mountinfo.split('\n').map((line) => (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
    return [...new Set(points.filter((point) => isUnder(point, this.folder)))]
      .sort((a, b) => b.length - a.length)
      .map((point) => ({ what: `mount on ${point}`, remove: async () => void (await execa('umount', ['-l', point], { reject: false })) }));
  }
}

/** Docker (where DOCKER_HOST points) and Podman (where the Podman suites find it), those that answer. */
async function answeringEngines(): Promise<Engine[]> {
  const engines: Engine[] = [];
  if (dockerEngine.answers) engines.push({ name: 'docker', client: createDockerClient() });
  const podman = await probeEndpoint(PODMAN_ADDRESS);
  if (podman.answers) engines.push({ name: 'podman', client: createDockerode(podman.endpoint) });
  return engines;
}

function isUnder(candidate: string, folder: string): boolean {
  return candidate === folder || candidate.startsWith(`${folder}/`);
}
