import { constants } from 'node:fs';
import { access, chmod, chown, lchown, lstat, mkdir, open, readdir, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { containerName, LABELS, POOL_NETWORK, projectNetworkName, type ObservedContainer } from '../domain/container.js';
import {
  AGENT_UID,
  AGENT_USER,
  agentConfigDirOf,
  CONTAINER_WORKSPACE,
  buildContainerSpec,
  imageMissing,
  stopTimeoutMs,
  type HostFiles,
} from '../domain/container-spec.js';
import { BerthError } from '../domain/errors.js';
import { hasControlCharacters, quote } from '../domain/project.js';
import type { Settings } from '../domain/settings.js';
import { hostGatewayFromRoutes, ROUTE_TABLE, type HostGateway } from './container-gateway.js';
import { EgressProxy, type EgressRules } from './egress-proxy.js';
import type { HostFirewall } from './host-firewall.js';
import { interfaceHolding } from './host-interfaces.js';
import { ContainerNameTaken } from './errors.js';
import { RUN_MARKER } from './process/run-processes.js';
import { LoopbackBridge, loopbackTargetOf, type UrlLease } from './loopback-bridge.js';
import type { AgentRuntime, ContainerEngine, ExecOutcome, ExecRequest, NetworkSpec, ObservedNetwork, RuntimeProject } from './types.js';
import type { WarmPool } from './warm-pool.js';
import { isBerthWorkspace, workspaceProblem, type BerthFolders } from './workspace-guard.js';

const ADOPT_TRIES = 50;
const ADOPT_PAUSE_MS = 100;
const NETWORK_SETTLE_TRIES = 5;
const SHELL_ARGV = ['bash', '-l'];
const GATEWAY_READ_TIMEOUT_MS = 30_000;
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
// berth's own install: in a checkout, the claude-code devDependency lives under it.
const BERTH_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A project as this runtime reads it: `ownsWorkspace` (berth created the folder) when the caller knows it. */
export type ContainerProject = RuntimeProject & { ownsWorkspace?: boolean };

export interface ContainerRuntimeOptions<P extends ContainerProject> {
  /** berth's data folder (agent config folders go under `<home>/agents/`), and its settings folder: never a workspace. */
  paths: BerthFolders;
  /** The settings that apply to a project (its overrides over the global ones). */
  settingsFor: (project: P) => Settings;
  /** Labels added to every container this runtime creates, e.g. a test run's marker. */
  extraLabels?: Record<string, string>;
  /** The host user's home, for ~/.gitconfig and ~/.ssh. */
  hostHome?: string;
  /** For PATH, when looking for the host's claude binary. */
  env?: NodeJS.ProcessEnv;
  /** Warm containers to take instead of creating one, for the projects `usesPool` allows. */
  pool?: Pick<WarmPool, 'take' | 'remount' | 'release'>;
  usesPool?: (project: P) => boolean;
  /** The allowlist and the checks of the egress proxy; without them, commands get no proxy (and an internal network, no way out). */
  egress?: EgressRules;
  /** Keeps containers from this machine's own services; for an engine on this machine only. */
  firewall?: HostFirewall;
  /**
   * False for a remote engine: berth's proxies cannot listen on its networks,
   * so a project network there keeps its route out (egress not enforced).
   */
  engineIsLocal?: boolean;
}

/** How far a project's container is kept in: see RuntimeService.egressStatus. */
export interface EgressStatus {
  /** On its own network with no route out (internal, or sealed by the host firewall): the egress proxy is its only way out. */
  enforced: boolean;
  /** Why this machine's own services are within its reach, when they are. */
  hostExposed?: string;
  /** Why it has a route out, when it is not enforced. */
  routeOut?: string;
}

/** A command's proxy variables, and what keeps the proxy open for it. */
interface EgressLease {
  env: Record<string, string>;
  close(): Promise<void>;
}

const NO_EGRESS: EgressLease = { env: {}, close: () => Promise.resolve() };

export type Progress = (step: string) => void;

/**
 * One long-lived container per project. Every change to a project's container
 * runs under a per-project lock, so concurrent calls in this process make one
 * container; another berth process racing us is detected by the engine's name
 * conflict, and its container adopted.
 */
/** A program to run interactively where the agent runs, instead of a shell. */
export interface InteractiveCommand {
  argv: string[];
  env: Record<string, string>;
}

export class ContainerRuntime<P extends ContainerProject = ContainerProject> implements AgentRuntime {
  readonly mode = 'container' as const;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly bridge = new LoopbackBridge();
  /** By container id and start time: a restart may put the container on another address. */
  private readonly gateways = new Map<string, HostGateway>();
  private readonly egressProxy: EgressProxy | undefined;
  /** Project networks as ensured, by name: whether one is internal is fixed when it is made. */
  private readonly networks = new Map<string, ObservedNetwork>();
  /** Each network's bridge on this machine, by network id, once found: it lasts as long as the network. */
  private readonly bridges = new Map<string, string>();

  constructor(
    readonly engine: ContainerEngine,
    private readonly options: ContainerRuntimeOptions<P>,
  ) {
    this.egressProxy = options.egress && new EgressProxy(options.egress);
  }

  /** The project's container as the engine sees it now; undefined when there is none. */
  status(project: P): Promise<ObservedContainer | undefined> {
    return this.engine.inspect(containerName(project));
  }

  /** Running afterwards: reuses a running container, starts a stopped one, creates one if none. */
  ensure(project: P, onProgress?: Progress): Promise<ObservedContainer> {
    return this.locked(project, () => this.ensureUnlocked(project, onProgress));
  }

  /** The same as ensure: starting a project that has no container creates it. */
  start(project: P, onProgress?: Progress): Promise<ObservedContainer> {
    return this.ensure(project, onProgress);
  }

  /** Graceful (SIGTERM, then SIGKILL after container.stopTimeout); nothing to do when not running. */
  stop(project: P): Promise<void> {
    return this.locked(project, () => this.stopUnlocked(project));
  }

  restart(project: P, onProgress?: Progress): Promise<ObservedContainer> {
    return this.locked(project, async () => {
      await this.stopUnlocked(project);
      return this.ensureUnlocked(project, onProgress);
    });
  }

  /** A new container from the current image and settings; the workspace and the agent config folder are host folders, kept. */
  refresh(project: P, onProgress?: Progress): Promise<ObservedContainer> {
    return this.locked(project, async () => {
      await this.removeUnlocked(project, onProgress);
      return this.ensureUnlocked(project, onProgress);
    });
  }

  /** Removes the container (forced); the workspace and the agent config folder stay. */
  remove(project: P): Promise<void> {
    return this.locked(project, () => this.removeUnlocked(project));
  }

  /** Runs `request.argv` as the agent user in /workspace, starting the container first if needed. */
  async exec(project: P, request: ExecRequest): Promise<ExecOutcome> {
    const container = await this.ensure(project);
    const egress = await this.egressLease(project, container);
    try {
      return await this.engine.exec(container.id, { ...request, env: { ...egress.env, ...request.env }, user: AGENT_USER, workdir: CONTAINER_WORKSPACE });
    } finally {
      await egress.close();
    }
  }

  /**
   * An interactive shell in the container on this terminal, or `command` (the
   * agent's own TUI), its processes marked with `runMarker`; resolves with its exit code.
   */
  async shell(project: P, runMarker?: string, command?: InteractiveCommand): Promise<number> {
    const container = await this.ensure(project);
    const egress = await this.egressLease(project, container);
    // A command's own run marker (the daemon's, for the agent's TUI) wins: whoever gave it ends what it leaves.
    const env = { ...egress.env, ...(runMarker !== undefined && { [RUN_MARKER]: runMarker }), ...command?.env };
    try {
      return await this.engine.openShell(container.id, { user: AGENT_USER, workdir: CONTAINER_WORKSPACE, argv: command?.argv ?? SHELL_ARGV, env });
    } finally {
      await egress.close();
    }
  }

  /**
   * Kills what a run (marked with `marker`) left running in the project's
   * container: nothing to do when it has none or it does not run; throws
   * when it cannot be done (a paused container, an engine in trouble).
   */
  async endRun(project: P, marker: string): Promise<void> {
    const container = await this.status(project);
    if (container?.status === 'paused') throw new BerthError(`container ${container.name} is paused: docker unpause ${container.name} lets berth end what runs in it`);
    if (container?.status === 'running' || container?.status === 'restarting') await this.engine.endRun(container.id, marker, AGENT_USER);
  }

  /** How far the project's container is kept in; undefined when it has none. */
  async egressStatus(project: P): Promise<EgressStatus | undefined> {
    const container = await this.status(project);
    if (!container) return undefined;
    const network = await this.enforcedNetwork(project, container);
    if (!network) {
      const routeOut = await this.whyRouteOut(project, container);
      return { enforced: false, routeOut, hostExposed: routeOut };
    }
    const why = await this.guardHost(network);
    return why === undefined ? { enforced: true } : { enforced: true, hostExposed: why };
  }

  private async whyRouteOut(project: P, container: ObservedContainer): Promise<string> {
    if (this.options.engineIsLocal === false) return 'the engine is not on this machine, so berth cannot close its networks';
    if (!aloneOnOwnNetwork(project, container)) return 'it is not on its own network alone (made before per-project networks?): berth refresh recreates it';
    const firewallUnavailable = this.options.firewall ? await this.options.firewall.unavailable() : 'there is no host firewall';
    if (firewallUnavailable) return `the engine cannot make its network internal, and ${firewallUnavailable}`;
    return 'the engine cannot make its network internal, and iptables refused to seal its bridge';
  }

  /**
   * The project's network when the container is on it alone and it has no
   * route out: internal, or sealed by the host firewall where the engine
   * cannot make it internal (Podman); undefined otherwise.
   */
  private async enforcedNetwork(project: P, container: ObservedContainer): Promise<ObservedNetwork | undefined> {
    if (!aloneOnOwnNetwork(project, container)) return undefined;
    const name = projectNetworkName(project);
    let network = this.networks.get(name);
    if (!network) {
      network = await this.engine.ensureNetwork(this.networkSpecOf(project));
      this.networks.set(name, network);
    }
    if (network.internal) return network;
    return (await this.seal(network)) ? network : undefined;
  }

  /** Drops, on this machine, what is forwarded from or to the network's bridge: false where that cannot be done. */
  private async seal(network: ObservedNetwork): Promise<boolean> {
    const { firewall } = this.options;
    if (!firewall || !network.gateway) return false;
    // A Podman network's bridge appears when its first container starts: ensure seals it then.
    const bridge = await this.bridgeOf(network);
    return bridge !== undefined && (await firewall.seal(bridge, network.gateway));
  }

  /** The interface on this machine that holds the network's gateway, whatever the engine named it (br-…, cni-podman…). */
  private async bridgeOf(network: ObservedNetwork): Promise<string | undefined> {
    const known = this.bridges.get(network.id);
    if (known || !network.gateway) return known;
    const found = await interfaceHolding(network.gateway);
    if (found) this.bridges.set(network.id, found);
    return found;
  }

  /** Puts the host firewall on the network's bridge; resolves with why it could not, or undefined. */
  private async guardHost(network: ObservedNetwork): Promise<string | undefined> {
    const { firewall } = this.options;
    if (!firewall) return 'the engine is not on this machine';
    const why = await firewall.unavailable();
    if (why) return why;
    const bridge = await this.bridgeOf(network);
    if (!network.gateway || !bridge) return 'its network gives this machine no address';
    return (await firewall.guard(bridge, network.gateway)) ? undefined : 'iptables refused the rules';
  }

  /**
   * The egress proxy for one command: its URL in the variables git, npm, curl
   * and the agent CLI read. The gateway (where the credential proxy's relay
   * listens) is reached directly. Nothing on a network that has a route out
   * anyway (Podman), or for a container from before per-project networks.
   */
  private async egressLease(project: P, container: ObservedContainer): Promise<EgressLease> {
    const network = this.egressProxy && (await this.enforcedNetwork(project, container));
    if (!this.egressProxy || !network) return NO_EGRESS;
    await this.guardHost(network);
    const gateway = await this.gatewayOf(container);
    const lease = await this.egressProxy.lease(project.name, gateway);
    const noProxy = `localhost,127.0.0.1,${gateway.address}`;
    return {
      env: { HTTP_PROXY: lease.url, HTTPS_PROXY: lease.url, http_proxy: lease.url, https_proxy: lease.url, NO_PROXY: noProxy, no_proxy: noProxy },
      close: lease.close,
    };
  }

  private networkSpecOf(project: P): NetworkSpec {
    const subnetPool = String(this.options.settingsFor(project)['network.subnetPool']);
    return {
      name: projectNetworkName(project),
      labels: { ...this.options.extraLabels, [LABELS.project]: project.name },
      subnetPool,
      internal: this.options.engineIsLocal !== false,
    };
  }

  /**
   * `hostUrl` (the host's ANTHROPIC_BASE_URL, say) as a command in the
   * project's container reaches it. A URL on the host's loopback goes through
   * a relay on the container's gateway, starting the container if needed; any
   * other comes back as it is. Close the lease once the command has ended.
   */
  async reachableUrl(project: P, hostUrl: string): Promise<UrlLease> {
    if (!loopbackTargetOf(hostUrl)) return { url: hostUrl, close: () => Promise.resolve() };
    const container = await this.ensure(project);
    return this.bridge.lease(await this.gatewayOf(container, new URL(hostUrl).host), hostUrl);
  }

  /** On berth's shutdown: closes the relays reachableUrl opened, and the egress proxies. */
  async close(): Promise<void> {
    await Promise.all([this.bridge.close(), this.egressProxy?.close()]);
  }

  /** Read from inside, through the engine's exec: the container's own view, the same on Docker and Podman. */
  private async gatewayOf(container: ObservedContainer, forWhat = 'berth'): Promise<HostGateway> {
    const key = `${container.id} ${container.startedAt ?? ''}`;
    const known = this.gateways.get(key);
    if (known) return known;
    let routes = '';
    const outcome = await this.engine.exec(container.id, {
      argv: ['cat', ROUTE_TABLE],
      timeoutMs: GATEWAY_READ_TIMEOUT_MS,
      onStdout: (text) => (routes += text),
      user: AGENT_USER,
      workdir: CONTAINER_WORKSPACE,
    });
    const gateway = outcome.exitCode === 0 ? hostGatewayFromRoutes(routes) : undefined;
    if (!gateway) {
      throw new BerthError(`container ${container.name} has no network route to this machine, so ${forWhat} on this machine is out of its reach`);
    }
    this.gateways.set(key, gateway);
    return gateway;
  }

  private async ensureUnlocked(project: P, onProgress?: Progress): Promise<ObservedContainer> {
    const name = containerName(project);
    let container = await this.engine.inspect(name);
    if (container && (container.status === 'dead' || container.status === 'removing')) {
      onProgress?.(`removing ${name}, which is ${container.status}`);
      await this.engine.remove(container.id);
      container = undefined;
    }
    container ??= (await this.takeWarm(project, onProgress)) ?? (await this.create(project, onProgress));
    // An adopted warm container sees the project's folders through host mounts, which a reboot undoes.
    if (container.pool !== undefined) await this.options.pool?.remount(container.id);
    if (container.status === 'running' || container.status === 'restarting') return container;
    if (container.status === 'paused') throw new BerthError(`container ${name} is paused: docker unpause ${name} resumes it`);
    onProgress?.(`starting ${name}`);
    try {
      await this.startSettlingNetwork(project, container.id);
    } catch (error) {
      // `docker network prune` takes a stopped container's network: a new container, on a new network, keeps every host folder.
      if (!/network .* not found/i.test((error as Error).message)) throw error;
      onProgress?.(`the network of ${name} was removed (docker network prune?): recreating it, workspace and agent config kept`);
      await this.engine.remove(container.id);
      if (container.pool !== undefined) await this.options.pool?.release(container.id);
      container = await this.create(project, onProgress);
      await this.engine.start(container.id);
    }
    const started = await this.engine.inspect(container.id);
    if (!started) throw new BerthError(`container ${name} was removed while it started`);
    // Before any command runs in it: on Podman, the network is sealed only now that its bridge exists.
    await this.enforcedNetwork(project, started);
    return started;
  }

  /**
   * Starts the container. Two berth processes that made the project's network
   * at the same moment leave two of that name, and the engine refuses to
   * start a container on an ambiguous name: settling them (ensureNetwork keeps
   * the oldest) and starting again mends that.
   */
  private async startSettlingNetwork(project: P, id: string): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.engine.start(id);
      } catch (error) {
        if (attempt >= NETWORK_SETTLE_TRIES || !/is ambiguous/i.test((error as Error).message)) throw error;
        await this.engine.ensureNetwork(this.networkSpecOf(project));
        await sleep(ADOPT_PAUSE_MS);
      }
    }
  }

  /** A waiting warm container made the project's, when the pool has one and the project may use it. */
  private async takeWarm(project: P, onProgress?: Progress): Promise<ObservedContainer | undefined> {
    const { pool, usesPool } = this.options;
    if (!pool || !usesPool?.(project)) return undefined;
    await checkWorkspace(project, this.options.paths);
    await handWorkspaceToAgent(project, this.options.paths.home, onProgress);
    const agentConfigDir = agentConfigDirOf(this.options.paths.home, project.name);
    await prepareAgentConfigDir(agentConfigDir);
    const taken = await pool.take({ name: project.name, workspace: project.path }, agentConfigDir, containerName(project));
    if (!taken) return undefined;
    onProgress?.(`took a warm container from the pool for ${project.name}`);
    // It waited on the pool's network: it moves to the project's own, and only that one.
    const network = await this.engine.ensureNetwork(this.networkSpecOf(project));
    await this.engine.connectNetwork(taken.id, network.id);
    await this.engine.disconnectNetwork(taken.id, POOL_NETWORK);
    return (await this.engine.inspect(taken.id)) ?? taken;
  }

  private async create(project: P, onProgress?: Progress): Promise<ObservedContainer> {
    await checkWorkspace(project, this.options.paths);
    const settings = this.options.settingsFor(project);
    const image = String(settings['container.image']);
    // Checked first, so that a missing image is one line and nothing was started.
    if (!(await this.engine.imageExists(image))) throw imageMissing(image);
    await handWorkspaceToAgent(project, this.options.paths.home, onProgress);
    const agentConfigDir = agentConfigDirOf(this.options.paths.home, project.name);
    await prepareAgentConfigDir(agentConfigDir);
    const spec = buildContainerSpec({
      project,
      settings,
      agentConfigDir,
      hostFiles: await findHostFiles(this.options.hostHome ?? homedir(), this.options.env ?? process.env, settings),
      createdAt: new Date(),
      extraLabels: this.options.extraLabels,
    });
    onProgress?.(`creating ${spec.name} from ${spec.image}`);
    const network = await this.engine.ensureNetwork(this.networkSpecOf(project));
    try {
      return await this.engine.create({ ...spec, network: network.id });
    } catch (error) {
      if (!(error instanceof ContainerNameTaken)) throw error;
      // Another berth process created it between our inspect and our create: use theirs.
      const theirs = await this.inspectSoon(spec.name);
      if (!theirs) throw new BerthError(`container ${spec.name} was created and removed by someone else meanwhile: try again`);
      onProgress?.(`adopting ${spec.name}, created meanwhile by another berth`);
      return theirs;
    }
  }

  /** The engine reserves a name before the container it names can be inspected: give the other creator a moment. */
  private async inspectSoon(name: string): Promise<ObservedContainer | undefined> {
    for (let attempt = 0; attempt < ADOPT_TRIES; attempt += 1) {
      const container = await this.engine.inspect(name);
      if (container) return container;
      await sleep(ADOPT_PAUSE_MS);
    }
    return undefined;
  }

  private async stopUnlocked(project: P): Promise<void> {
    const container = await this.status(project);
    if (!container || (container.status !== 'running' && container.status !== 'restarting')) return;
    await this.engine.stop(container.id, stopTimeoutMs(this.options.settingsFor(project)));
  }

  private async removeUnlocked(project: P, onProgress?: Progress): Promise<void> {
    const container = await this.status(project);
    if (container) {
      onProgress?.(`removing ${container.name}`);
      await this.engine.remove(container.id);
      if (container.pool !== undefined) await this.options.pool?.release(container.id);
    }
    // Also when the container went behind berth's back (docker rm): its network is the project's still.
    await this.engine.removeNetwork(projectNetworkName(project));
    this.networks.delete(projectNetworkName(project));
    // Its bridge's name may be given to the next network made (Podman's are): its rules go now.
    await this.options.firewall?.forgetGone();
  }

  /** Runs `action` after every earlier action on the same project has settled. */
  private async locked<T>(project: P, action: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(project.name) ?? Promise.resolve();
    const run = previous.then(action);
    const settled = run.catch(() => undefined);
    this.locks.set(project.name, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(project.name) === settled) this.locks.delete(project.name);
    }
  }
}

/** On its project's network and no other: the one place the egress proxy can be its only way out. */
function aloneOnOwnNetwork(project: ContainerProject, container: ObservedContainer): boolean {
  return container.networks?.length === 1 && container.networks[0] === projectNetworkName(project);
}

/**
 * Before anything is created or mounted: the engine would otherwise fail with
 * a mount error, or create the folder as root; and a registry edited by hand
 * must not mount a system folder, berth's own, or the user's home.
 */
async function checkWorkspace(project: ContainerProject, berth: BerthFolders): Promise<void> {
  const workspace = project.path;
  if (hasControlCharacters(workspace)) throw new BerthError(`workspace ${quote(workspace)} of project ${project.name} has control characters`);
  const info = await stat(workspace).catch(() => undefined);
  if (!info) throw new BerthError(`workspace ${workspace} does not exist: restore it, or remove the project`);
  if (!info.isDirectory()) throw new BerthError(`workspace ${workspace} is not a folder`);
  const problem = await workspaceProblem(workspace, project.name, berth);
  if (problem) throw new BerthError(`workspace ${workspace} of project ${project.name} cannot be mounted: ${problem}`);
}

/**
 * The agent (uid 1000) writes the workspace. One that berth created belongs to
 * whoever ran berth: as root, berth hands it to uid 1000, once (a workspace
 * already owned by 1000 is left alone). A folder the user brought (--path) is
 * never changed: berth does not take the user's files away from them. Whether
 * berth created it is checked now, on the folder itself: a registry edited by
 * hand (`ownsWorkspace` on a host tree) changes nothing.
 */
async function handWorkspaceToAgent(project: ContainerProject, berthHome: string, onProgress?: Progress): Promise<void> {
  if (process.getuid?.() !== 0 || project.ownsWorkspace !== true) return;
  if (!(await isBerthWorkspace(project.path, project.name, berthHome))) {
    onProgress?.(`${project.path} is not a workspace berth created: its files keep their owner`);
    return;
  }
  if ((await stat(project.path)).uid === AGENT_UID) return;
  const entries = await readdir(project.path, { recursive: true });
  const files = [project.path, ...entries.map((entry) => path.join(project.path, entry))];
  await Promise.all(
    files.map(async (file) => {
      const info = await lstat(file);
      // A file with other hard links is another tree's too (git clone --local links objects): left as it is.
      // lchown: a link is changed itself, never what it points to (possibly outside the workspace).
      if (info.isDirectory() || info.nlink === 1) await lchown(file, AGENT_UID, AGENT_UID);
    }),
  );
}

/**
 * The agent user (uid 1000) must be able to write its config folder. As root,
 * berth gives it to uid 1000; as another user than 1000, it opens the folder
 * itself to everyone, which stays private behind berth's home (mode 0700).
 */
async function prepareAgentConfigDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const uid = process.getuid?.();
  if (uid === 0) await chown(dir, AGENT_UID, AGENT_UID);
  else if (uid !== undefined && uid !== AGENT_UID) await chmod(dir, 0o777);
}

async function findHostFiles(hostHome: string, env: NodeJS.ProcessEnv, settings: Settings): Promise<HostFiles> {
  const files: HostFiles = {};
  const gitconfig = path.join(hostHome, '.gitconfig');
  if (await isReadable(gitconfig)) files.gitconfig = gitconfig;
  const sshDir = path.join(hostHome, '.ssh');
  if (settings['container.mountSsh'] === true && (await isReadable(sshDir))) files.sshDir = sshDir;
  if (settings['claude.mountHostCli'] === true) files.claudeBinary = await findHostClaude(env);
  return files;
}

/**
 * The host's claude as a native Linux binary, so it runs in the container:
 * the first on PATH, else the one in berth's or the current folder's
 * node_modules/.bin, each resolved through its links (npm's bin link points
 * at the native binary that the package's postinstall put in place).
 */
export async function findHostClaude(env: NodeJS.ProcessEnv, cwd = process.cwd()): Promise<string | undefined> {
  const candidates = [
    ...(env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'claude')),
    path.join(BERTH_ROOT, 'node_modules', '.bin', 'claude'),
    path.join(cwd, 'node_modules', '.bin', 'claude'),
  ];
  for (const candidate of candidates) {
    const real = await realpath(candidate).catch(() => undefined);
    if (real && (await isLinuxExecutable(real))) return real;
  }
  return undefined;
}

async function isLinuxExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    const handle = await open(file, 'r');
    try {
      const head = Buffer.alloc(ELF_MAGIC.length);
      await handle.read(head, 0, head.length, 0);
      return head.equals(ELF_MAGIC);
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  }
}

async function isReadable(file: string): Promise<boolean> {
  return access(file, constants.R_OK).then(
    () => true,
    () => false,
  );
}
