import { BerthError } from '../domain/errors.js';
import { containerOf, type ObservedContainer } from '../domain/container.js';
import { projectState } from '../domain/lifecycle.js';
import type { IsolationMode, Project } from '../domain/project.js';
import path from 'node:path';
import { buildContainerSpec, containerMemoryBytes } from '../domain/container-spec.js';
import { planStart } from '../domain/policies.js';
import { settingMs, settingsForProject, type Settings } from '../domain/settings.js';
import { ContainerRuntime, type EgressStatus, type InteractiveCommand } from '../runtime/container-runtime.js';
import { HostFirewall } from '../runtime/host-firewall.js';
import { connectEngine } from '../runtime/docker/connect.js';
import { resolveEngineEndpoint } from '../runtime/engine-endpoint.js';
import type { ContainerEngine, ExecOutcome, ExecRequest, StatsSample } from '../runtime/types.js';
import { localCaCertificates } from '../runtime/local-ca.js';
import type { UrlLease } from '../runtime/loopback-bridge.js';
import { AdoptionStore, WarmPool } from '../runtime/warm-pool.js';
import { WorkspaceRuntime } from '../runtime/workspace-runtime.js';
import type { AuditLog } from '../store/audit-log.js';
import type { BerthPaths } from '../store/paths.js';
import type { SettingsStore } from '../store/settings-store.js';
import { EgressService } from './egress-service.js';
import { WorkClaims, type HeldClaim } from './work-claims.js';
import type { WorkClaim, WorkKind } from '../domain/work.js';
import { endRun } from '../runtime/process/run-processes.js';
import { TranscriptStore } from '../store/transcripts.js';
import { policySnapshot } from './policy-facts.js';
import type { ProjectService } from './project-service.js';
import { StatsSampler, type StatsSamplerOptions } from './stats-sampler.js';

export type { StatsSample };

/** Between SIGTERM and SIGKILL to what a dead berth left running on the host. */
const LEFTOVER_GRACE_MS = 2_000;
export type { ProjectStats, StatsSnapshot } from './stats-sampler.js';

export interface RuntimeServiceDeps {
  paths: BerthPaths;
  projects: ProjectService;
  settings: () => SettingsStore;
  audit: AuditLog;
  /** `--engine` from the command line, which wins over the setting and DOCKER_HOST. */
  engineFlag?: string;
  env?: NodeJS.ProcessEnv;
}

/** One project with what the engine says of its container. */
export interface ProjectStatus {
  project: Project;
  container: ObservedContainer | undefined;
  state: Project['state'];
}

/**
 * Runs projects' agents where they belong: the workspace runtime on the host,
 * or the project's container. Records what happened (state, last activity,
 * audit log) so that a later berth, or the TUI, knows it.
 */
export class RuntimeService {
  private engine: ContainerEngine | undefined;
  private containers: ContainerRuntime<Project> | undefined;
  private readonly workspace = new WorkspaceRuntime();
  /** Project → turns, shells and execs running in it in this process. */
  private readonly activeWork = new Map<string, number>();
  private hostMemoryBytes: Promise<number> | undefined;
  private readonly adoptions: AdoptionStore;
  private pool: WarmPool | undefined;
  private egressService: EgressService | undefined;
  private workClaims: WorkClaims | undefined;

  constructor(private readonly deps: RuntimeServiceDeps) {
    this.adoptions = new AdoptionStore(path.join(deps.paths.home, 'pool', 'adopted.json'));
  }

  /** True when the engine runs on this machine, so that its containers' workspaces are this machine's folders. */
  engineIsLocal(): boolean {
    return this.endpoint().address.startsWith('unix://');
  }

  /**
   * Runs the healthchecks of these running containers where the engine does
   * not (Podman without systemd), so that their health means something; a
   * no-op on Docker. Resolves with how many ran.
   */
  async runHealthchecks(containerIds: readonly string[]): Promise<number> {
    let ran = 0;
    for (const id of containerIds) {
      // Docker answers false for the first: it runs its own, and so for all the others.
      if (!(await this.connect().runHealthcheck(id).catch(() => true))) return 0;
      ran += 1;
    }
    return ran;
  }

  /** Removes berth's dangling images. */
  pruneImages(): Promise<{ removed: number; reclaimedBytes: number }> {
    return this.connect().pruneImages();
  }

  /** Where the engine is, as the user should read it. */
  engineEndpoint(): string {
    return this.endpoint().address;
  }

  async up(name: string, onProgress?: (step: string) => void): Promise<ObservedContainer> {
    return this.ensureStarted(await this.containerProject(name), onProgress);
  }

  /** Stops a project's container; `action` and `reason` are what the audit log says (a policy's, or the user's). */
  async stop(name: string, why: { action: string; reason: string } = { action: 'stop', reason: 'stopped by the user' }): Promise<ObservedContainer | undefined> {
    const project = await this.containerProject(name);
    await this.containerRuntime().stop(project);
    return this.after(project, why.action, why.reason);
  }

  async restart(name: string): Promise<ObservedContainer | undefined> {
    const project = await this.containerProject(name);
    await this.containerRuntime().restart(project);
    return this.after(project, 'restart', 'restarted by the user');
  }

  async refresh(
    name: string,
    onProgress?: (step: string) => void,
    reason = 'recreated by the user, workspace and agent config kept',
  ): Promise<ObservedContainer | undefined> {
    const project = await this.containerProject(name);
    await this.containerRuntime().refresh(project, onProgress);
    return this.after(project, 'refresh', reason);
  }

  async removeContainer(name: string, reason = 'container removed by the user'): Promise<void> {
    const project = await this.containerProject(name);
    await this.containerRuntime().remove(project);
    await this.after(project, 'remove', reason);
  }

  /** Projects with a turn, shell or exec running in this process. */
  busyProjects(): ReadonlySet<string> {
    return new Set(this.activeWork.keys());
  }

  /** The host's memory and, for a local engine, what is available now (systeminformation). */
  private async hostMemoryNow(): Promise<{ total: number; available?: number }> {
    const total = await this.hostMemory();
    if (!this.engineIsLocal()) return { total };
    const { default: si } = await import('systeminformation');
    const available = await si.mem().then((memory) => memory.available, () => undefined);
    return available === undefined ? { total } : { total, available };
  }

  /** The host's memory, for the capacity check: the engine's host when it says, else this machine's. */
  async hostMemory(): Promise<number> {
    return this.hostMemoryBytes ??= (async () => {
      const fromEngine = await this.connect().memoryTotal().catch(() => 0);
      if (fromEngine > 0) return fromEngine;
      const { default: si } = await import('systeminformation');
      return (await si.mem()).total;
    })();
  }

  /**
   * Runs a command where the project's agent runs: its folder, or its
   * container (started if needed). It holds an exec claim on the project
   * while it runs, unless it runs for a claim the caller holds (a turn's).
   */
  async exec(name: string, request: Omit<ExecRequest, 'timeoutMs'> & { timeoutMs?: number }, claim?: HeldClaim): Promise<ExecOutcome> {
    const project = await this.deps.projects.require(name);
    // Checked here, before the mode is chosen, so both modes answer alike and an empty command starts no container.
    if (!request.argv[0]) throw new BerthError(`nothing to run in ${name}: the command is empty`);
    const settings = this.settingsOf(project);
    const timeoutMs = request.timeoutMs ?? settingMs(settings, 'runtime.execTimeout')!;
    return this.whileBusy(name, 'exec', async (held) => {
      const run = { ...request, timeoutMs, runMarker: held.marker };
      if (project.mode === 'workspace') return this.workspace.exec(project, run);
      await this.ensureStarted(project);
      return this.containerRuntime().exec(project, run);
    }, claim);
  }

  async shell(name: string, command?: InteractiveCommand): Promise<number> {
    const project = await this.containerProject(name);
    return this.whileBusy(name, 'shell', async (held) => {
      await this.ensureStarted(project);
      return this.containerRuntime().shell(project, held.marker, command);
    });
  }

  /**
   * Holds a claim on the project (see WorkClaims: other berth processes see
   * it, and policies leave a busy project alone) while `work` runs; with
   * `claim`, the caller's own, taken for a turn.
   */
  async whileBusy<T>(name: string, kind: WorkKind, work: (claim: HeldClaim) => Promise<T>, claim?: HeldClaim): Promise<T> {
    this.activeWork.set(name, (this.activeWork.get(name) ?? 0) + 1);
    let held = claim;
    try {
      held ??= await this.claims().take(name, kind);
      return await work(held);
    } finally {
      const left = (this.activeWork.get(name) ?? 1) - 1;
      if (left > 0) this.activeWork.set(name, left);
      else this.activeWork.delete(name);
      if (held && !claim) await held.release().catch(() => undefined);
    }
  }

  /** The claims of the work running in projects, in every berth process; abandoned work is ended here. */
  claims(): WorkClaims {
    return (this.workClaims ??= new WorkClaims({
      registry: this.deps.projects.registry,
      transcripts: new TranscriptStore(this.deps.paths.transcripts),
      audit: this.deps.audit,
      endLeftovers: (project, claim) => this.endLeftovers(project, claim),
    }));
  }

  /** Ends every process of a run (its marker), on the host or in the project's container (where it ran: `mode`). */
  async endRunOf(project: Project, marker: string, mode: IsolationMode = project.mode): Promise<void> {
    if (mode === 'workspace') return endRun({ marker }, LEFTOVER_GRACE_MS);
    await this.containerRuntime().endRun(project, marker);
  }

  /** Ends what an abandoned run left running, where it ran. */
  private endLeftovers(project: Project, claim: WorkClaim): Promise<void> {
    return this.endRunOf(project, claim.marker, claim.mode);
  }

  /** The project's container, running: started (after the policies' admission, and audited) when it was not. */
  private async ensureStarted(project: Project, onProgress?: (step: string) => void): Promise<ObservedContainer> {
    const before = await this.containerRuntime().status(project);
    if (before?.status === 'running') return before;
    await this.admit(project, onProgress);
    const container = await this.containerRuntime().ensure(project, onProgress);
    const adopted = !before && container.pool !== undefined;
    await this.after(project, adopted ? 'adopt' : 'start', adopted ? 'took a warm container from the pool (policies.warmPool)' : before ? 'started' : 'created and started', container);
    return container;
  }

  /**
   * Before a project's container starts: the LRU cap and the capacity check.
   * Stops the least recently used others when the cap needs it (audited as
   * evictions), or refuses with the reason (audited too).
   */
  private async admit(project: Project, onProgress?: (step: string) => void): Promise<void> {
    const statuses = await this.statuses();
    const own = statuses.find((status) => status.project.name === project.name);
    const settings = this.deps.settings().load();
    const snapshot = policySnapshot({
      projects: statuses.map((status) => status.project),
      containers: new Map(statuses.flatMap((status) => (status.container ? [[status.project.name, status.container] as const] : []))),
      settings,
      now: Date.now(),
      busyHere: this.busyProjects(),
      lastImagePrune: null,
    });
    const memoryLimit = own?.container?.limits.memoryBytes || containerMemoryBytes(settingsForProject(settings, project.settings));
    const decision = planStart(snapshot, { project: project.name, memoryLimit }, await this.hostMemoryNow());
    if (!decision.allowed) {
      await this.deps.audit.append({ project: project.name, action: 'refused-start', reason: decision.reason });
      throw new BerthError(decision.reason);
    }
    for (const evicted of decision.evict) {
      onProgress?.(`stopping ${evicted.project} to make room (policies.maxRunning)`);
      await this.stop(evicted.project, { action: 'evict', reason: evicted.reason });
    }
  }

  /** The project's container as the engine sees it now; undefined when it has none. */
  async container(name: string): Promise<ObservedContainer | undefined> {
    const project = await this.deps.projects.require(name);
    return project.mode === 'container' ? this.containerRuntime().status(project) : undefined;
  }

  /** How many of the container's processes the kernel killed for want of memory since `since` (0 with no container). */
  async oomKillsSince(name: string, since: Date): Promise<number> {
    const container = await this.container(name);
    return container ? this.connect().oomKillsSince(container.id, since) : 0;
  }

  async logs(name: string, options: { follow: boolean; signal?: AbortSignal; onChunk: (text: string) => void }): Promise<void> {
    const project = await this.containerProject(name);
    const container = await this.containerRuntime().status(project);
    if (!container) throw new BerthError(`project ${name} has no container yet: berth up ${name} creates it`);
    await this.connect().logs(container.id, { ...options, tail: 200 });
  }

  /** Every project with its container as the engine reports it now. */
  async statuses(): Promise<ProjectStatus[]> {
    const projects = await this.deps.projects.list();
    const needsEngine = projects.some((project) => project.mode === 'container');
    const containers = needsEngine ? await this.connect().listManaged() : [];
    const settings = this.deps.settings().load();
    const now = Date.now();
    const statuses = projects.map((project): ProjectStatus => {
      const container = project.mode === 'container' ? containerOf(project, containers) : undefined;
      return { project, container, state: projectState(project, container, settings, now) };
    });
    // The engine is the record: what changed behind berth's back (a docker rm, a kill) reaches the registry.
    for (const status of statuses) {
      if (status.state !== status.project.state) await this.deps.projects.record(status.project.name, { state: status.state });
    }
    return statuses;
  }

  /** The host's `hostUrl` as the project's container reaches it (a relay for a loopback URL); close the lease after use. */
  async reachableUrl(name: string, hostUrl: string): Promise<UrlLease> {
    const project = await this.containerProject(name);
    return this.containerRuntime().reachableUrl(project, hostUrl);
  }

  /** Closes the relays this service opened; for berth's shutdown. */
  async close(): Promise<void> {
    await this.containers?.close();
  }

  /** A sampler of the running containers' stats, on the engine this service talks to; by default the projects' containers. */
  statsSampler(options: Partial<StatsSamplerOptions> = {}): StatsSampler {
    const projectContainers = async () => (await this.statuses()).flatMap((status) => (status.container ? [status.container] : []));
    return new StatsSampler(this.connect(), { listContainers: projectContainers, ...options });
  }

  /**
   * CPU%, memory used and limit of each running container in `containers`:
   * CPU% needs two samples, so this takes about `gapMs`.
   */
  async sampleUsage(containers: ObservedContainer[], gapMs = 1_000): Promise<Map<string, StatsSample>> {
    const running = containers.filter((container) => container.status === 'running');
    if (running.length === 0) return new Map();
    const sampler = this.statsSampler({ listContainers: async () => running });
    await sampler.sampleOnce();
    await new Promise((resolve) => setTimeout(resolve, gapMs));
    await sampler.sampleOnce();
    return new Map([...sampler.snapshot().values()].map((stats) => [stats.containerId, stats.latest]));
  }

  async buildImage(options: { tag?: string; network?: string; onProgress: (line: string) => void }): Promise<string> {
    const tag = options.tag ?? String(this.deps.settings().load()['container.image']);
    await this.connect().buildImage(dockerContextDir(), tag, {
      ...(options.network !== undefined && { networkMode: options.network }),
      buildArgs: await extraCaBuildArgs(),
      onProgress: options.onProgress,
    });
    return tag;
  }

  /** The engine, connected on first use: commands that need none never touch it. */
  connect(): ContainerEngine {
    return (this.engine ??= connectEngine(this.endpoint(), { owners: this.adoptions }));
  }

  private endpoint() {
    const setting = String(this.deps.settings().load().engine);
    return resolveEngineEndpoint({ flag: this.deps.engineFlag, setting, env: this.deps.env ?? process.env });
  }

  private containerRuntime(): ContainerRuntime<Project> {
    return (this.containers ??= new ContainerRuntime<Project>(this.connect(), {
      paths: this.deps.paths,
      settingsFor: (project) => this.settingsOf(project),
      pool: this.warmPool(),
      egress: this.egress(),
      engineIsLocal: this.engineIsLocal(),
      ...(this.engineIsLocal() && { firewall: new HostFirewall() }),
      // A warm container has berth's settings: a project that overrides its container's keeps its own.
      usesPool: (project) => Number(this.deps.settings().load()['policies.warmPool']) > 0 && !Object.keys(project.settings ?? {}).some((key) => key.startsWith('container.')),
    }));
  }

  /** Each project's egress allowlist, and the hosts the egress proxy refused. */
  egress(): EgressService {
    return (this.egressService ??= new EgressService({
      projects: this.deps.projects,
      settings: this.deps.settings,
      audit: this.deps.audit,
      networks: () => this.connect().listNetworks(),
      env: this.deps.env,
    }));
  }

  /**
   * How far the project's container is kept in: enforced on its own internal
   * network, not on one with a route out (Podman, or a container from before
   * per-project networks); whether this machine's services are in its reach;
   * undefined with no container.
   */
  async egressStatus(name: string): Promise<EgressStatus | undefined> {
    return this.containerRuntime().egressStatus(await this.containerProject(name));
  }

  /** The warm pool of this berth's engine; it says why when it cannot work here. */
  private warmPool(): WarmPool {
    return (this.pool ??= new WarmPool(this.connect(), {
      home: this.deps.paths.home,
      engineIsLocal: this.engineIsLocal(),
      adoptions: this.adoptions,
      specFor: async (folders) =>
        buildContainerSpec({
          project: { name: 'pool', path: folders.workspace },
          settings: this.deps.settings().load(),
          agentConfigDir: folders.agentConfigDir,
          hostFiles: {},
          createdAt: new Date(),
        }),
    }));
  }

  /**
   * Keeps policies.warmPool warm containers waiting (creating or removing
   * some), each change audited; says in one line why, when the pool cannot work here.
   */
  async maintainWarmPool(): Promise<{ created: number; removed: number; unavailable?: string }> {
    const size = Number(this.deps.settings().load()['policies.warmPool']);
    const pool = this.warmPool();
    if (size > 0) {
      const unavailable = await pool.unavailable();
      if (unavailable) return { created: 0, removed: 0, unavailable };
    } else if ((await pool.waiting().catch(() => [])).length === 0) {
      return { created: 0, removed: 0 };
    }
    const change = await pool.fill(size);
    for (const id of change.created) await this.deps.audit.append({ project: '', action: 'warm', reason: `policies.warmPool is ${size}: a warm container is waiting`, container: id.slice(0, 12) });
    for (const id of change.removed) await this.deps.audit.append({ project: '', action: 'unwarm', reason: `policies.warmPool is ${size}: one fewer waits`, container: id.slice(0, 12) });
    return { created: change.created.length, removed: change.removed.length };
  }

  private settingsOf(project: Project): Settings {
    return settingsForProject(this.deps.settings().load(), project.settings);
  }

  private async containerProject(name: string): Promise<Project> {
    const project = await this.deps.projects.require(name);
    // What a dead berth left running in it is ended before anything else is done to it.
    await this.claims().recover(name);
    if (project.mode !== 'container') {
      throw new BerthError(
        `project ${name} runs in workspace mode: it has no container (berth project set ${name} mode container gives it one)`,
      );
    }
    return project;
  }

  /** Records the new state and the audit event of a lifecycle action. */
  private async after(project: Project, action: string, reason: string, known?: ObservedContainer) {
    const container = known ?? (await this.containerRuntime().status(project));
    const now = new Date();
    const lastActive = now.toISOString();
    const state = projectState({ ...project, lastActive }, container, this.deps.settings().load(), now.getTime());
    await this.deps.projects.record(project.name, { state, lastActive });
    await this.deps.audit.append({ project: project.name, action, reason, ...(container && { container: container.id.slice(0, 12) }) });
    return container;
  }
}

function dockerContextDir(): string {
  return new URL('../../docker/', import.meta.url).pathname;
}

/** The build stage that fetches the agent CLI trusts what the host trusts. */
async function extraCaBuildArgs(): Promise<Record<string, string>> {
  const pems = await localCaCertificates();
  return pems ? { EXTRA_CA_CERTS: pems } : {};
}
