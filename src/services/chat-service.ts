/**
 * Chat with the projects' agents: one live agent process per project (see
 * AgentProcess), started by the project's first message where its agent runs
 * (its folder, or its container, started if needed) and kept for the next,
 * until it has been idle for chat.sessionIdle. Messages that come while a
 * turn runs wait in the project's queue, and can be taken back until sent.
 *
 * Each event of a turn is written to the transcript before anyone sees it
 * (text deltas, which are live only, aside), and a turn ends with the files
 * it changed and a turn_end that always comes, whatever failed. The agent's
 * session id and the usage are kept with the project, so that the next
 * process (of this berth or a restarted one) continues the conversation.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { costUsd } from '../domain/pricing.js';
import { formatSize } from '../domain/size.js';
import { CredentialProxy } from '../runtime/credential-proxy.js';
import { SpendLedger } from '../store/spend-ledger.js';
import type { AgentAdapter, AgentSessionRequest, PermissionDecision, PermissionRequest } from '../agents/types.js';
import { answeredInput, describeToolCall, QUESTION_TOOL, questionsOf, ruleAllows, ruleFor, type PendingRequest, type RequestAnswer } from '../domain/approvals.js';
import type { ChangedFile, ChatEvent, TranscriptEntry, TurnOutcome, TurnUsage } from '../domain/chat.js';
import { addUsage, NO_USAGE, splitToolRules } from '../domain/chat.js';
import { BerthError, messageOf } from '../domain/errors.js';
import type { Project } from '../domain/project.js';
import { AGENT_CONFIG_DIR, agentConfigDirOf, CONTAINER_WORKSPACE } from '../domain/container-spec.js';
import { settingMs, settingsForProject, type Settings, type SettingValue } from '../domain/settings.js';
import { changedSince, snapshotWorkspace, type WorkspaceSnapshot } from '../runtime/changed-files.js';
import type { AuditLog } from '../store/audit-log.js';
import type { BerthPaths } from '../store/paths.js';
import type { SettingsStore } from '../store/settings-store.js';
import { TranscriptStore, type TranscriptSession } from '../store/transcripts.js';
import { isWorkClaim, runningTurn, type WorkClaim } from '../domain/work.js';
import type { QueuedMessage, SessionStatus } from '../daemon/protocol.js';
import { AgentProcess, type AgentExit } from './agent-process.js';
import { ensureContainerRunning, hostCredentials, openAgentPlace, type AgentPlace } from './agent-place.js';
import { crashMessage, outcomeOf, Turn, type TurnEnding } from './chat-turn.js';
import type { ProjectService } from './project-service.js';
import type { RuntimeService } from './runtime-service.js';
import { isAlive, type HeldClaim } from './work-claims.js';
import { RUN_MARKER } from '../runtime/process/run-processes.js';
import { PendingRequests, type Answered } from './pending-requests.js';

export interface ChatServiceDeps {
  projects: ProjectService;
  runtime: RuntimeService;
  paths: BerthPaths;
  /** Loaded on each turn, so a changed setting applies to the next one. */
  settings: () => SettingsStore;
  audit: AuditLog;
  adapter: AgentAdapter;
  /** Where the API key, the base URL and the CLI's own switches come from: berth's environment by default. */
  env?: NodeJS.ProcessEnv;
}

export interface SendOptions {
  /** Aborting cancels the turn (or takes the message back while it waits in the queue). */
  signal?: AbortSignal;
  /** Each event of the turn, once it is in the transcript (text deltas as they stream). */
  onEvent?: (entry: TranscriptEntry) => void;
  /** While the project's agent is busy (a turn runs, messages wait): queue the message (the default), or refuse at once. */
  wait?: boolean;
  /** Called when the session has to wait for another berth process's turn of the project, before it starts. */
  onWait?: (holder: WorkClaim) => void;
  /** Starts a new conversation with this turn, as reset() would. */
  newConversation?: boolean;
  /**
   * Sent by a client a person watches (a terminal, or a script that answers
   * with berth approve/deny): the agent's requests wait for an answer.
   * Otherwise chat.unattended decides.
   */
  attended?: boolean;
}

/** How a turn went, for the caller that does not read the events. */
export interface TurnSummary {
  turn: number;
  outcome: TurnOutcome;
  /** The conversation the turn belongs to, null when the agent never named one. */
  sessionId: string | null;
  changedFiles: ChangedFile[];
  /** The agent's own account of the turn, when it gave one. */
  usage: TurnUsage | null;
  /** The first thing that went wrong, one line; null when nothing did. */
  error: string | null;
  /** The transcript file the turn was written to. */
  transcript: string;
}

/** The conversation handed to the agent's own TUI: what to run where the agent runs, and how to give it back. */
export interface AttachedAgent {
  project: string;
  mode: Project['mode'];
  sessionId: string;
  argv: string[];
  /** The agent's environment there: its credentials, its switches and the run marker. */
  env: Record<string, string>;
  /** The TUI has closed: the place is given up, and turns start again. */
  release: () => Promise<void>;
}

export interface ChatActivity {
  project: string;
  entry: TranscriptEntry;
}

type Listener = (activity: ChatActivity) => void;
type QueueListener = (project: string, queued: QueuedMessage[]) => void;

interface Queued extends QueuedMessage {
  options: SendOptions;
  resolve: (summary: TurnSummary) => void;
  reject: (error: unknown) => void;
}

/** A project's chat in this berth: its live agent, its queue, its running turn. */
interface ProjectChat {
  queue: Queued[];
  /** Runs the queue, one turn after another, while it has messages. */
  pumping?: Promise<void>;
  current?: { turn: Turn; controller: AbortController; options: SendOptions };
  /** The running turn's, from the moment its message left the queue: cancel() aborts it. */
  controller?: AbortController;
  agent?: AgentProcess;
  /** Set while the agent starts: a second start waits for it. */
  starting?: Promise<AgentProcess>;
  /** Set while warm() prepares the agent (ends what a dead berth left, then starts it): a turn waits for it. */
  warming?: Promise<void>;
  /** The agent was reached through the credential proxy, which counts the spend. */
  viaProxy: boolean;
  /** Settles once the last agent has exited and its claim is released. */
  released?: Promise<void>;
  idleTimer?: NodeJS.Timeout;
  /** chat.sessionIdle as the last turn read it. */
  idleMs: number;
  /** The conversation is open in the agent's own TUI (attach): no turn starts until it closes. */
  attached?: boolean;
}

/** Where the model API is when the host's ANTHROPIC_BASE_URL does not say. */
const DEFAULT_UPSTREAM = 'https://api.anthropic.com';

/** How long the container of a turn whose agent was killed is watched: is it stopping, or being removed? */
const CONTAINER_LOOKS = 10;
const CONTAINER_LOOK_MS = 100;

/** chat.sessionIdle's default, until a turn has read the settings. */
const DEFAULT_SESSION_IDLE_MS = 15 * 60_000;

/** After an interrupt, the agent has this long to end the turn before its process goes. */
const INTERRUPT_GRACE_MS = 3_000;

/**
 * Variables of berth's environment the agent CLI reads for itself (retries,
 * telemetry, gateways' auth); the workspace runtime passes nothing it is not
 * given. The adapter's own variables (key, base URL) are added over these.
 */
const AGENT_SWITCH_PREFIXES = ['CLAUDE_CODE_', 'ANTHROPIC_'];
const AGENT_SWITCH_NAMES = ['DISABLE_TELEMETRY', 'DISABLE_AUTOUPDATER', 'DISABLE_ERROR_REPORTING', 'DISABLE_NON_ESSENTIAL_MODEL_CALLS'];
/** What a Claude Code running berth sets for its own children: not meant for the agent berth starts. */
const NOT_AGENT_SWITCHES = ['CLAUDE_CODE_ENTRYPOINT', 'CLAUDE_CODE_SSE_PORT'];

export class ChatService {
  private readonly transcripts: TranscriptStore;
  private readonly chats = new Map<string, ProjectChat>();
  private readonly listeners = new Set<Listener>();
  private readonly queueListeners = new Set<QueueListener>();
  private readonly requests = new PendingRequests();
  private readonly ledger: SpendLedger;
  private proxy: CredentialProxy | undefined;
  private closing = false;

  constructor(private readonly deps: ChatServiceDeps) {
    this.transcripts = new TranscriptStore(deps.paths.transcripts);
    this.ledger = new SpendLedger(path.join(deps.paths.home, 'spend.json'));
  }

  /** True while a turn of `projectName` runs (or is about to) in this berth. */
  running(projectName: string): boolean {
    return this.chats.get(projectName)?.pumping !== undefined;
  }

  /** The projects with a turn running in this berth. */
  runningProjects(): string[] {
    return [...this.chats].filter(([, chat]) => chat.pumping !== undefined).map(([name]) => name);
  }

  /** Each project with a live agent or queued messages. */
  sessionStatuses(): SessionStatus[] {
    return [...this.chats]
      .filter(([, chat]) => chat.agent?.alive || chat.pumping || chat.queue.length > 0)
      .map(([project, chat]) => ({
        project,
        ...(chat.agent?.alive && { marker: chat.agent.claim.marker }),
        busy: chat.current !== undefined,
        queued: chat.queue.map(publicQueued),
      }));
  }

  /** Stops the running turn of a project (the agent is interrupted, and stays); false when none runs. */
  cancel(projectName: string): boolean {
    const controller = this.chats.get(projectName)?.controller;
    controller?.abort();
    return controller !== undefined;
  }

  /**
   * Starts the live agent of a project ahead of its first message (a chat
   * screen opened): the CLI's own start-up, a second or so, then passes while
   * the user types. Nothing when an agent runs or starts, a turn runs, or the
   * project's container is not running (its start is the user's to ask for).
   * The agent idles out after chat.sessionIdle like any other.
   */
  async warm(projectName: string): Promise<void> {
    const chat = this.chatOf(projectName);
    const busy = () => this.closing || chat.attached === true || chat.agent?.alive === true || chat.starting !== undefined || chat.pumping !== undefined;
    if (busy() || chat.warming) return chat.warming;
    chat.warming = (async () => {
      const project = await this.deps.projects.require(projectName);
      if (project.mode === 'container' && (await this.deps.runtime.container(projectName))?.status !== 'running') return;
      // What a dead berth left is ended first, as before a turn.
      await this.deps.runtime.claims().recoverFor(projectName, true);
      if (busy()) return;
      const settings = settingsForProject(this.deps.settings().load(), project.settings);
      chat.idleMs = settingMs(settings, 'chat.sessionIdle') ?? DEFAULT_SESSION_IDLE_MS;
      const request = sessionRequest(project, project.sessionId ?? null, settings);
      chat.starting = this.startAgent(project, chat, settings, request, new AbortController().signal, {}).finally(() => (chat.starting = undefined));
      await chat.starting;
    })().finally(() => (chat.warming = undefined));
    return chat.warming;
  }

  /**
   * On berth's shutdown: messages still queued are refused, the running turns
   * stopped and recorded, the agents ended with all they started.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const [name, chat] of this.chats) {
      for (const queued of chat.queue.splice(0)) queued.reject(new BerthError(`berth stopped before the message to ${name} was sent`));
      chat.controller?.abort();
      clearTimeout(chat.idleTimer);
    }
    await Promise.all([...this.chats.values()].map((chat) => chat.pumping));
    // An agent still starting is ended too, once it runs.
    await Promise.all([...this.chats.values()].map((chat) => chat.starting?.catch(() => undefined)));
    await Promise.all([...this.chats.values()].map((chat) => chat.agent?.terminate()));
    await Promise.all([...this.chats.values()].map((chat) => chat.released));
    await this.proxy?.close();
  }

  /**
   * Every event of every project's turns, as it is written. A turn begins
   * with a `user` event and ends with `turn_end`. A listener that throws is
   * ignored, so one bad listener cannot break a turn. Returns the unsubscribe.
   */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Each change of a project's queue of waiting messages. */
  subscribeQueue(listener: QueueListener): () => void {
    this.queueListeners.add(listener);
    return () => void this.queueListeners.delete(listener);
  }

  /** The agents' requests that wait for a person; of one project, or of all. */
  pendingRequests(projectName?: string): PendingRequest[] {
    return this.requests.list(projectName);
  }

  /** Each change of the requests that wait (asked, answered, withdrawn): all of them, oldest first. */
  subscribeRequests(listener: (requests: PendingRequest[]) => void): () => void {
    return this.requests.subscribe(listener);
  }

  /**
   * Answers a request of the project's agent, by `by` (the client, as it names
   * itself). A question needs an answer to each of its questions; a request
   * nobody waits for any more is refused in one line.
   */
  answerRequest(projectName: string, id: string, answer: RequestAnswer, by: string): PendingRequest {
    const request = this.requests.list(projectName).find((candidate) => candidate.id === id);
    if (request?.questions && answer.allow) answeredInput(request.input, request.questions, answer.answers);
    return this.requests.answer(projectName, id, answer, by);
  }

  /**
   * Hands the project's conversation to the agent's own TUI, which the caller
   * runs on its terminal where the agent runs: the live agent ends (it is
   * resumed by the next message), and until `release` no turn starts. The
   * place to run is held meanwhile: the work claim, the credentials (in a
   * container, the credential proxy's token) and the relay to the model API.
   */
  async attach(projectName: string): Promise<AttachedAgent> {
    const chat = this.chatOf(projectName);
    if (chat.attached) throw new BerthError(`${projectName}'s conversation is open in the agent's own TUI already`);
    if (chat.pumping || chat.queue.length > 0) throw new BerthError(`a turn is running in ${projectName}: attach once it has ended (Esc in the chat cancels it)`);
    chat.attached = true;
    let claim: HeldClaim | undefined;
    let place: AgentPlace | undefined;
    try {
      await this.endAgent(projectName);
      await chat.released;
      const project = await this.deps.projects.require(projectName);
      await this.deps.runtime.claims().recoverFor(projectName, true);
      claim = await this.deps.runtime.claims().take(projectName, 'session', { wait: false });
      const settings = settingsForProject(this.deps.settings().load(), project.settings);
      place = await openAgentPlace({ runtime: this.deps.runtime, proxy: () => this.credentialProxy(), env: this.env() }, project, settings);
      const sessionId = project.sessionId ?? randomUUID();
      if (!project.sessionId) await this.deps.projects.record(projectName, { sessionId });
      const { adapter } = this.deps;
      const argv = adapter.interactiveCommandLine({ ...sessionRequest(project, sessionId, settings), sessionId }, !project.sessionId);
      const env: Record<string, string> = { ...agentSwitches(this.env()), ...adapter.environment(place.credentials), [RUN_MARKER]: claim.marker };
      // In the container the agent's config is berth's to ready; on the host it is the user's own.
      if (project.mode === 'container') {
        const start = { workspace: CONTAINER_WORKSPACE, configDir: AGENT_CONFIG_DIR, apiKey: place.credentials.apiKey };
        Object.assign(env, await adapter.prepareInteractive(agentConfigDirOf(this.deps.paths.home, projectName), start));
      }
      // On the host, the CLI the live session runs: found on the daemon's PATH, not the client's.
      const hostPath = this.env().PATH;
      if (project.mode === 'workspace' && hostPath !== undefined) env.PATH = hostPath;
      await this.audit(projectName, 'attach', `the conversation opened in the agent's own TUI`, { session: sessionId });
      const held = { claim, place };
      let released: Promise<void> | undefined;
      return {
        project: projectName,
        mode: project.mode,
        sessionId,
        argv,
        env,
        release: () =>
          (released ??= (async () => {
            // A client that died with the TUI open leaves it running: it goes before the conversation is another's.
            await this.deps.runtime.endRunOf(project, held.claim.marker).catch(() => undefined);
            await held.place.lease?.close().catch(() => undefined);
            await this.deps.runtime.claims().recoverFor(projectName, true).catch(() => undefined);
            await held.claim.release().catch(() => undefined);
            chat.attached = false;
            await this.audit(projectName, 'detach', "the agent's own TUI closed", { session: sessionId });
          })()),
      };
    } catch (error) {
      await place?.lease?.close().catch(() => undefined);
      await claim?.release().catch(() => undefined);
      chat.attached = false;
      throw error;
    }
  }

  /** Every transcript entry of a project, in the order the turns ran; a turn its berth left unfinished is recorded first. */
  async history(projectName: string): Promise<TranscriptEntry[]> {
    await this.deps.runtime.claims().recover(projectName);
    return this.transcripts.entries(projectName);
  }

  /** The same entries, per session (conversation), the oldest first. */
  sessions(projectName: string): Promise<TranscriptSession[]> {
    return this.transcripts.sessions(projectName);
  }

  /** Forgets the project's session: its next turn starts a new conversation. Transcripts are kept. */
  async reset(projectName: string): Promise<void> {
    // An agent being started ahead of a message would resume the conversation this forgets: it is up, then ended, first.
    await this.chats.get(projectName)?.warming?.catch(() => undefined);
    const project = await this.deps.projects.require(projectName);
    // Another berth's turn would write its conversation back when it ends, undoing this.
    const elsewhere = runningTurn(project.work?.filter(isWorkClaim));
    const ownAgent = this.chats.get(projectName)?.agent?.claim.marker;
    if (this.running(projectName) || (elsewhere && elsewhere.marker !== ownAgent && isAlive(elsewhere))) {
      throw new BerthError(`a turn is running in ${projectName}: cancel it, or wait for it, before starting a new conversation`);
    }
    await this.endAgent(projectName);
    await this.forgetSession(projectName, 'new conversation');
  }

  /** Ends the project's live agent (a mode change, its container going): the next message starts another. */
  async endSession(projectName: string): Promise<void> {
    if (this.running(projectName)) return;
    await this.endAgent(projectName);
  }

  /**
   * Changes the permission mode or the model of a project (its own settings),
   * applied to its live agent at once, without a restart.
   */
  async configure(projectName: string, change: { permissionMode?: string; model?: string }): Promise<void> {
    if (change.permissionMode !== undefined) await this.deps.projects.setSetting(projectName, 'claude.permissionMode', change.permissionMode);
    if (change.model !== undefined) await this.deps.projects.setSetting(projectName, 'claude.model', change.model);
    const agent = this.chats.get(projectName)?.agent;
    if (!agent?.alive) return;
    if (change.permissionMode !== undefined) await agent.setPermissionMode(change.permissionMode);
    if (change.model !== undefined) await agent.setModel(change.model === '' ? null : change.model);
  }

  /**
   * Puts a message in the project's queue: it is sent once the turns before
   * it have ended. Throws (before anything is queued) for a message the agent
   * cannot take, and with `wait: false` while the project is busy; `done`
   * rejects when the project does not exist or is over its spending cap, or
   * the message was taken back.
   */
  enqueue(projectName: string, message: string, options: SendOptions = {}): { id: string; done: Promise<TurnSummary> } {
    if (message.trim() === '') throw new BerthError('the message is empty');
    // Refused where it enters: a message the agent cannot take starts no turn and writes nothing.
    this.deps.adapter.checkMessage(message);
    if (this.closing) throw new BerthError('berth is stopping: the message was not sent');
    const chat = this.chatOf(projectName);
    if (chat.attached) throw new BerthError(attachedMessage(projectName));
    if (options.wait === false && (chat.pumping || chat.queue.length > 0)) {
      throw new BerthError(`a turn is running in ${projectName}: wait for it (without --no-wait the message is queued), or cancel it`);
    }
    const id = randomBytes(4).toString('hex');
    let resolve!: (summary: TurnSummary) => void;
    let reject!: (error: unknown) => void;
    const done = new Promise<TurnSummary>((ok, fail) => ((resolve = ok), (reject = fail)));
    chat.queue.push({ id, text: message, since: new Date().toISOString(), options, resolve, reject });
    const onAbort = (): void => {
      if (!this.withdraw(projectName, id)) this.cancel(projectName);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    void done.then(
      () => options.signal?.removeEventListener('abort', onAbort),
      () => options.signal?.removeEventListener('abort', onAbort),
    );
    this.publishQueue(projectName);
    this.pump(projectName);
    return { id, done };
  }

  /** Runs one turn, after those queued before it; see enqueue(). */
  send(projectName: string, message: string, options: SendOptions = {}): Promise<TurnSummary> {
    if (options.signal?.aborted) return Promise.reject(new BerthError('cancelled before the message was sent'));
    try {
      return this.enqueue(projectName, message, options).done;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Where a queued message stands: 1 is next; 0 when it was sent (or never queued). */
  queuePosition(projectName: string, id: string): number {
    return (this.chats.get(projectName)?.queue.findIndex((queued) => queued.id === id) ?? -1) + 1;
  }

  /** Takes a queued message back before it is sent; false when it is not in the queue (any more). */
  withdraw(projectName: string, id: string): boolean {
    const chat = this.chats.get(projectName);
    const index = chat?.queue.findIndex((queued) => queued.id === id) ?? -1;
    if (!chat || index === -1) return false;
    const [queued] = chat.queue.splice(index, 1);
    queued!.reject(new BerthError(`the message to ${projectName} was taken back before it was sent`));
    this.publishQueue(projectName);
    return true;
  }

  private chatOf(projectName: string): ProjectChat {
    let chat = this.chats.get(projectName);
    if (!chat) this.chats.set(projectName, (chat = { queue: [], viaProxy: false, idleMs: DEFAULT_SESSION_IDLE_MS }));
    return chat;
  }

  private pump(projectName: string): void {
    const chat = this.chatOf(projectName);
    if (chat.pumping) return;
    clearTimeout(chat.idleTimer);
    chat.pumping = (async () => {
      for (let next = chat.queue.shift(); next; next = chat.queue.shift()) {
        this.publishQueue(projectName);
        try {
          next.resolve(await this.runTurn(projectName, chat, next));
        } catch (error) {
          next.reject(error);
        }
      }
    })().finally(() => {
      chat.pumping = undefined;
      this.scheduleIdle(projectName, chat);
      // Said once the project is idle again: a daemon asked to stop when its turns end hears it here.
      this.publishQueue(projectName);
    });
  }

  /** A live agent that no turn used for chat.sessionIdle is ended; the next message resumes its conversation. */
  private scheduleIdle(projectName: string, chat: ProjectChat): void {
    clearTimeout(chat.idleTimer);
    if (!chat.agent?.alive || this.closing) return;
    chat.idleTimer = setTimeout(() => {
      if (!chat.pumping) void this.endAgent(projectName);
    }, chat.idleMs);
    chat.idleTimer.unref();
  }

  private async endAgent(projectName: string): Promise<void> {
    // One being started ahead of a message (warm) is ended once it is up.
    await this.chats.get(projectName)?.warming?.catch(() => undefined);
    const chat = this.chats.get(projectName);
    const agent = chat?.agent;
    if (!chat || !agent) return;
    clearTimeout(chat.idleTimer);
    chat.agent = undefined;
    await agent.end();
  }

  private async forgetSession(projectName: string, reason: string): Promise<void> {
    const { sessionId } = await this.deps.projects.require(projectName);
    await this.deps.projects.record(projectName, { sessionId: null });
    await this.audit(projectName, 'chat-reset', reason, sessionId ? { session: sessionId } : {});
  }

  private async runTurn(projectName: string, chat: ProjectChat, queued: Queued): Promise<TurnSummary> {
    const { options } = queued;
    const controller = new AbortController();
    chat.controller = controller;
    const onAbort = (): void => controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.deps.projects.require(projectName);
      await chat.warming?.catch(() => undefined);
      // What a dead berth left is ended, and its turn recorded, before this turn is: or it is refused, writing nothing.
      if (!chat.agent?.alive) await this.deps.runtime.claims().recoverFor(projectName, true);
      if (options.newConversation) {
        await this.endAgent(projectName);
        await this.forgetSession(projectName, 'new conversation (--new)');
      }
      // Read now: the turn before may have started the conversation this one continues.
      const project = await this.deps.projects.require(projectName);
      // Over its daily cap, a project's next turn is refused before anything is written.
      const refusal = await this.overCap(projectName);
      if (refusal) throw new BerthError(refusal.replace(/^berth: /, ''));
      const transcript = await this.transcripts.beginTurn(projectName, project.sessionId ?? null);
      const turn = new Turn(project, queued.text, transcript, (entry) => this.publish(projectName, entry, options));
      chat.current = { turn, controller, options };
      try {
        return await this.run(turn, chat, controller.signal, options);
      } finally {
        chat.current = undefined;
        transcript.close();
      }
    } finally {
      chat.controller = undefined;
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async run(turn: Turn, chat: ProjectChat, signal: AbortSignal, options: SendOptions): Promise<TurnSummary> {
    const { project } = turn;
    turn.emit({ type: 'user', text: turn.message });
    await this.audit(project.name, 'turn-start', `turn ${turn.number} started`, { turn: turn.number });

    let settings: Settings | undefined;
    let ending: TurnEnding | undefined;
    let snapshot: WorkspaceSnapshot | undefined;
    const stop = (): void => void (turn.stoppedBy ??= 'cancel');
    signal.addEventListener('abort', stop, { once: true });
    if (signal.aborted) stop();
    try {
      settings = settingsForProject(this.deps.settings().load(), project.settings);
      chat.idleMs = settingMs(settings, 'chat.sessionIdle') ?? DEFAULT_SESSION_IDLE_MS;
      if (project.mode === 'container' && !signal.aborted) await ensureContainerRunning(this.deps.runtime, project.name, (text) => turn.emit({ type: 'status', text }));
      // The agent is spawned first and the workspace recorded while it boots (it acts on nothing before it has
      // the message): git's processes would otherwise hold up the spawn. One that could not start fails the
      // turn once, after the recording, as any turn; one given up on by a cancel is no error.
      const failedStart = signal.aborted ? undefined : await this.liveAgent(turn, chat, settings, signal, options).then(() => undefined, (error: unknown) => ({ error }));
      if (!signal.aborted) {
        snapshot = await snapshotWorkspace(project.path).catch((error: unknown) => {
          turn.emit({ type: 'status', text: `changed files will not be shown: ${messageOf(error)}` });
          return undefined;
        });
      }
      if (failedStart && !signal.aborted) throw failedStart.error;
      if (!signal.aborted) ending = await this.agentTurn(turn, chat, settings, signal, options);
    } catch (error) {
      turn.emit({ type: 'error', message: messageOf(error) });
    } finally {
      signal.removeEventListener('abort', stop);
      // What the agent asked and nobody answered is not asked any more.
      this.requests.withdraw(project.name, turn.number, 'the turn ended before it was answered');
    }

    const changedFiles = snapshot ? await this.changedFiles(turn, snapshot) : [];
    let outcome = outcomeOf(turn, ending);
    if (outcome === 'timeout') {
      // Said even when the agent said it too: this names the limit and the setting that moves it.
      const limit = settings ? String(settings['chat.turnTimeout']) : 'its time limit';
      turn.emit({ type: 'error', message: `the turn took longer than ${limit} (chat.turnTimeout) and was stopped` });
      turn.firstError = turn.lastError;
    } else if (outcome === 'error' && !turn.sawError) {
      turn.emit({ type: 'error', message: crashMessage(ending) });
    }

    const sessionId = turn.sessionId ?? turn.resumedSession ?? null;
    // A turn whose record was not kept (session, usage, transcript) is not a success: the next one would not know it.
    const saved = (await this.saveTurn(turn, chat, sessionId)) && !turn.transcriptFailed;
    if (!saved && outcome === 'success') outcome = 'error';
    turn.emit({ type: 'turn_end', outcome, sessionId });
    await this.audit(project.name, 'turn-end', `turn ${turn.number} ${outcome}`, {
      turn: turn.number,
      outcome,
      ...(sessionId && { session: sessionId }),
      ...(turn.usage && { costUsd: turn.usage.costUsd }),
    });
    turn.rethrowListenerError();
    return {
      turn: turn.number,
      outcome,
      sessionId,
      changedFiles,
      usage: turn.usage,
      error: turn.firstError,
      transcript: turn.transcript.file,
    };
  }

  /**
   * The agent's part of a turn: the message sent to the project's live agent
   * (started if needed), until its result, or its exit. When the agent no
   * longer knows the conversation the turn continues (its session store was
   * lost: a new container home, say), the turn starts a new conversation,
   * says so, and keeps the old transcript.
   */
  private async agentTurn(turn: Turn, chat: ProjectChat, settings: Settings, signal: AbortSignal, options: SendOptions): Promise<TurnEnding> {
    const ending = await this.agentTurnOnce(turn, chat, settings, signal, options);
    if (!ending.lostSession || turn.resumedSession === null || signal.aborted) return ending.ending;
    const lost = turn.resumedSession;
    turn.resumedSession = null;
    turn.transcript.leaveSession();
    turn.emit({ type: 'status', text: `the agent no longer knows conversation ${lost}: this turn starts a new one (the old transcript is kept)` });
    await this.forgetSession(turn.project.name, `the agent no longer knows conversation ${lost}`);
    return (await this.agentTurnOnce(turn, chat, settings, signal, options)).ending;
  }

  private async agentTurnOnce(
    turn: Turn,
    chat: ProjectChat,
    settings: Settings,
    signal: AbortSignal,
    options: SendOptions,
  ): Promise<{ ending: TurnEnding; lostSession: boolean }> {
    const agent = await this.liveAgent(turn, chat, settings, signal, options);
    turn.viaProxy = chat.viaProxy;
    await agent.claim.setTurn(turn.number);
    let killTimer: NodeJS.Timeout | undefined;
    const stopTurn = (reason: 'cancel' | 'timeout'): void => {
      turn.stoppedBy ??= reason;
      // Interrupted, the agent ends the turn and stays for the next; one that does not answer goes.
      killTimer ??= setTimeout(() => void agent.terminate(), INTERRUPT_GRACE_MS);
      agent.interrupt().catch(() => void agent.terminate());
    };
    const onAbort = (): void => stopTurn('cancel');
    // Cancelled while the agent started: the message is not sent.
    if (signal.aborted) {
      await agent.claim.setTurn(null).catch(() => undefined);
      return { ending: { by: 'exit', exitCode: null, stderr: '' }, lostSession: false };
    }
    const timer = setTimeout(() => stopTurn('timeout'), settingMs(settings, 'chat.turnTimeout')!);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      try {
        agent.send(turn.message);
      } catch (error) {
        // Exited before it took the message: its exit, next, says why; anything else is this turn's error.
        if (agent.alive) throw error;
      }
      const exited = agent.exited.then((exit): { exit: AgentExit } => ({ exit }));
      const first = await Promise.race([turn.agentDone.then((ending) => ({ ending })), exited]);
      if ('ending' in first) return { ending: first.ending, lostSession: false };
      const { exit } = first;
      // The agent's own guess at a killed process ("perhaps out of memory") gives way to what the engine knows.
      const containerGone = await this.containerGone(turn, exit);
      for (const event of exit.ending) if (!(containerGone && event.type === 'error')) this.turnEvent(turn, event);
      const ending: TurnEnding = { by: 'exit', exitCode: exit.outcome?.exitCode ?? null, stderr: exit.stderr };
      if (containerGone) turn.emit({ type: 'error', message: containerGone });
      // How the agent ended is said once, whatever it printed before.
      else if (exit.error === undefined && !exit.unknownSession && turn.stoppedBy === undefined && !saysHowItEnded(exit)) {
        turn.emit({ type: 'error', message: crashMessage(ending) });
      }
      if (exit.error !== undefined) turn.emit({ type: 'error', message: messageOf(exit.error) });
      return { ending, lostSession: exit.unknownSession };
    } finally {
      clearTimeout(timer);
      clearTimeout(killTimer);
      signal.removeEventListener('abort', onAbort);
      if (agent.alive) await agent.claim.setTurn(null).catch(() => undefined);
    }
  }

  /**
   * The project's live agent, started when it has none, or when what it was
   * started with no longer holds (the mode, the tool rules); a changed
   * permission mode or model is applied to it as it runs.
   */
  private async liveAgent(turn: Turn, chat: ProjectChat, settings: Settings, signal: AbortSignal, options: SendOptions): Promise<AgentProcess> {
    const wanted = sessionRequest(turn.project, turn.resumedSession, settings);
    const running = chat.agent?.alive ? chat.agent : undefined;
    if (running) {
      if (sameStart(running.request, wanted)) {
        if (running.request.permissionMode !== wanted.permissionMode) await running.setPermissionMode(wanted.permissionMode);
        if ((running.request.model ?? '') !== (wanted.model ?? '')) await running.setModel(wanted.model ?? null);
        running.request = { ...running.request, permissionMode: wanted.permissionMode, ...(wanted.model !== undefined ? { model: wanted.model } : {}) };
        return running;
      }
      turn.emit({ type: 'status', text: 'the agent restarts: its mode or tool rules changed' });
      await this.endAgent(turn.project.name);
    }
    chat.starting ??= this.startAgent(turn.project, chat, settings, wanted, signal, options).finally(() => (chat.starting = undefined));
    return chat.starting;
  }

  private async startAgent(
    project: Project,
    chat: ProjectChat,
    settings: Settings,
    request: AgentSessionRequest,
    signal: AbortSignal,
    options: SendOptions,
  ): Promise<AgentProcess> {
    // One agent of a project at a time, in every berth process: the conversation must not fork.
    const claim = await this.deps.runtime.claims().take(project.name, 'session', { signal, ...(options.onWait && { onWait: options.onWait }) });
    let place: AgentPlace | undefined;
    try {
      place = await openAgentPlace({ runtime: this.deps.runtime, proxy: () => this.credentialProxy(), env: this.env() }, project, settings);
      const { adapter } = this.deps;
      const env = { ...agentSwitches(this.env()), ...adapter.environment(place.credentials) };
      const agent = await AgentProcess.start({
        runtime: this.deps.runtime,
        adapter,
        project,
        request,
        env,
        claim,
        ...(place.lease && { lease: place.lease }),
        decide: (call, withdrawn) => this.decide(project.name, call, withdrawn),
        onEvent: (event) => {
          const current = chat.current?.turn;
          if (current) this.turnEvent(current, event);
        },
      });
      chat.agent = agent;
      chat.viaProxy = place.viaProxy;
      // Its turn may have ended (cancelled) while it started: it idles from now.
      if (!chat.pumping) this.scheduleIdle(project.name, chat);
      chat.released = agent.exited.then(async () => {
        if (chat.agent === agent) chat.agent = undefined;
        clearTimeout(chat.idleTimer);
        await claim.release().catch(() => undefined);
      });
      return agent;
    } catch (error) {
      await place?.lease?.close().catch(() => undefined);
      await claim.release().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Why a container turn's agent was killed, when the engine knows: the
   * kernel killed it for want of memory, or its container was stopped or
   * removed under it. The engine may take a moment to tell a dying container
   * from a running one (and `docker rm -f` stops it before it removes it), so
   * it is watched for a second.
   */
  private async containerGone(turn: Turn, exit: AgentExit): Promise<string | undefined> {
    const outcome = exit.outcome;
    const killed = outcome !== undefined && (outcome.exitCode === null || outcome.exitCode === 137 || outcome.exitCode === 143);
    if (turn.project.mode !== 'container' || turn.stoppedBy !== undefined || outcome?.cancelled || !killed) return undefined;
    const { runtime } = this.deps;
    // null: the engine did not answer, and so does not know.
    const look = () => runtime.container(turn.project.name).catch(() => null);
    let container = await look();
    if (container === null) return undefined;
    const limit = container?.limits.memoryBytes ? `its limit, container.memory, is ${formatSize(container.limits.memoryBytes)}` : 'it has no limit';
    if (container?.status === 'running' && (await runtime.oomKillsSince(turn.project.name, turn.startedAt).catch(() => 0)) > 0) {
      return `the agent ran out of memory in the container and was killed (${limit})`;
    }
    for (let looks = 0; container && looks < CONTAINER_LOOKS; looks += 1) {
      await sleep(CONTAINER_LOOK_MS);
      const seen = await look();
      if (seen === null) return undefined;
      container = seen;
    }
    if (!container) return 'the container was removed during the turn';
    if (container.status === 'running') return undefined;
    if (container.oomKilled) return `the container ran out of memory during the turn and was killed (${limit})`;
    return 'the container was stopped during the turn';
  }

  /** An event of the agent's stream, for the running turn. */
  private turnEvent(turn: Turn, event: ChatEvent): void {
    // The agent's own turn_end would end the turn twice: berth writes the one that ends it.
    if (event.type === 'turn_end' || event.type === 'user') return;
    turn.emit(event);
    if (event.type === 'session' && event.sessionId !== turn.sessionId) {
      // Asked to continue one conversation, the agent began another without saying why: it no longer knew the first.
      if (turn.resumedSession !== null && turn.sessionId === null && event.sessionId !== turn.resumedSession) {
        const lost = turn.resumedSession;
        turn.resumedSession = null;
        turn.transcript.leaveSession();
        turn.emit({ type: 'status', text: `the agent no longer knows conversation ${lost}: this turn starts a new one (the old transcript is kept)` });
        void this.audit(turn.project.name, 'chat-reset', `the agent no longer knows conversation ${lost}`, { session: lost });
      }
      turn.sessionId = event.sessionId;
      // Kept at once: a berth killed mid-turn still continues this conversation next time.
      turn.track(this.deps.projects.record(turn.project.name, { sessionId: event.sessionId }));
    }
    if (event.type === 'result') {
      const { durationMs, turns, tokensIn, tokensOut, costUsd } = event;
      turn.usage = { durationMs, turns, tokensIn, tokensOut, costUsd };
      turn.resultOk = event.ok;
      turn.end({ by: 'result' });
    }
  }

  private async changedFiles(turn: Turn, snapshot: WorkspaceSnapshot): Promise<ChangedFile[]> {
    try {
      const files = await changedSince(turn.project.path, snapshot);
      turn.emit({ type: 'changed_files', files });
      return files;
    } catch (error) {
      turn.emit({ type: 'status', text: `changed files unknown: ${messageOf(error)}` });
      return [];
    }
  }

  /** Session, usage and last activity, kept with the project. */
  private async saveTurn(turn: Turn, chat: ProjectChat, sessionId: string | null): Promise<boolean> {
    try {
      await turn.settled();
      const usage = turn.usage ?? { durationMs: Date.now() - turn.startedAt.getTime(), turns: 0, tokensIn: 0, tokensOut: 0, costUsd: 0 };
      // Through the credential proxy the spend was counted request by request; otherwise the agent's own figure counts.
      if (!chat.viaProxy && turn.usage) await this.ledger.add(turn.project.name, turn.usage.costUsd);
      // Added under the registry's lock: another berth may have added a turn meanwhile.
      await this.deps.projects.record(turn.project.name, (current) => ({
        lastActive: new Date().toISOString(),
        sessionId,
        usage: addUsage(current.usage ?? NO_USAGE, usage),
      }));
      return true;
    } catch (error) {
      turn.emit({ type: 'error', message: `the turn's session and usage were not saved: ${messageOf(error)}` });
      return false;
    }
  }

  /** The credential proxy of the container agents (see agent-place.ts): it holds the key, refuses a project over its cap, counts the spend. */
  private credentialProxy(): CredentialProxy {
    return (this.proxy ??= new CredentialProxy({
      credentials: async () => {
        const credentials = await hostCredentials(this.env(), this.deps.settings().load());
        return { upstream: credentials.baseUrl ?? DEFAULT_UPSTREAM, ...(credentials.apiKey && { apiKey: credentials.apiKey }) };
      },
      refusal: async (project) => this.overCap(project),
      onUsage: (project, usage) => void this.ledger.add(project, costUsd(usage)).catch(() => undefined),
    }));
  }

  /** Why the project may not spend more today (limits.dailyUsd), or undefined. */
  /**
   * A tool call that the permission mode and the tool rules do not allow by
   * themselves: a rule the user kept allows it, or chat.unattended denies it
   * (a turn nobody watches), or it waits for a person's answer. Each request
   * and its answer go to the transcript and the audit log.
   */
  private async decide(projectName: string, call: PermissionRequest, withdrawn: AbortSignal): Promise<PermissionDecision> {
    const current = this.chats.get(projectName)?.current;
    if (!current) return { allow: false, message: `berth denied ${call.tool}: no turn of the project is running` };
    const { turn, options } = current;
    const project = await this.deps.projects.require(projectName);
    const questions = call.tool === QUESTION_TOOL ? questionsOf(call.input) : [];
    const asking = questions.length > 0;
    const rule = asking ? undefined : ruleFor(call.tool, call.input);
    const request: PendingRequest = {
      id: call.id,
      project: projectName,
      turn: turn.number,
      tool: call.tool,
      input: call.input,
      detail: describeToolCall(call.tool, call.input),
      ...(rule !== undefined && { rule }),
      ...(asking && { questions }),
      since: new Date().toISOString(),
    };
    // Allowed always: not asked again, and the decision says which rule allowed it.
    const kept = asking ? undefined : project.approvalRules?.find((candidate) => ruleAllows(candidate, call.tool, call.input));
    if (kept !== undefined) return this.decided(turn, request, { answer: { allow: true }, by: `the kept rule ${kept}` });
    // The turn may have ended while the project was read: its requests were withdrawn already.
    if (this.chats.get(projectName)?.current?.turn !== turn) return { allow: false, message: `berth denied ${call.tool}: the turn has ended` };
    const unattended = settingsForProject(this.deps.settings().load(), project.settings)['chat.unattended'];
    const waiting = options.attended === true || unattended === 'wait';
    turn.emit({ type: 'permission_request', id: request.id, tool: request.tool, input: request.input, detail: request.detail, ...(rule !== undefined && { rule }), ...(asking && { questions }), waiting });
    const answered: Answered = waiting
      ? await this.requests.wait(request, withdrawn)
      : { answer: { allow: false, message: 'nobody was there to answer it (chat.unattended is deny)' }, by: 'chat.unattended' };
    return this.decided(turn, request, answered);
  }

  private async decided(turn: Turn, request: PendingRequest, { answer, by }: Answered): Promise<PermissionDecision> {
    const { project, tool } = request;
    const record = async (allow: boolean, details: Record<string, unknown>) => {
      turn.emit({ type: 'permission_decision', id: request.id, allow, by, ...details });
      await this.audit(project, allow ? 'permission-allowed' : 'permission-denied', `${tool} ${allow ? 'allowed' : 'denied'} by ${by}`, { turn: turn.number, tool, request: request.id, by, ...details });
    };
    if (!answer.allow) {
      const message = answer.message?.trim();
      await record(false, message ? { message } : {});
      return { allow: false, message: message ? `The user denied this ${tool} call: ${message}` : `The user denied this ${tool} call.` };
    }
    if (request.questions) {
      const input = answeredInput(request.input, request.questions, answer.answers);
      await record(true, { answers: input.answers });
      return { allow: true, input };
    }
    const keep = answer.always === true ? request.rule : undefined;
    if (keep !== undefined) {
      await this.deps.projects.keepRule(project, keep, by).catch((error: unknown) => turn.emit({ type: 'status', text: `the rule ${keep} could not be kept: ${messageOf(error)}` }));
    }
    await record(true, keep !== undefined ? { kept: keep } : {});
    return { allow: true };
  }

  private async overCap(projectName: string): Promise<string | undefined> {
    const project = await this.deps.projects.require(projectName);
    const cap = Number(settingsForProject(this.deps.settings().load(), project.settings)['limits.dailyUsd']);
    if (!(cap > 0)) return undefined;
    const spent = await this.ledger.spentToday(projectName);
    if (spent < cap) return undefined;
    const usd = (value: number) => value.toFixed(value >= 0.01 ? 2 : 4);
    return `berth: project ${projectName} has spent $${usd(spent)} on the model today, its cap is $${usd(cap)} (limits.dailyUsd)`;
  }

  private env(): NodeJS.ProcessEnv {
    return this.deps.env ?? process.env;
  }

  private async audit(project: string, action: string, reason: string, details: Record<string, unknown>): Promise<void> {
    // The audit log is a record, not a gate: a turn does not fail because it could not be written.
    await this.deps.audit.append({ project, action, reason, ...details }).catch(() => undefined);
  }

  private publish(project: string, entry: TranscriptEntry, options: SendOptions): void {
    options.onEvent?.(entry);
    for (const listener of this.listeners) {
      try {
        listener({ project, entry });
      } catch {
        // A subscriber's failure is its own; the turn goes on.
      }
    }
  }

  private publishQueue(project: string): void {
    const queued = (this.chats.get(project)?.queue ?? []).map(publicQueued);
    for (const listener of this.queueListeners) {
      try {
        listener(project, queued);
      } catch {
        // As publish(): the queue goes on.
      }
    }
  }
}

function attachedMessage(projectName: string): string {
  return `${projectName}'s conversation is open in the agent's own TUI (berth attach): close it, then send the message`;
}

/** Whether the agent's own last words name how its process ended (its exit code, or that it was killed). */
function saysHowItEnded(exit: AgentExit): boolean {
  const code = exit.outcome?.exitCode;
  return exit.ending.some((event) => event.type === 'error' && (code === null || code === undefined ? /killed/.test(event.message) : event.message.includes(`code ${code}`)));
}

function publicQueued({ id, text, since }: Queued): QueuedMessage {
  return { id, text, since };
}

/** What the project's agent is started with, from the turn's project and settings. */
function sessionRequest(project: Project, sessionId: string | null, settings: Settings): AgentSessionRequest {
  return {
    sessionId,
    mode: project.mode,
    permissionMode: String(settings['claude.permissionMode']),
    ...(settings['claude.model'] !== '' && { model: String(settings['claude.model']) }),
    ...toolRules('allowedTools', settings['claude.allowedTools']),
    ...toolRules('disallowedTools', settings['claude.disallowedTools']),
  };
}

/** Whether a running agent can take the turn as it is: what only a restart changes is the same. */
function sameStart(running: AgentSessionRequest, wanted: AgentSessionRequest): boolean {
  const fixed = (request: AgentSessionRequest) => JSON.stringify([request.mode, request.allowedTools ?? [], request.disallowedTools ?? []]);
  return fixed(running) === fixed(wanted);
}

function agentSwitches(env: NodeJS.ProcessEnv): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || NOT_AGENT_SWITCHES.includes(name)) continue;
    if (AGENT_SWITCH_NAMES.includes(name) || AGENT_SWITCH_PREFIXES.some((prefix) => name.startsWith(prefix))) picked[name] = value;
  }
  return picked;
}



/** A rules setting as the adapter's request field; nothing when the setting is empty. */
function toolRules(field: 'allowedTools' | 'disallowedTools', value: SettingValue): Partial<AgentSessionRequest> {
  const rules = splitToolRules(String(value));
  return rules.length > 0 ? { [field]: rules } : {};
}
