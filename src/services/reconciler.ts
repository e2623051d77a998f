import { containerName, containerOf, type ObservedContainer } from '../domain/container.js';
import { projectState, type LifecycleState } from '../domain/lifecycle.js';
import type { Project } from '../domain/project.js';
import { defaultSettings, type Settings } from '../domain/settings.js';
import type { ContainerEngine, EngineEvent } from '../runtime/types.js';
import type { ProjectRegistry } from '../store/project-registry.js';
import { forEachLimited } from './for-each-limited.js';

export interface ReconcilerSnapshot {
  /** Registry project → its container, as the engine last described it. */
  containers: ReadonlyMap<string, ObservedContainer>;
  /** berth's containers that are no registry project's (see containerOf): warm ones waiting, leftovers, those of a workspace that moved. */
  orphans: readonly ObservedContainer[];
  /** False between a broken events stream and its reconnection: the view may be stale. */
  connected: boolean;
}

export interface StateChange {
  project: string;
  from: LifecycleState;
  to: LifecycleState;
}

export interface ReconcileReport {
  changes: StateChange[];
  orphans: ObservedContainer[];
}

export interface ReconcilerOptions {
  /** berth's settings now (each project's own apply on top, see projectState); the defaults without it. */
  settings?: () => Settings;
  now?: () => number;
  /** Told of failures while following events (an inspect or a registry write that failed). */
  onError?: (error: unknown) => void;
}

/** Actions that say nothing of a container's state; execs are frequent, so skipping them spares the engine. */
const STATELESS_ACTIONS = /^(exec_|attach|detach|resize|top|copy|archive-path|extract-to-dir|export|commit)/;

/** How many inspects the reconciler has in flight at once after a burst of events. */
const INSPECT_CONCURRENCY = 4;

/**
 * Keeps the registry's record of container state true to the engine. On start
 * it lists berth's containers by label (so a crash of berth loses nothing);
 * then it follows the engine's events and re-inspects the container an event
 * names. It only ever changes a project's `state`: it never adds or deletes a
 * registry entry, and it leaves workspace-mode projects alone.
 *
 * Work runs one piece at a time: a full pass, or a batch of re-inspects, so
 * that an older read can never overwrite a newer one.
 */
export class Reconciler {
  private readonly settings: () => Settings;
  private readonly now: () => number;
  private readonly onError: (error: unknown) => void;
  private readonly listeners = new Set<(snapshot: ReconcilerSnapshot) => void>();
  private readonly observed = new Map<string, ObservedContainer>();
  private projects: Project[] = [];
  private connected = true;
  private current: ReconcilerSnapshot = { containers: new Map(), orphans: [], connected: true };
  private abort: AbortController | undefined;
  private readonly pendingIds = new Set<string>();
  private fullPassWaiters: Array<{ resolve: (report: ReconcileReport) => void; reject: (error: unknown) => void }> = [];
  private worker: Promise<void> | undefined;

  constructor(
    private readonly engine: ContainerEngine,
    private readonly registry: Pick<ProjectRegistry, 'list' | 'update'>,
    options: ReconcilerOptions = {},
  ) {
    this.settings = options.settings ?? defaultSettings;
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? (() => {});
  }

  /** Follows events, then reconciles once; resolves with what that first pass found. */
  start(): Promise<ReconcileReport> {
    if (!this.abort) {
      this.abort = new AbortController();
      // Events first: one that happens while the list is read is then queued, not missed.
      this.engine.watchEvents((event) => this.handle(event), this.abort.signal);
    }
    return this.reconcile();
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    this.abort = undefined;
    await this.worker;
  }

  /** A full pass: list berth's containers and bring every container-mode project's state in line. */
  reconcile(): Promise<ReconcileReport> {
    return new Promise((resolve, reject) => {
      this.fullPassWaiters.push({ resolve, reject });
      this.kick();
    });
  }

  subscribe(listener: (snapshot: ReconcilerSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): ReconcilerSnapshot {
    return this.current;
  }

  /** Every berth container the engine last showed, orphans included. */
  observedContainers(): ObservedContainer[] {
    return [...this.observed.values()];
  }

  private handle(event: EngineEvent): void {
    switch (event.kind) {
      case 'disconnected':
        this.connected = false;
        this.publish();
        return;
      case 'reconnected':
        // Events were lost while the stream was down: read everything again.
        this.connected = true;
        this.publish();
        this.reconcile().catch((error: unknown) => this.onError(error));
        return;
      case 'container':
        if (STATELESS_ACTIONS.test(event.action)) return;
        this.pendingIds.add(event.containerId);
        this.kick();
        return;
    }
  }

  private kick(): void {
    this.worker ??= this.drain().finally(() => {
      this.worker = undefined;
      if (this.fullPassWaiters.length > 0 || this.pendingIds.size > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.fullPassWaiters.length > 0 || this.pendingIds.size > 0) {
      if (this.fullPassWaiters.length > 0) {
        const waiters = this.fullPassWaiters;
        this.fullPassWaiters = [];
        // The list is read after those events happened: it covers them.
        this.pendingIds.clear();
        try {
          const report = await this.fullPass();
          for (const waiter of waiters) waiter.resolve(report);
        } catch (error) {
          for (const waiter of waiters) waiter.reject(error);
        }
        continue;
      }
      const ids = [...this.pendingIds];
      this.pendingIds.clear();
      try {
        await this.refresh(ids);
      } catch (error) {
        // The registry could not be written; the next event or pass tries again.
        this.onError(error);
      }
    }
  }

  private async fullPass(): Promise<ReconcileReport> {
    const containers = await this.engine.listManaged();
    this.observed.clear();
    for (const container of containers) this.observed.set(container.id, container);
    const changes = await this.applyStates(undefined);
    this.publish();
    return { changes, orphans: [...this.current.orphans] };
  }

  private async refresh(ids: string[]): Promise<void> {
    // By container name, the rule of containerOf: a rename (a warm container adopted) touches both names.
    const touched = new Set<string>();
    await forEachLimited(ids, INSPECT_CONCURRENCY, async (id) => {
      const before = this.observed.get(id);
      if (before) touched.add(before.name);
      let container: ObservedContainer | undefined;
      try {
        container = await this.engine.inspect(id);
      } catch (error) {
        // The engine is likely down; its reconnection brings a full pass.
        this.onError(error);
        return;
      }
      if (container) {
        this.observed.set(id, container);
        touched.add(container.name);
      } else {
        this.observed.delete(id);
      }
    });
    await this.applyStates(touched);
    this.publish();
  }

  /**
   * Writes the state each container-mode project should have (those whose
   * container name is in `onlyNames`, when given); only when one differs, so
   * the file is rarely rewritten.
   */
  private async applyStates(onlyNames: ReadonlySet<string> | undefined): Promise<StateChange[]> {
    const containers = [...this.observed.values()];
    const settings = this.settings();
    const changesOf = (projects: Project[]): StateChange[] => {
      const changes: StateChange[] = [];
      const now = this.now();
      for (const project of projects) {
        if (project.mode !== 'container' || (onlyNames && !onlyNames.has(containerName(project)))) continue;
        const state = projectState(project, containerOf(project, containers), settings, now);
        if (state !== project.state) changes.push({ project: project.name, from: project.state, to: state });
      }
      return changes;
    };
    this.projects = await this.registry.list();
    if (changesOf(this.projects).length === 0) return [];
    return this.registry.update((projects) => {
      // Read again under the lock: another berth process may have changed the registry meanwhile.
      const changes = changesOf(projects);
      for (const change of changes) {
        const project = projects.find((candidate) => candidate.name === change.project)!;
        project.state = change.to;
      }
      this.projects = projects.map((project) => ({ ...project }));
      return changes;
    });
  }

  private publish(): void {
    const containers = [...this.observed.values()];
    const byProject = new Map<string, ObservedContainer>();
    for (const project of this.projects) {
      const container = containerOf(project, containers);
      if (container) byProject.set(project.name, container);
    }
    const owned = new Set([...byProject.values()].map((container) => container.id));
    const orphans = containers.filter((container) => !owned.has(container.id));
    this.current = { containers: byProject, orphans, connected: this.connected };
    for (const listener of this.listeners) listener(this.current);
  }
}
