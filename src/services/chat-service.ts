/**
 * Chat sessions: one per project. A turn sends the user's message to the
 * agent CLI where the project's agent runs (its folder, or its container,
 * started if needed), turns the CLI's stream into events, writes each to the
 * transcript before anyone sees it, and ends with the files the turn changed
 * and a turn_end that always comes, whatever failed. The CLI's session id and
 * the usage are kept with the project, so the next turn (of this berth or a
 * restarted one) continues the conversation.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { costUsd } from '../domain/pricing.js';
import { formatSize } from '../domain/size.js';
import { CredentialProxy } from '../runtime/credential-proxy.js';
import { SpendLedger } from '../store/spend-ledger.js';
import type { AgentAdapter, AgentCredentials, AgentTurnRequest } from '../agents/types.js';
import type { ChangedFile, ChatEvent, TranscriptEntry, TurnOutcome, TurnUsage } from '../domain/chat.js';
import { addUsage, NO_USAGE, splitToolRules } from '../domain/chat.js';
import { BerthError, messageOf } from '../domain/errors.js';
import type { Project } from '../domain/project.js';
import { settingMs, settingsForProject, type Settings, type SettingValue } from '../domain/settings.js';
import { changedSince, snapshotWorkspace, type WorkspaceSnapshot } from '../runtime/changed-files.js';
import type { UrlLease } from '../runtime/loopback-bridge.js';
import type { ExecOutcome } from '../runtime/types.js';
import type { AuditLog } from '../store/audit-log.js';
import type { BerthPaths } from '../store/paths.js';
import type { SettingsStore } from '../store/settings-store.js';
import { TranscriptStore, type TranscriptSession, type TurnTranscript } from '../store/transcripts.js';
import { isWorkClaim, runningTurn, type WorkClaim } from '../domain/work.js';
import type { ProjectService } from './project-service.js';
import type { RuntimeService } from './runtime-service.js';
import { isAlive, type HeldClaim } from './work-claims.js';

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
  /** Aborting cancels the turn: the CLI and all it started are killed, and the turn ends as cancelled. */
  signal?: AbortSignal;
  /** Each event of the turn, once it is in the transcript. */
  onEvent?: (entry: TranscriptEntry) => void;
  /** While a turn of the project runs in another berth process: wait for it (the default), or refuse at once. */
  wait?: boolean;
  /** Called when the turn has to wait for another berth's turn of the project, before it starts. */
  onWait?: (holder: WorkClaim) => void;
  /** Starts a new conversation with this turn, as reset() would. */
  newConversation?: boolean;
}

/** How a turn went, for the caller that does not read the events. */
export interface TurnSummary {
  turn: number;
  outcome: TurnOutcome;
  /** The conversation the turn belongs to, null when the CLI never named one. */
  sessionId: string | null;
  changedFiles: ChangedFile[];
  /** The CLI's own account of the turn, when it gave one. */
  usage: TurnUsage | null;
  /** The first thing that went wrong, one line; null when nothing did. */
  error: string | null;
  /** The transcript file the turn was written to. */
  transcript: string;
}

export interface ChatActivity {
  project: string;
  entry: TranscriptEntry;
}

type Listener = (activity: ChatActivity) => void;

interface RunningTurn {
  controller: AbortController;
  /** Settles once the turn has ended, however it ended. */
  ended: Promise<unknown>;
}

/** Where the model API is when the host's ANTHROPIC_BASE_URL does not say. */
const DEFAULT_UPSTREAM = 'https://api.anthropic.com';

/** How long the container of a turn whose CLI was killed is watched: is it stopping, or being removed? */
const CONTAINER_LOOKS = 10;
const CONTAINER_LOOK_MS = 100;

/** Of the CLI's stderr, only the end is kept: it explains a crash. */
const STDERR_TAIL_CHARS = 8_192;

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
  private readonly turns = new Map<string, RunningTurn>();
  private readonly listeners = new Set<Listener>();
  private readonly ledger: SpendLedger;
  private proxy: CredentialProxy | undefined;

  constructor(private readonly deps: ChatServiceDeps) {
    this.transcripts = new TranscriptStore(deps.paths.transcripts);
    this.ledger = new SpendLedger(path.join(deps.paths.home, 'spend.json'));
  }

  /** True while a turn of `projectName` runs in this berth. */
  running(projectName: string): boolean {
    return this.turns.has(projectName);
  }

  /** The projects with a turn running in this berth. */
  runningProjects(): string[] {
    return [...this.turns.keys()];
  }

  /** Cancels the running turn of a project (as aborting its signal would); false when none runs. */
  cancel(projectName: string): boolean {
    const running = this.turns.get(projectName);
    running?.controller.abort();
    return running !== undefined;
  }

  /** On berth's shutdown: cancels every running turn and waits until each has ended and been recorded. */
  async close(): Promise<void> {
    const running = [...this.turns.values()];
    for (const turn of running) turn.controller.abort();
    await Promise.all(running.map((turn) => turn.ended));
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
    const project = await this.deps.projects.require(projectName);
    // Another berth's turn would write its conversation back when it ends, undoing this.
    const elsewhere = runningTurn(project.work?.filter(isWorkClaim));
    if (this.running(projectName) || (elsewhere && isAlive(elsewhere))) {
      throw new BerthError(`a turn is running in ${projectName}: cancel it, or wait for it, before starting a new conversation`);
    }
    await this.forgetSession(projectName, 'new conversation');
  }

  private async forgetSession(projectName: string, reason: string): Promise<void> {
    const { sessionId } = await this.deps.projects.require(projectName);
    await this.deps.projects.record(projectName, { sessionId: null });
    await this.audit(projectName, 'chat-reset', reason, sessionId ? { session: sessionId } : {});
  }

  /**
   * Runs one turn. Throws (before any event) only when the project does not
   * exist, the message is empty, a turn of the project runs already or its
   * transcript folder cannot be made; every later failure is an `error` event
   * and an `error` outcome. An onEvent that throws is rethrown once the turn
   * has ended and been recorded.
   */
  async send(projectName: string, message: string, options: SendOptions = {}): Promise<TurnSummary> {
    if (message.trim() === '') throw new BerthError('the message is empty');
    // Refused where it enters: a message the CLI cannot take starts no turn and writes nothing.
    this.deps.adapter.checkMessage(message);
    if (this.running(projectName)) throw new BerthError(`a turn is running in ${projectName} already: wait for it or cancel it`);
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    if (options.signal?.aborted) controller.abort();
    const ended = this.start(projectName, message, controller.signal, options);
    // Taken before the first await, so two sends at once cannot both start.
    this.turns.set(projectName, { controller, ended: ended.catch(() => undefined) });
    try {
      return await ended;
    } finally {
      options.signal?.removeEventListener('abort', abort);
      this.turns.delete(projectName);
    }
  }

  private async start(projectName: string, message: string, signal: AbortSignal, options: SendOptions): Promise<TurnSummary> {
    await this.deps.projects.require(projectName);
    // One turn of a project at a time, in every berth process: the conversation must not fork.
    const claim = await this.deps.runtime.claims().take(projectName, 'turn', {
      ...(options.wait !== undefined && { wait: options.wait }),
      ...(options.onWait && { onWait: options.onWait }),
      signal,
    });
    try {
      if (options.newConversation) await this.forgetSession(projectName, 'new conversation (--new)');
      // Read after the wait: the turn before may have started the conversation this one continues.
      const project = await this.deps.projects.require(projectName);
      // Over its daily cap, a project's next turn is refused before anything is written.
      const refusal = await this.overCap(projectName);
      if (refusal) throw new BerthError(refusal.replace(/^berth: /, ''));
      const transcript = await this.transcripts.beginTurn(projectName, project.sessionId ?? null);
      const turn = new Turn(project, message, transcript, signal, claim, (entry) => this.publish(projectName, entry, options));
      try {
        await claim.setTurn(turn.number);
        return await this.run(turn);
      } finally {
        transcript.close();
      }
    } finally {
      await claim.release().catch(() => undefined);
    }
  }

  private async run(turn: Turn): Promise<TurnSummary> {
    const { project, signal } = turn;
    turn.emit({ type: 'user', text: turn.message });
    await this.audit(project.name, 'turn-start', `turn ${turn.number} started`, { turn: turn.number });

    let settings: Settings | undefined;
    let exec: ExecOutcome | undefined;
    let snapshot: WorkspaceSnapshot | undefined;
    try {
      settings = settingsForProject(this.deps.settings().load(), project.settings);
      if (project.mode === 'container' && !signal.aborted) await this.startContainer(turn);
      snapshot = await snapshotWorkspace(project.path).catch((error: unknown) => {
        turn.emit({ type: 'status', text: `changed files will not be shown: ${messageOf(error)}` });
        return undefined;
      });
      exec = await this.runAgent(turn, settings);
    } catch (error) {
      turn.emit({ type: 'error', message: messageOf(error) });
    }

    const changedFiles = snapshot ? await this.changedFiles(turn, snapshot) : [];
    let outcome = outcomeOf(turn, exec, signal);
    if (outcome === 'timeout') {
      // Said even when the CLI's stream said it too: this names the limit and the setting that moves it.
      const limit = settings ? String(settings['chat.turnTimeout']) : 'its time limit';
      turn.emit({ type: 'error', message: `the turn took longer than ${limit} (chat.turnTimeout) and was stopped` });
      turn.firstError = turn.lastError;
    } else if (outcome === 'error' && !turn.sawError) {
      turn.emit({ type: 'error', message: crashMessage(exec, turn.stderr) });
    }

    const sessionId = turn.sessionId ?? turn.resumedSession ?? null;
    // A turn whose record was not kept (session, usage, transcript) is not a success: the next one would not know it.
    const saved = (await this.saveTurn(turn, sessionId, exec)) && !turn.transcriptFailed;
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

  /** Starts a stopped (or never created) container, saying so: it can take a while. */
  private async startContainer(turn: Turn): Promise<void> {
    const container = await this.deps.runtime.container(turn.project.name);
    if (container?.status === 'running') return;
    turn.emit({ type: 'status', text: 'starting the container…' });
    await this.deps.runtime.up(turn.project.name, (step) => turn.emit({ type: 'status', text: step }));
  }

  /**
   * Runs the agent CLI for the turn. When it no longer knows the conversation
   * the turn continues (its session store was lost: a new container home, say),
   * the turn starts a new conversation, says so, and keeps the old transcript.
   */
  private async runAgent(turn: Turn, settings: Settings): Promise<ExecOutcome> {
    const exec = await this.runAgentOnce(turn, settings);
    if (!turn.sessionLost || turn.resumedSession === null || turn.signal.aborted) return exec;
    const lost = turn.resumedSession;
    turn.resumedSession = null;
    turn.transcript.leaveSession();
    turn.emit({ type: 'status', text: `the agent no longer knows conversation ${lost}: this turn starts a new one (the old transcript is kept)` });
    await this.forgetSession(turn.project.name, `the agent no longer knows conversation ${lost}`);
    return this.runAgentOnce(turn, settings);
  }

  private async runAgentOnce(turn: Turn, settings: Settings): Promise<ExecOutcome> {
    const { adapter } = this.deps;
    const request: AgentTurnRequest = {
      message: turn.message,
      sessionId: turn.resumedSession,
      mode: turn.project.mode,
      permissionMode: String(settings['claude.permissionMode']),
      ...(settings['claude.model'] !== '' && { model: String(settings['claude.model']) }),
      ...toolRules('allowedTools', settings['claude.allowedTools']),
      ...toolRules('disallowedTools', settings['claude.disallowedTools']),
    };
    const argv = adapter.commandLine(request);
    const { credentials, viaProxy } = await this.agentCredentials(turn.project, settings);
    turn.viaProxy = viaProxy;
    const lease = credentials.baseUrl === undefined ? undefined : await this.reachableUrl(turn.project, credentials.baseUrl);
    const env = { ...agentSwitches(this.env()), ...adapter.environment({ ...credentials, ...(lease && { baseUrl: lease.url }) }) };
    const parser = adapter.createParser();
    turn.stderr = '';
    let exec: ExecOutcome;
    try {
      exec = await this.deps.runtime.exec(
        turn.project.name,
        {
          argv,
          env,
          timeoutMs: settingMs(settings, 'chat.turnTimeout')!,
          signal: turn.signal,
          onStdout: (chunk) => turn.guard(() => parser.push(chunk).forEach((event) => this.agentEvent(turn, event))),
          onStderr: (chunk) => turn.addStderr(chunk),
        },
        turn.claim,
      );
    } finally {
      await lease?.close();
    }
    // The CLI's own guess at a killed process ("perhaps out of memory") gives way to what the engine knows.
    const containerGone = await this.containerGone(turn, exec);
    const ending = parser.end({ exitCode: exec.exitCode, stderr: turn.stderr, cancelled: exec.cancelled, timedOut: exec.timedOut });
    ending.filter((event) => !(containerGone && event.type === 'error')).forEach((event) => this.agentEvent(turn, event));
    if (containerGone) turn.emit({ type: 'error', message: containerGone });
    turn.sessionLost = parser.unknownSession();
    turn.sessionId ??= parser.sessionId();
    return exec;
  }

  /**
   * Why a container turn's CLI was killed, when the engine knows: the kernel
   * killed it for want of memory, or its container was stopped or removed
   * under it. The engine may take a moment to tell a dying container from a
   * running one (and `docker rm -f` stops it before it removes it), so it is
   * watched for a second.
   */
  private async containerGone(turn: Turn, exec: ExecOutcome): Promise<string | undefined> {
    const killed = exec.exitCode === null || exec.exitCode === 137 || exec.exitCode === 143;
    if (turn.project.mode !== 'container' || exec.cancelled || exec.timedOut || !killed) return undefined;
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

  private agentEvent(turn: Turn, event: ChatEvent): void {
    // The CLI's own turn_end would end the turn twice: berth writes the one that ends it.
    if (event.type === 'turn_end' || event.type === 'user') return;
    turn.emit(event);
    if (event.type === 'session' && event.sessionId !== turn.sessionId) {
      turn.sessionId = event.sessionId;
      // Kept at once: a berth killed mid-turn still continues this conversation next time.
      turn.track(this.deps.projects.record(turn.project.name, { sessionId: event.sessionId }));
    }
    if (event.type === 'result') {
      const { durationMs, turns, tokensIn, tokensOut, costUsd } = event;
      turn.usage = { durationMs, turns, tokensIn, tokensOut, costUsd };
      turn.resultOk = event.ok;
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
  private async saveTurn(turn: Turn, sessionId: string | null, exec: ExecOutcome | undefined): Promise<boolean> {
    try {
      await turn.settled();
      const usage = turn.usage ?? (exec && { durationMs: exec.durationMs, turns: 0, tokensIn: 0, tokensOut: 0, costUsd: 0 });
      // Through the credential proxy the spend was counted request by request; otherwise the CLI's own figure counts.
      if (!turn.viaProxy && turn.usage) await this.ledger.add(turn.project.name, turn.usage.costUsd);
      // Added under the registry's lock: another berth may have added a turn meanwhile.
      await this.deps.projects.record(turn.project.name, (current) => ({
        lastActive: new Date().toISOString(),
        sessionId,
        ...(usage && { usage: addUsage(current.usage ?? NO_USAGE, usage) }),
      }));
      return true;
    } catch (error) {
      turn.emit({ type: 'error', message: `the turn's session and usage were not saved: ${messageOf(error)}` });
      return false;
    }
  }

  /**
   * The base URL as the agent reaches it: a container has a loopback of its
   * own, so a URL on the host's goes through the container runtime's relay.
   */
  private async reachableUrl(project: Project, hostUrl: string): Promise<UrlLease> {
    if (project.mode !== 'container') return { url: hostUrl, close: () => Promise.resolve() };
    return this.deps.runtime.reachableUrl(project.name, hostUrl);
  }

  /**
   * What the agent is given. In a container: only its project's token for the
   * credential proxy, never the key; on the host, the key itself (the agent
   * runs as the user there, who has it anyway).
   */
  private async agentCredentials(project: Project, settings: Settings): Promise<{ credentials: AgentCredentials; viaProxy: boolean }> {
    const credentials = await this.credentials(settings);
    if (project.mode !== 'container' || credentials.apiKey === undefined) return { credentials, viaProxy: false };
    const container = await this.deps.runtime.container(project.name);
    const endpoint = await this.credentialProxy().endpoint(project.name, container?.id);
    return { credentials: { apiKey: endpoint.token, baseUrl: endpoint.url }, viaProxy: true };
  }

  private credentialProxy(): CredentialProxy {
    return (this.proxy ??= new CredentialProxy({
      credentials: async () => {
        const credentials = await this.credentials(this.deps.settings().load());
        return { upstream: credentials.baseUrl ?? DEFAULT_UPSTREAM, ...(credentials.apiKey && { apiKey: credentials.apiKey }) };
      },
      refusal: async (project) => this.overCap(project),
      onUsage: (project, usage) => void this.ledger.add(project, costUsd(usage)).catch(() => undefined),
    }));
  }

  /** Why the project may not spend more today (limits.dailyUsd), or undefined. */
  private async overCap(projectName: string): Promise<string | undefined> {
    const project = await this.deps.projects.require(projectName);
    const cap = Number(settingsForProject(this.deps.settings().load(), project.settings)['limits.dailyUsd']);
    if (!(cap > 0)) return undefined;
    const spent = await this.ledger.spentToday(projectName);
    if (spent < cap) return undefined;
    const usd = (value: number) => value.toFixed(value >= 0.01 ? 2 : 4);
    return `berth: project ${projectName} has spent $${usd(spent)} on the model today, its cap is $${usd(cap)} (limits.dailyUsd)`;
  }

  private async credentials(settings: Settings): Promise<AgentCredentials> {
    const env = this.env();
    const apiKey = nonEmpty(env.ANTHROPIC_API_KEY) ?? (await keyFromFile(settingOf(settings, 'claude.apiKeyFile')));
    const baseUrl = nonEmpty(env.ANTHROPIC_BASE_URL);
    return { ...(apiKey && { apiKey }), ...(baseUrl && { baseUrl }) };
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
}

/** The state of one running turn. */
class Turn {
  sessionId: string | null = null;
  /** The conversation the turn continues; null for a new one. */
  resumedSession: string | null;
  /** The CLI did not know resumedSession. */
  sessionLost = false;
  readonly startedAt = new Date();
  usage: TurnUsage | null = null;
  /** Whether the CLI reported the turn a success; null until it reports. */
  resultOk: boolean | null = null;
  firstError: string | null = null;
  lastError: string | null = null;
  sawError = false;
  stderr = '';
  /** The agent reached the model through the credential proxy, which counted the spend. */
  viaProxy = false;
  private readonly pending: Array<Promise<unknown>> = [];
  private listenerError: unknown;
  private trackedError: unknown;
  transcriptFailed = false;

  constructor(
    readonly project: Project,
    readonly message: string,
    readonly transcript: TurnTranscript,
    readonly signal: AbortSignal,
    /** The project's turn claim, which the turn's processes carry the marker of. */
    readonly claim: HeldClaim,
    private readonly deliver: (entry: TranscriptEntry) => void,
  ) {
    this.resumedSession = project.sessionId ?? null;
  }

  get number(): number {
    return this.transcript.turn;
  }

  /** Writes the event to the transcript, then hands it to the listeners. */
  emit(event: ChatEvent): void {
    if (event.type === 'error' || (event.type === 'result' && !event.ok)) {
      this.sawError = true;
      this.lastError = event.type === 'error' ? event.message : (event.error ?? 'the agent reported a failure');
      this.firstError ??= this.lastError;
    }
    let entry: TranscriptEntry;
    try {
      entry = this.transcript.append(event);
    } catch (error) {
      entry = { ...event, time: new Date().toISOString(), turn: this.number } as TranscriptEntry;
      if (!this.transcriptFailed) {
        this.transcriptFailed = true;
        this.emit({ type: 'status', text: `the transcript could not be written (${messageOf(error)}): this turn is not kept` });
      }
    }
    try {
      this.deliver(entry);
    } catch (error) {
      this.listenerError ??= error;
    }
  }

  /** Runs code called from a stream callback, where a throw would crash berth. */
  guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.emit({ type: 'error', message: `berth could not read the agent's output: ${messageOf(error)}` });
    }
  }

  addStderr(chunk: string): void {
    this.stderr = (this.stderr + chunk).slice(-STDERR_TAIL_CHARS);
  }

  /** Work the turn waits for before it ends; a failure is kept for then (unhandled meanwhile, it would end berth). */
  track(work: Promise<unknown>): void {
    this.pending.push(work.then(() => undefined, (error: unknown) => void (this.trackedError ??= error)));
  }

  async settled(): Promise<void> {
    await Promise.all(this.pending);
    if (this.trackedError !== undefined) throw this.trackedError;
  }

  /** The caller's onEvent threw: the turn was finished and recorded first, then the caller hears of it. */
  rethrowListenerError(): void {
    if (this.listenerError !== undefined) throw this.listenerError;
  }
}

function outcomeOf(turn: Turn, exec: ExecOutcome | undefined, signal: AbortSignal): TurnOutcome {
  if (exec?.cancelled || (signal.aborted && exec === undefined)) return 'cancelled';
  if (exec?.timedOut) return 'timeout';
  if (exec === undefined) return 'error';
  // The CLI's word and its exit code decide; a line berth could not read does not fail a turn the CLI finished.
  return exec.exitCode === 0 && turn.resultOk === true ? 'success' : 'error';
}

function crashMessage(exec: ExecOutcome | undefined, stderr: string): string {
  const lastLine = stderr.trim().split('\n').at(-1)?.trim() ?? '';
  const how = exec?.exitCode === null || exec === undefined ? 'was killed' : `exited with code ${exec.exitCode}`;
  return `the agent ${how} without finishing the turn${lastLine ? `: ${lastLine}` : ''}`;
}

function agentSwitches(env: NodeJS.ProcessEnv): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || NOT_AGENT_SWITCHES.includes(name)) continue;
    if (AGENT_SWITCH_NAMES.includes(name) || AGENT_SWITCH_PREFIXES.some((prefix) => name.startsWith(prefix))) picked[name] = value;
  }
  return picked;
}

/**
 * A setting that may not be in the schema yet (claude.apiKeyFile is proposed):
 * undefined until it is.
 */
function settingOf(settings: Settings, key: string): SettingValue | undefined {
  return (settings as Partial<Record<string, SettingValue>>)[key];
}

async function keyFromFile(file: SettingValue | undefined): Promise<string | undefined> {
  if (typeof file !== 'string' || file === '') return undefined;
  try {
    return nonEmpty((await readFile(file, 'utf8')).trim());
  } catch (error) {
    throw new BerthError(`cannot read the API key from ${file} (claude.apiKeyFile): ${(error as Error).message}`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}


/** A rules setting as the adapter's request field; nothing when the setting is empty. */
function toolRules(field: 'allowedTools' | 'disallowedTools', value: SettingValue): Partial<AgentTurnRequest> {
  const rules = splitToolRules(String(value));
  return rules.length > 0 ? { [field]: rules } : {};
}
