/**
 * The supervisor applies berth's policies: on a tick (policies.tick) and soon
 * after the engine reports a change while the TUI runs, or once from
 * `berth sweep`. It gathers the facts, asks the pure policies what to do, and
 * does it through the runtime service, which writes each action with its
 * reason to the audit log. A project that became busy since the plan is left alone.
 */
import { messageOf } from '../domain/errors.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { ObservedContainer } from '../domain/container.js';
import { planPass, type PolicyAction } from '../domain/policies.js';
import { settingMs } from '../domain/settings.js';
import type { AuditLog } from '../store/audit-log.js';
import type { BerthPaths } from '../store/paths.js';
import type { SettingsStore } from '../store/settings-store.js';
import { diskUseOf, policySnapshot } from './policy-facts.js';
import type { ProjectService } from './project-service.js';
import type { RuntimeService } from './runtime-service.js';
import type { StatsSnapshot } from './stats-sampler.js';

export interface SupervisorDeps {
  projects: ProjectService;
  runtime: RuntimeService;
  settings: () => SettingsStore;
  audit: AuditLog;
  paths: BerthPaths;
  /** The engine's view kept current by a reconciler (the TUI's); without it, each pass lists the containers. */
  containers?: () => ReadonlyMap<string, ObservedContainer>;
  /** The stats history, for the memory rule; without it that rule has nothing to go on. */
  stats?: () => StatsSnapshot;
  /** Projects busy in this process beyond the runtime's own execs (chat turns starting their container). */
  busy?: () => Iterable<string>;
  now?: () => number;
  /** A pass that could not run at all (an engine gone, say); each action's failure is an outcome instead. */
  onError?: (message: string) => void;
}

export interface PolicyOutcome {
  action: PolicyAction;
  /** done: carried out; planned: a dry run; skipped: left alone, with why; failed: with the error. */
  result: 'done' | 'planned' | 'skipped' | 'failed';
  detail?: string;
}

export interface PassOptions {
  dryRun?: boolean;
  /**
   * Asked before any workspace is removed, with those that would be; only
   * `true` removes them. Without it, workspaces are only listed.
   */
  confirmWorkspaces?: (actions: Array<Extract<PolicyAction, { kind: 'remove-workspace' }>>) => Promise<boolean>;
}

interface SupervisorState {
  lastImagePrune: number | null;
  lastHealthRefresh: Record<string, number>;
}

/** After an engine event, a pass runs this much later: a burst of events makes one pass. */
const EVENT_DEBOUNCE_MS = 1_000;

export class Supervisor {
  private readonly now: () => number;
  private readonly listeners = new Set<(outcome: PolicyOutcome) => void>();
  private readonly stateFile: string;
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private running: Promise<PolicyOutcome[]> | undefined;
  private stopped = false;
  /** The pool's reason for being off is said once per berth, not on every tick. */
  private poolUnavailableSaid = false;

  constructor(private readonly deps: SupervisorDeps) {
    this.now = deps.now ?? Date.now;
    this.stateFile = path.join(deps.paths.home, 'supervisor.json');
  }

  /** Passes on every tick of policies.tick, until stop(). */
  start(): void {
    if (this.timer || this.stopped) return;
    const tickMs = settingMs(this.deps.settings().load(), 'policies.tick') ?? 30_000;
    this.timer = setInterval(() => this.kick(), tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.soon);
    await this.running?.catch(() => undefined);
  }

  /** Something changed in the engine: a pass soon. */
  poke(): void {
    if (this.soon || this.stopped) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.kick();
    }, EVENT_DEBOUNCE_MS);
    this.soon.unref();
  }

  /** Every outcome of every pass, as it happens: the TUI shows them in its status line. */
  subscribe(listener: (outcome: PolicyOutcome) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** One pass of every policy; a pass already running is waited for instead of run twice at once. */
  async pass(options: PassOptions = {}): Promise<PolicyOutcome[]> {
    while (this.running) await this.running.catch(() => undefined);
    this.running = this.runPass(options);
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private kick(): void {
    if (this.running || this.stopped) return;
    this.pass().catch((error: unknown) => this.deps.onError?.(`the policies could not run: ${messageOf(error)}`));
  }

  private async runPass(options: PassOptions): Promise<PolicyOutcome[]> {
    const { runtime } = this.deps;
    const settings = this.deps.settings().load();
    const projects = await this.deps.projects.list();
    let containers = this.deps.containers?.() ?? (await this.listContainers());
    const running = [...containers.values()].filter((container) => container.status === 'running').map((container) => container.id);
    // Where the engine does not run healthchecks (Podman without systemd), each pass runs them, then reads the health again.
    if (running.length > 0 && (await runtime.runHealthchecks(running)) > 0 && !this.deps.containers) containers = await this.listContainers();
    const state = await this.readState();
    const snapshot = policySnapshot({
      projects,
      containers,
      settings,
      now: this.now(),
      busyHere: this.busyHere(),
      ...(this.deps.stats && { stats: this.deps.stats() }),
      lastHealthRefresh: new Map(Object.entries(state.lastHealthRefresh)),
      lastImagePrune: state.lastImagePrune,
      diskUse: runtime.engineIsLocal() ? await diskUseOf(projects.filter((project) => project.mode === 'container').map((project) => project.path)) : new Map(),
    });
    const actions = planPass(snapshot);
    const outcomes: PolicyOutcome[] = [];
    const workspaceRemovals = actions.filter((action): action is Extract<PolicyAction, { kind: 'remove-workspace' }> => action.kind === 'remove-workspace');
    const removeWorkspaces = !options.dryRun && workspaceRemovals.length > 0 && options.confirmWorkspaces ? await options.confirmWorkspaces(workspaceRemovals) : false;

    for (const action of actions) {
      const outcome = await this.apply(action, { dryRun: options.dryRun === true, removeWorkspaces, state });
      outcomes.push(outcome);
      this.emit(outcome);
    }
    if (!options.dryRun) {
      await this.writeState(state);
      const warm = await this.warmPool();
      if (warm) {
        outcomes.push(warm);
        this.emit(warm);
      }
    }
    return outcomes;
  }

  private async apply(
    action: PolicyAction,
    context: { dryRun: boolean; removeWorkspaces: boolean; state: SupervisorState },
  ): Promise<PolicyOutcome> {
    if (context.dryRun) return { action, result: 'planned' };
    if (action.kind === 'remove-workspace' && !context.removeWorkspaces) {
      return { action, result: 'skipped', detail: 'workspaces are removed only by berth sweep --apply, after asking (or with --yes)' };
    }
    if ('project' in action && (await this.isBusy(action.project))) {
      return { action, result: 'skipped', detail: 'a turn, shell or exec started meanwhile' };
    }
    const { runtime } = this.deps;
    try {
      switch (action.kind) {
        case 'stop':
          await runtime.stop(action.project, { action: 'stop', reason: `idle stop: ${action.reason}` });
          break;
        case 'evict':
          await runtime.stop(action.project, { action: 'evict', reason: action.reason });
          break;
        case 'refresh':
          await runtime.refresh(action.project, undefined, `health refresh: ${action.reason}; workspace and agent config kept`);
          context.state.lastHealthRefresh[action.project] = this.now();
          break;
        case 'remove':
          await runtime.removeContainer(action.project, `clean-up: ${action.reason}`);
          break;
        case 'remove-workspace':
          await this.removeWorkspace(action);
          break;
        case 'prune-images': {
          const pruned = await runtime.pruneImages();
          context.state.lastImagePrune = this.now();
          await this.deps.audit.append({ project: '', action: 'prune', reason: `${action.reason}: ${pruned.removed} dangling images removed`, ...pruned });
          return { action, result: 'done', detail: `${pruned.removed} removed` };
        }
      }
      return { action, result: 'done' };
    } catch (error) {
      return { action, result: 'failed', detail: messageOf(error) };
    }
  }

  /** Tops up the warm pool; an outcome only when something changed or it cannot work here. */
  private async warmPool(): Promise<PolicyOutcome | undefined> {
    try {
      const change = await this.deps.runtime.maintainWarmPool();
      if (change.unavailable) {
        if (this.poolUnavailableSaid) return undefined;
        this.poolUnavailableSaid = true;
        return { action: { kind: 'warm', reason: 'policies.warmPool' }, result: 'skipped', detail: change.unavailable };
      }
      if (change.created + change.removed === 0) return undefined;
      const reason = `policies.warmPool: ${change.created} created, ${change.removed} removed`;
      return { action: { kind: 'warm', reason }, result: 'done' };
    } catch (error) {
      return { action: { kind: 'warm', reason: 'policies.warmPool' }, result: 'failed', detail: messageOf(error) };
    }
  }

  private async removeWorkspace(action: Extract<PolicyAction, { kind: 'remove-workspace' }>): Promise<void> {
    const project = await this.deps.projects.require(action.project);
    if (project.mode === 'container') await this.deps.runtime.removeContainer(action.project, `clean-up: ${action.reason}`).catch(() => undefined);
    await this.deps.projects.remove(action.project, { purge: true });
    await this.deps.audit.append({ project: action.project, action: 'remove-workspace', reason: `clean-up: ${action.reason}`, path: action.path });
  }

  private busyHere(): Set<string> {
    return new Set([...this.deps.runtime.busyProjects(), ...(this.deps.busy?.() ?? [])]);
  }

  /** Busy now, in this process or another: checked again just before an action. */
  private async isBusy(name: string): Promise<boolean> {
    if (this.busyHere().has(name)) return true;
    const project = (await this.deps.projects.list()).find((candidate) => candidate.name === name);
    if (!project) return false;
    return policySnapshot({
      projects: [project],
      containers: new Map(),
      settings: this.deps.settings().load(),
      now: this.now(),
      busyHere: new Set(),
      lastImagePrune: null,
    }).projects[0]!.busy;
  }

  private async listContainers(): Promise<Map<string, ObservedContainer>> {
    const statuses = await this.deps.runtime.statuses();
    return new Map(statuses.flatMap((status) => (status.container ? [[status.project.name, status.container] as const] : [])));
  }

  private async readState(): Promise<SupervisorState> {
    try {
      const data = JSON.parse(await readFile(this.stateFile, 'utf8')) as Partial<SupervisorState>;
      return {
        lastImagePrune: typeof data.lastImagePrune === 'number' ? data.lastImagePrune : null,
        lastHealthRefresh: data.lastHealthRefresh && typeof data.lastHealthRefresh === 'object' ? { ...data.lastHealthRefresh } : {},
      };
    } catch {
      // Missing or unreadable: the worst case is one prune too many.
      return { lastImagePrune: null, lastHealthRefresh: {} };
    }
  }

  private async writeState(state: SupervisorState): Promise<void> {
    await writeFileAtomic(this.stateFile, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 }).catch(() => undefined);
  }

  private emit(outcome: PolicyOutcome): void {
    for (const listener of this.listeners) {
      try {
        listener(outcome);
      } catch {
        // A listener's failure is not the supervisor's.
      }
    }
  }
}
