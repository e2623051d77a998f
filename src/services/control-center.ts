/**
 * The control center's state, outside React: projects, what the engine says
 * of their containers, live stats of the containers and the host, running
 * turns and opened conversations. Fast sources (stats, streamed events) are
 * gathered here and published as one snapshot at most every PUBLISH_DELAY_MS,
 * so the screen redraws a few times a second at most and not at all when
 * nothing changed. Actions never throw: what fails goes to the status line.
 */
import type { RequestAnswer } from '../domain/approvals.js';
import { messageOf } from '../domain/errors.js';
import { workspaceShell } from '../runtime/workspace-shell.js';
import type { TranscriptEntry } from '../domain/chat.js';
import type { QueuedMessage } from '../daemon/protocol.js';
import { describeAbandoned, describeClaim, type WorkClaim } from '../domain/work.js';
import { projectState } from '../domain/lifecycle.js';
import type { IsolationMode, Project } from '../domain/project.js';
import type { Settings } from '../domain/settings.js';
import type { ChatService } from './chat-service.js';
import type { BerthContext } from './context.js';
import type {
  ControlCenter,
  ControlCenterSnapshot,
  ConversationView,
  EngineState,
  HostStats,
  PolicyNote,
  ProjectView,
  StatusMessage,
  TurnView,
} from './control-center-state.js';
import { HostStatsSampler } from './host-stats.js';
import type { PolicyOutcome, Supervisor } from './supervisor.js';
import { Reconciler, type ReconcilerSnapshot } from './reconciler.js';
import type { RuntimeService } from './runtime-service.js';
import type { RefusedHost } from './egress-service.js';
import { formatHostEntry, type AllowlistEntry } from '../domain/egress.js';
import type { StatsSampler, StatsSnapshot } from './stats-sampler.js';
import { lastTurnOf, turnAfter } from './turn-view.js';

export type { ControlCenterSnapshot } from './control-center-state.js';

const POLICY_VERBS: Record<PolicyOutcome['action']['kind'], string> = {
  stop: 'stopped',
  evict: 'evicted',
  refresh: 'recreated',
  remove: 'removed the container of',
  'remove-workspace': 'removed the workspace of',
  'prune-images': 'pruned images',
  warm: 'warm pool',
};

/** Streamed chat events wait this long to be drawn together. */
const PUBLISH_DELAY_MS = 50;
/** Another berth (or `berth project add`) may change the registry: read again this often. */
const REGISTRY_POLL_MS = 3_000;
/** While the engine does not answer, try again this often. */
const ENGINE_RETRY_MS = 5_000;

export interface ControlCenterOptions {
  context: BerthContext;
  engineFlag?: string;
  /** Timers' periods; tests make them short. */
  statsIntervalMs?: number;
  hostIntervalMs?: number;
}

type Listener = (snapshot: ControlCenterSnapshot) => void;

export class ControlCenterService implements ControlCenter {
  private readonly context: BerthContext;
  private readonly engineFlag: string | undefined;
  private readonly listeners = new Set<Listener>();
  private projects: Project[] = [];
  private registryText = '';
  private runtime: RuntimeService | undefined;
  private chat: ChatService | undefined;
  private reconciler: Reconciler | undefined;
  private reconciled: ReconcilerSnapshot | undefined;
  private engineState: EngineState = { state: 'unused' };
  private stats: StatsSampler | undefined;
  private statsSnapshot: StatsSnapshot = new Map();
  private host: HostStatsSampler;
  private hostStats: HostStats | undefined;
  private readonly turns = new Map<string, TurnView>();
  private readonly progress = new Map<string, string>();
  private readonly conversations = new Map<string, ConversationView>();
  /** Events that came while a conversation's transcript was being read. */
  private readonly pendingEntries = new Map<string, TranscriptEntry[]>();
  private status: StatusMessage | undefined;
  private current: ControlCenterSnapshot;
  private publishTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private engineRetry: NodeJS.Timeout | undefined;
  private unsubscribers: Array<() => void> = [];
  private closed = false;
  private building = false;
  private supervisor: Supervisor | undefined;
  /** Project → the last thing a policy did to it, for its details. */
  private readonly policyNotes = new Map<string, PolicyNote>();
  private starting: Promise<void> | undefined;
  /** Settles once what a killed berth left is ended and its turns recorded (or that failed, said in the status line). */
  private recovery: Promise<void> | undefined;
  private registryRead: Promise<void> | undefined;

  constructor(private readonly options: ControlCenterOptions) {
    this.context = options.context;
    this.engineFlag = options.engineFlag;
    this.host = new HostStatsSampler({
      intervalMs: options.hostIntervalMs ?? 2_000,
      diskPath: this.context.paths.workspaces,
      onError: () => undefined,
    });
    this.current = this.build();
  }

  /**
   * Reads the registry (`projectsLoaded` resolves then: the screen can draw),
   * then loads the runtime and chat services, starts the samplers and, when a
   * project needs it, the engine. Actions wait for all of it.
   */
  start(): Promise<void> {
    this.starting ??= this.startServices();
    return this.starting;
  }

  /** Resolves once the services run and what a killed berth left is ended, its turns recorded as interrupted. */
  async recovered(): Promise<void> {
    await this.start();
    await this.recovery;
  }

  /** Resolves once the registry has been read: enough for a first frame. */
  async projectsLoaded(): Promise<void> {
    await this.registryRead;
  }

  private async startServices(): Promise<void> {
    this.registryRead = this.reloadProjects();
    await this.registryRead;
    this.publishNow();
    this.runtime = await this.context.runtime({ engine: this.engineFlag });
    // What a berth killed with SIGKILL left running is ended, its turns recorded as interrupted.
    this.recovery = this.runtime
      .claims()
      .recoverAll()
      .then((unrecovered) => {
        for (const { project, claim, reason } of unrecovered) this.notify(`${project}: ${describeAbandoned(claim)}, left processes that could not be ended (${reason})`, 'error');
        return this.reloadProjects();
      })
      .catch((error: unknown) => this.notify(messageOf(error), 'error'));
    this.chat = await this.context.chat({ engine: this.engineFlag });
    this.unsubscribers.push(this.chat.subscribe(({ project, entry }) => this.onChatEntry(project, entry)));
    this.unsubscribers.push(this.chat.subscribeQueue((project, queued) => this.onQueue(project, queued)));
    this.unsubscribers.push(this.chat.subscribeRequests(() => this.schedulePublish()));
    this.unsubscribers.push(this.host.subscribe((stats) => {
      this.hostStats = stats;
      this.schedulePublish();
    }));
    this.host.start();
    this.pollTimer = setInterval(() => void this.reloadProjects().catch(() => undefined), REGISTRY_POLL_MS);
    this.pollTimer.unref();
    if (this.projects.some((project) => project.mode === 'container')) this.startEngine();
    this.publishNow();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.publishTimer);
    clearInterval(this.pollTimer);
    clearTimeout(this.engineRetry);
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    await this.chat?.close();
    await Promise.all([this.host.stop(), this.stats?.stop(), this.reconciler?.stop(), this.supervisor?.stop()]);
    await this.runtime?.close();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  snapshot(): ControlCenterSnapshot {
    return this.current;
  }

  /** The chat service, once start() has loaded it (the daemon serves it). */
  async chatService(): Promise<ChatService> {
    await this.start();
    if (!this.chat) throw new Error('the chat service did not start');
    return this.chat;
  }

  /** The berth home this service works in. */
  home(): string {
    return this.context.paths.home;
  }

  /** The keymap remappings and other settings the screen reads once. */
  settings() {
    return this.context.settings().load();
  }

  anyTurnRunning(): boolean {
    return (this.chat?.runningProjects().length ?? 0) > 0;
  }

  notify(text: string, level: StatusMessage['level'] = 'info'): void {
    this.status = { text, level, time: Date.now() };
    this.schedulePublish();
  }

  // ---- container actions ----

  startOrStop(name: string): Promise<void> {
    const view = this.viewOf(name);
    if (!view) return Promise.resolve();
    if (view.project.mode === 'workspace') {
      this.notify(`${name} runs on the host: there is no container to start or stop (m switches the mode)`);
      return Promise.resolve();
    }
    const running = view.container?.status === 'running';
    return running
      ? this.containerAction(name, 'stopping…', `${name} stopped`, (runtime) => runtime.stop(name))
      : this.containerAction(name, 'starting…', `${name} is running`, (runtime, onStep) => runtime.up(name, onStep));
  }

  restart(name: string): Promise<void> {
    return this.containerAction(name, 'restarting…', `${name} restarted`, (runtime) => runtime.restart(name));
  }

  refresh(name: string): Promise<void> {
    return this.containerAction(name, 'recreating…', `${name} recreated, workspace kept`, (runtime, onStep) => runtime.refresh(name, onStep));
  }

  removeContainer(name: string): Promise<void> {
    return this.containerAction(name, 'removing…', `${name}'s container removed`, (runtime) => runtime.removeContainer(name));
  }

  /** Builds the workspace image (container.image), its progress in the status line. */
  async buildImage(): Promise<void> {
    if (this.building) {
      this.notify('the image is being built already', 'progress');
      return;
    }
    this.building = true;
    this.notify('building the workspace image…', 'progress');
    try {
      const tag = await (await this.requireRuntime()).buildImage({
        onProgress: (line) => {
          const text = line.trim();
          if (text !== '') this.notify(`building the image: ${text}`, 'progress');
        },
      });
      this.notify(`image ${tag} built`);
    } catch (error) {
      this.notify(`the image build failed: ${messageOf(error)}`, 'error');
    } finally {
      this.building = false;
    }
  }

  async toggleMode(name: string): Promise<void> {
    const view = this.viewOf(name);
    if (!view) return;
    if (this.chat?.running(name)) {
      this.notify(`a turn is running in ${name}: wait for it or cancel it before switching modes`, 'error');
      return;
    }
    const mode: IsolationMode = view.project.mode === 'workspace' ? 'container' : 'workspace';
    await this.attempt(async () => {
      // The live agent runs where the old mode put it: the next message starts one in the new place.
      await this.chat?.endSession(name);
      await this.context.projects.setMode(name, mode);
      await this.reloadProjects();
      if (mode === 'container') this.startEngine();
      this.notify(`${name} now runs in ${mode} mode`);
    });
  }

  /** Adds a project; resolves with the one-line reason when it was refused, for the form to show. */
  async addProject(values: { name: string; path: string; mode: IsolationMode }): Promise<string | undefined> {
    try {
      const { project } = await this.context.projects.add(values.name, { mode: values.mode, ...(values.path.trim() !== '' && { path: values.path.trim() }) });
      await this.reloadProjects();
      if (project.mode === 'container') this.startEngine();
      this.notify(`project ${project.name} added at ${project.path}`);
      return undefined;
    } catch (error) {
      return messageOf(error);
    }
  }

  // ---- network ----

  /** What the network overlay shows of a project: its allowlist, the hosts refused lately, whether it is enforced. */
  async network(name: string): Promise<NetworkView> {
    await this.start();
    const runtime = this.runtime!;
    const project = await this.context.projects.require(name);
    const egress = runtime.egress();
    const [allowlist, refused] = await Promise.all([egress.allowlistOf(project), egress.refused(name, 5)]);
    const status = project.mode === 'container' ? await runtime.egressStatus(name).catch(() => undefined) : undefined;
    const enforced = project.mode === 'container' ? status?.enforced : false;
    return { mode: project.mode, enforced, ...(status?.hostExposed && { hostExposed: status.hostExposed }), ...(status?.routeOut && { routeOut: status.routeOut }), allowlist: allowlist.map(allowlistRow), refused };
  }

  /** Allows or denies a host for a project; resolves with the one-line reason when it was refused. */
  async editNetwork(name: string, verb: 'allow' | 'deny', host: string): Promise<string | undefined> {
    try {
      await this.start();
      await this.runtime!.egress().edit(name, verb, host);
      await this.reloadProjects();
      this.notify(verb === 'allow' ? `${name} may now reach ${host.trim()}` : `${name} may no longer reach ${host.trim()}`);
      return undefined;
    } catch (error) {
      return messageOf(error);
    }
  }

  // ---- chat ----

  /** Loads a project's transcript for the chat screen; live entries are added as they come. */
  openConversation(name: string): void {
    if (!this.chat) {
      void this.start().then(() => this.openConversation(name), () => undefined);
      return;
    }
    if (this.conversations.has(name)) return;
    this.conversations.set(name, { project: name, loaded: false, entries: [] });
    this.pendingEntries.set(name, []);
    this.schedulePublish();
    this.chat.history(name).then(
      (entries) => this.finishLoading(name, entries),
      (error: unknown) => {
        this.finishLoading(name, []);
        this.notify(`the conversation of ${name} could not be read: ${messageOf(error)}`, 'error');
      },
    );
  }

  send(name: string, message: string): void {
    const chat = this.chat;
    if (message.trim() === '') return;
    if (!chat) {
      void this.start().then(() => this.send(name, message), () => undefined);
      return;
    }
    const queuedBehind = chat.running(name);
    if (!queuedBehind) this.turns.set(name, { running: true, cancelling: false, startedAt: Date.now() });
    this.schedulePublish();
    const onWait = (holder: WorkClaim) => this.notify(`${describeClaim(holder)} is running in ${name}: this message waits for it to end (Esc cancels)`);
    try {
      const { done } = chat.enqueue(name, message, { onWait, attended: true });
      if (queuedBehind) this.notify(`${name}: the message is queued; it is sent once the running turn ends`);
      done.catch((error: unknown) => {
        if (!chat.running(name)) this.turns.delete(name);
        this.notify(messageOf(error), 'error');
      });
    } catch (error) {
      if (!queuedBehind) this.turns.delete(name);
      this.notify(messageOf(error), 'error');
    }
  }

  withdrawLast(name: string): boolean {
    const last = this.chat?.sessionStatuses().find((session) => session.project === name)?.queued.at(-1);
    return last !== undefined && this.chat!.withdraw(name, last.id);
  }

  /** The project's next message starts a new conversation; the old transcript stays. */
  async newConversation(name: string): Promise<void> {
    try {
      await this.requireRuntime();
      await this.chat!.reset(name);
      this.notify(`${name}: the next message starts a new conversation (the old one stays in berth history)`);
      await this.reloadProjects();
    } catch (error) {
      this.notify(messageOf(error), 'error');
    }
  }

  cancel(name: string): boolean {
    if (!this.chat?.cancel(name)) return false;
    const turn = this.turns.get(name);
    if (turn) this.turns.set(name, { ...turn, cancelling: true });
    this.schedulePublish();
    return true;
  }

  /** The agent's own TUI, from this process: the screens' tests run the service in it. */
  async attach(name: string): Promise<number> {
    const project = await this.context.projects.require(name);
    const attached = await (await this.chatService()).attach(name);
    const { runAttached } = await import('./attached-tui.js');
    try {
      return await runAttached(attached, project, () => this.requireRuntime());
    } finally {
      await attached.release();
    }
  }

  answer(name: string, id: string, answer: RequestAnswer): void {
    try {
      this.chat?.answerRequest(name, id, answer, 'the control center');
    } catch (error) {
      this.notify(messageOf(error), 'error');
    }
  }

  /** Cancels every running turn and waits until each is recorded: for quitting. */
  async cancelAllTurns(): Promise<void> {
    await this.chat?.close();
  }

  // ---- terminal work ----

  /** Follows a container's logs until `signal` aborts. Rejects with a one-line reason. */
  async followLogs(name: string, onChunk: (text: string) => void, signal: AbortSignal): Promise<void> {
    const runtime = await this.requireRuntime();
    await runtime.logs(name, { follow: true, signal, onChunk });
  }

  /**
   * A shell where the project's agent runs, on this terminal: in the container
   * (started if needed), or the user's shell in the workspace folder. The
   * caller hands the terminal over first.
   */
  async shell(name: string): Promise<number> {
    const view = this.viewOf(name);
    if (!view) return 1;
    if (view.project.mode === 'container') return (await this.requireRuntime()).shell(name);
    await this.context.projects.record(name, { lastActive: new Date().toISOString() });
    return workspaceShell(view.project.path);
  }

  // ---- internals ----

  private viewOf(name: string): ProjectView | undefined {
    const view = this.current.projects.find((candidate) => candidate.project.name === name);
    if (!view) this.notify(`no project named ${name}`, 'error');
    return view;
  }

  /** The runtime service, once start() has loaded it: an action taken in the first moments waits for it. */
  private async requireRuntime(): Promise<RuntimeService> {
    if (!this.starting) throw new Error('the control center has not started');
    await this.starting;
    return this.runtime!;
  }

  private async containerAction(
    name: string,
    doing: string,
    done: string,
    work: (runtime: RuntimeService, onStep: (step: string) => void) => Promise<unknown>,
  ): Promise<void> {
    if (this.progress.has(name)) {
      this.notify(`${name} is busy: ${this.progress.get(name)}`);
      return;
    }
    this.progress.set(name, doing);
    this.notify(`${name}: ${doing}`, 'progress');
    try {
      const runtime = await this.requireRuntime();
      this.startEngine();
      await work(runtime, (step) => {
        this.progress.set(name, step);
        this.notify(`${name}: ${step}`, 'progress');
      });
      this.notify(done);
    } catch (error) {
      this.notify(messageOf(error), 'error');
    } finally {
      this.progress.delete(name);
      await this.reloadProjects().catch(() => undefined);
      // The events stream brings the engine's view too; a pass now spares waiting for it.
      await this.reconciler?.reconcile().catch(() => undefined);
      this.schedulePublish();
    }
  }

  private async attempt(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.notify(messageOf(error), 'error');
    }
  }

  /** Connects to the engine once; when it does not answer, says so and tries again until it does. */
  private startEngine(): void {
    const runtime = this.runtime;
    if (this.reconciler || this.closed || !runtime) return;
    let engine;
    try {
      engine = runtime.connect();
    } catch (error) {
      this.engineState = { state: 'unreachable', error: messageOf(error) };
      this.schedulePublish();
      return;
    }
    this.engineState = { state: 'connecting' };
    const reconciler = new Reconciler(engine, this.context.registry, { settings: () => this.context.settings().load() });
    this.reconciler = reconciler;
    this.unsubscribers.push(reconciler.subscribe((snapshot) => {
      this.reconciled = snapshot;
      this.engineState = snapshot.connected ? { state: 'connected' } : { state: 'unreachable', error: 'the events stream broke; reconnecting' };
      void this.reloadProjects().catch(() => undefined);
      this.schedulePublish();
    }));
    this.stats = runtime.statsSampler({
      intervalMs: this.options.statsIntervalMs ?? 2_000,
      // Only this registry's projects' containers: another berth's (or a leftover) of the same name must not show here.
      listContainers: async () => [...reconciler.snapshot().containers.values()],
    });
    this.unsubscribers.push(this.stats.subscribe((snapshot) => {
      this.statsSnapshot = snapshot;
      this.schedulePublish();
      // The host's figures on the same beat: one frame every round, not two (the host's own timer then skips).
      this.host.sampleOnce().catch(() => undefined);
    }));
    void this.startSupervisor(reconciler);
    const firstPass = (): void => {
      reconciler.start().then(
        () => {
          this.engineState = { state: 'connected' };
          this.stats?.start();
          this.schedulePublish();
        },
        (error: unknown) => {
          this.engineState = { state: 'unreachable', error: messageOf(error) };
          this.schedulePublish();
          if (this.closed) return;
          this.engineRetry = setTimeout(firstPass, ENGINE_RETRY_MS);
          this.engineRetry.unref();
        },
      );
    };
    firstPass();
  }

  /** The policies, applied on their tick and soon after each change the engine reports. */
  private async startSupervisor(reconciler: Reconciler): Promise<void> {
    const supervisor = await this.context.supervisor(
      { ...(this.engineFlag !== undefined && { engine: this.engineFlag }) },
      {
        containers: () => reconciler.snapshot().containers,
        stats: () => this.statsSnapshot,
        busy: () => this.chat?.runningProjects() ?? [],
        onError: (message) => this.notify(message, 'error'),
      },
    );
    if (this.closed) return;
    this.supervisor = supervisor;
    this.unsubscribers.push(supervisor.subscribe((outcome) => this.onPolicyOutcome(outcome)));
    this.unsubscribers.push(reconciler.subscribe(() => supervisor.poke()));
    supervisor.start();
  }

  private onPolicyOutcome(outcome: PolicyOutcome): void {
    const { action, result } = outcome;
    if (result === 'skipped' && action.kind === 'warm') return this.notify(`warm pool off: ${outcome.detail ?? ''}`);
    // Planned and skipped actions are for berth sweep; the status line tells what happened.
    if (result !== 'done' && result !== 'failed') return;
    const project = 'project' in action ? action.project : undefined;
    const what = `${POLICY_VERBS[action.kind]}${project ? ` ${project}` : ''}`;
    const text = result === 'done' ? `policy: ${what}: ${action.reason}` : `policy: could not ${what}: ${outcome.detail ?? 'unknown error'}`;
    if (project) this.policyNotes.set(project, { text: result === 'done' ? `${POLICY_VERBS[action.kind]}: ${action.reason}` : text, time: Date.now() });
    this.notify(text, result === 'done' ? 'info' : 'error');
    void this.reloadProjects().catch(() => undefined);
  }

  private async reloadProjects(): Promise<void> {
    const projects = await this.context.projects.list();
    const text = JSON.stringify(projects);
    if (text === this.registryText) return;
    this.registryText = text;
    this.projects = projects;
    this.schedulePublish();
  }

  private onChatEntry(project: string, entry: TranscriptEntry): void {
    const conversation = this.conversations.get(project);
    if (entry.type === 'text_delta') {
      // Live only: drawn as it grows, until the whole text comes.
      if (conversation) this.conversations.set(project, { ...conversation, streaming: (conversation.streaming ?? '') + entry.text });
      this.schedulePublish();
      return;
    }
    const pending = this.pendingEntries.get(project);
    if (pending) pending.push(entry);
    else if (conversation) {
      const { streaming: _streaming, ...rest } = conversation;
      const keep = entry.type === 'text' || entry.type === 'turn_end' ? {} : conversation.streaming !== undefined ? { streaming: conversation.streaming } : {};
      this.conversations.set(project, { ...rest, ...keep, entries: [...conversation.entries, entry] });
    }
    const turn = this.turns.get(project) ?? { running: true, cancelling: false, startedAt: Date.now() };
    this.turns.set(project, turnAfter(turn, entry));
    if (entry.type === 'turn_end') void this.reloadProjects().catch(() => undefined);
    this.schedulePublish();
  }

  private onQueue(project: string, queued: QueuedMessage[]): void {
    const conversation = this.conversations.get(project);
    if (conversation) this.conversations.set(project, { ...conversation, queued });
    this.schedulePublish();
  }

  private finishLoading(name: string, entries: TranscriptEntry[]): void {
    const pending = this.pendingEntries.get(name) ?? [];
    this.pendingEntries.delete(name);
    // An event delivered while the file was read is in the file already, or it came after: keep only the latter.
    const seen = new Set(entries.map((entry) => JSON.stringify(entry)));
    const fresh = pending.filter((entry) => !seen.has(JSON.stringify(entry)));
    this.conversations.set(name, { project: name, loaded: true, entries: [...entries, ...fresh] });
    if (!this.turns.has(name)) {
      const last = lastTurnOf(entries);
      if (last) this.turns.set(name, last);
    }
    this.schedulePublish();
  }

  private schedulePublish(): void {
    if (this.publishTimer || this.closed) return;
    this.publishTimer = setTimeout(() => this.publishNow(), PUBLISH_DELAY_MS);
  }

  private publishNow(): void {
    clearTimeout(this.publishTimer);
    this.publishTimer = undefined;
    this.current = this.build();
    for (const listener of this.listeners) listener(this.current);
  }

  private build(): ControlCenterSnapshot {
    let settings: Settings | undefined;
    const now = Date.now();
    const projects = this.projects.map((project): ProjectView => {
      const container = project.mode === 'container' ? this.reconciled?.containers.get(project.name) : undefined;
      // What the engine shows once it has been read; until then the registry's last record.
      const state = project.mode === 'container' && this.reconciled
        ? projectState(project, container, (settings ??= this.context.settings().load()), now)
        : project.state;
      const sampled = this.statsSnapshot.get(project.name);
      const stats = container?.status === 'running' && sampled?.containerId === container.id ? sampled : undefined;
      const turn = this.turns.get(project.name);
      const progress = this.progress.get(project.name);
      const policy = this.policyNotes.get(project.name);
      return {
        project,
        state,
        ...(container && { container }),
        ...(stats && { stats }),
        ...(turn && { turn }),
        ...(progress && { progress }),
        ...(policy && { policy }),
      };
    });
    return {
      engine: { address: this.engineAddress(), status: this.engineState },
      ...(this.hostStats && { host: this.hostStats }),
      projects,
      ...(this.status && { status: this.status }),
      conversations: new Map(this.conversations),
      requests: this.chat?.pendingRequests() ?? [],
    };
  }

  private engineAddress(): string {
    try {
      return this.runtime?.engineEndpoint() ?? '';
    } catch (error) {
      return `(${messageOf(error)})`;
    }
  }
}


/** One allowlist entry as the overlay lists it. */
export interface AllowlistRow {
  entry: string;
  ports: string;
  source: string;
}

export interface NetworkView {
  mode: IsolationMode;
  /** undefined: no container yet. */
  enforced: boolean | undefined;
  /** Why this machine's services are within the container's reach, when they are. */
  hostExposed?: string;
  /** Why the container has a route out, when it is not enforced. */
  routeOut?: string;
  allowlist: AllowlistRow[];
  refused: RefusedHost[];
}

function allowlistRow(entry: AllowlistEntry): AllowlistRow {
  return { entry: formatHostEntry(entry), ports: entry.port === undefined ? '80,443' : String(entry.port), source: entry.source };
}
