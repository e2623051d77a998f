/**
 * The TUI's control center: a store of the daemon's snapshots, kept current
 * by its events stream, and its actions sent to the daemon. Conversations
 * are the client's own: a chat opened here reads the project's transcript
 * from the daemon, then adds the live entries (and streamed text) as they
 * come. Closing it (quitting the TUI, the terminal going away) stops nothing
 * in the daemon.
 */
import type { RequestAnswer } from '../domain/approvals.js';
import type { TranscriptEntry } from '../domain/chat.js';
import { messageOf } from '../domain/errors.js';
import { workspaceShell } from '../runtime/workspace-shell.js';
import type { IsolationMode } from '../domain/project.js';
import type { Settings } from '../domain/settings.js';
import { answers, type QueuedMessage, type WireSnapshot } from '../daemon/protocol.js';
import type { BerthContext } from '../services/context.js';
import type { NetworkView } from '../services/control-center.js';
import type { ControlCenter, ControlCenterSnapshot, ConversationView, StatusMessage } from '../services/control-center-state.js';
import type { DaemonClient } from './daemon-client.js';
import { StatsHistories } from './stats-histories.js';

/** Streamed text and events wait this long to be drawn together. */
const PUBLISH_DELAY_MS = 40;
/** A broken events stream is followed again after this, doubled after each failure up to the most. */
const RECONNECT_MS = 1_000;
const MAX_RECONNECT_MS = 10_000;

/** The daemon said it stops, and none answers yet: nothing to say, nothing to start. */
class WaitingForDaemon extends Error {}

type Listener = (snapshot: ControlCenterSnapshot) => void;
/** The daemon's latest snapshot, its containers' stats histories filled in (see StatsHistories). */
type Wire = Omit<ControlCenterSnapshot, 'conversations'>;

export class RemoteControlCenter implements ControlCenter {
  private readonly listeners = new Set<Listener>();
  private readonly entryListeners = new Set<(project: string, entry: TranscriptEntry) => void>();
  private wire: Wire;
  private readonly histories = new StatsHistories();
  private readonly conversations = new Map<string, ConversationView>();
  /** Events that came while a conversation's transcript was being read. */
  private readonly pending = new Map<string, TranscriptEntry[]>();
  private readonly queues = new Map<string, QueuedMessage[]>();
  /** Each conversation's latest reading of its transcript: an earlier one that ends after it is dropped. */
  private readonly readings = new Map<string, number>();
  private status: StatusMessage | undefined;
  private current: ControlCenterSnapshot;
  private publishTimer: NodeJS.Timeout | undefined;
  private readonly closed = new AbortController();
  private firstSnapshot!: () => void;
  private readonly snapshotSeen: Promise<void>;
  /** Why the daemon said it stops (its `bye`), until its stream is followed again. */
  private stopReason: string | undefined;

  /** `ensureDaemon` starts a daemon when none answers: the one that went away unasked is replaced. */
  constructor(
    private readonly client: DaemonClient,
    private readonly context: BerthContext,
    private readonly ensureDaemon: () => Promise<unknown> = async () => undefined,
  ) {
    this.wire = { engine: { address: '', status: { state: 'unused' } }, projects: [], requests: [] };
    this.current = this.build();
    this.snapshotSeen = new Promise((resolve) => (this.firstSnapshot = resolve));
  }

  /** Follows the daemon's events; resolves once its first snapshot is in (enough for a first frame). */
  async start(): Promise<void> {
    void this.follow();
    await this.snapshotSeen;
  }

  /**
   * The daemon's events, followed for as long as the screen is open. A daemon
   * that said it stops (berth daemon stop, restart) is waited for: its
   * successor is followed when it answers. One that went away without a word
   * (killed, crashed) is replaced by a new one at once, which ends what the
   * old one's agents left and records their turns as interrupted. What keeps
   * it from following is said once, and tried again less and less often.
   */
  private async follow(): Promise<void> {
    let followed = false;
    let delay = RECONNECT_MS;
    let said: string | undefined;
    while (!this.closed.signal.aborted) {
      try {
        if (followed && !(await answers(this.client.socket))) {
          if (this.stopReason !== undefined) throw new WaitingForDaemon();
          await this.ensureDaemon();
          this.notify('the berth daemon went away: a new one runs (what the old one ran reads interrupted)', 'error');
        }
        let fresh = true;
        await this.client.stream('GET', '/v1/events', undefined, (event, data) => {
          if (fresh) {
            fresh = false;
            // A stream of a new daemon: its conversations are read again.
            if (followed) this.reloadConversations();
            followed = true;
            this.stopReason = undefined;
            delay = RECONNECT_MS;
            said = undefined;
          }
          if (event === 'recovered') this.reloadConversations();
          this.onEvent(event, data);
        }, this.closed.signal);
        if (this.closed.signal.aborted) return;
        if (this.stopReason !== undefined) this.notify(`the berth daemon stopped (${this.stopReason}): its agents stopped with it; followed again once one runs`, 'error');
      } catch (error) {
        if (this.closed.signal.aborted) return;
        const problem = messageOf(error);
        if (!(error instanceof WaitingForDaemon) && problem !== said) this.notify(`${problem}; trying again`, 'error');
        said = problem;
        delay = Math.min(delay * 2, MAX_RECONNECT_MS);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** Every open conversation is read again: a new daemon, or the turns a killed one left now recorded. */
  private reloadConversations(): void {
    for (const name of [...this.conversations.keys()]) this.loadConversation(name);
  }

  private onEvent(event: string, data: unknown): void {
    if (event === 'snapshot') {
      const wire = data as WireSnapshot;
      this.wire = { ...wire, projects: this.histories.fill(wire.projects) };
      // The first is the first frame: drawn at once, not after the publish delay.
      if (this.current.projects.length === 0) this.current = this.build();
      this.firstSnapshot();
    } else if (event === 'chat') {
      const { project, entry } = data as { project: string; entry: TranscriptEntry };
      this.addEntry(project, entry);
      for (const listener of this.entryListeners) listener(project, entry);
    } else if (event === 'delta') {
      const { project, text } = data as { project: string; text: string };
      const conversation = this.conversations.get(project);
      if (conversation) this.conversations.set(project, { ...conversation, streaming: (conversation.streaming ?? '') + text });
    } else if (event === 'queue') {
      const { project, queued } = data as { project: string; queued: QueuedMessage[] };
      this.queues.set(project, queued);
      const conversation = this.conversations.get(project);
      if (conversation) this.conversations.set(project, { ...conversation, queued });
    } else if (event === 'bye') {
      this.stopReason = (data as { reason: string }).reason;
      this.notify(`the berth daemon stops: ${this.stopReason}`, 'error');
    }
    this.schedulePublish();
  }

  private addEntry(project: string, entry: TranscriptEntry): void {
    const pending = this.pending.get(project);
    if (pending) return void pending.push(entry);
    const conversation = this.conversations.get(project);
    if (!conversation) return;
    // The whole text stands for what streamed of it.
    const streaming = entry.type === 'text' || entry.type === 'turn_end' ? undefined : conversation.streaming;
    this.conversations.set(project, { ...conversation, entries: [...conversation.entries, entry], ...(streaming !== undefined ? { streaming } : { streaming: undefined }) });
  }

  /** Every project's transcript entries as the daemon writes them (not those read back from transcripts). */
  subscribeEntries(listener: (project: string, entry: TranscriptEntry) => void): () => void {
    this.entryListeners.add(listener);
    return () => void this.entryListeners.delete(listener);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  snapshot(): ControlCenterSnapshot {
    return this.current;
  }

  settings(): Settings {
    return this.context.settings().load();
  }

  notify(text: string, level: StatusMessage['level'] = 'info'): void {
    this.status = { text, level, time: Date.now() };
    this.schedulePublish();
  }

  startOrStop(name: string): Promise<void> {
    return this.action(name, 'start-or-stop');
  }

  restart(name: string): Promise<void> {
    return this.action(name, 'restart');
  }

  refresh(name: string): Promise<void> {
    return this.action(name, 'refresh');
  }

  removeContainer(name: string): Promise<void> {
    return this.action(name, 'remove-container');
  }

  toggleMode(name: string): Promise<void> {
    return this.action(name, 'toggle-mode');
  }

  newConversation(name: string): Promise<void> {
    return this.action(name, 'new-conversation');
  }

  async buildImage(): Promise<void> {
    await this.client.call('POST', '/v1/image/build').catch((error: unknown) => this.notify(messageOf(error), 'error'));
  }

  async addProject(values: { name: string; path: string; mode: IsolationMode }): Promise<string | undefined> {
    try {
      const { refusal } = await this.client.call<{ refusal: string | null }>('POST', '/v1/projects', values);
      return refusal ?? undefined;
    } catch (error) {
      return messageOf(error);
    }
  }

  network(name: string): Promise<NetworkView> {
    return this.client.call<NetworkView>('GET', `${projectRoute(name)}/network`);
  }

  async editNetwork(name: string, verb: 'allow' | 'deny', host: string): Promise<string | undefined> {
    try {
      const { refusal } = await this.client.call<{ refusal: string | null }>('POST', `${projectRoute(name)}/network`, { verb, host });
      return refusal ?? undefined;
    } catch (error) {
      return messageOf(error);
    }
  }

  openConversation(name: string): void {
    // The agent starts while the user types the first message (the daemon does nothing if it runs).
    this.client.call('POST', `${projectRoute(name)}/warm`).catch(() => undefined);
    if (!this.conversations.has(name)) this.loadConversation(name);
  }

  /** Reads the project's transcript from the daemon; live entries that come meanwhile wait in `pending`. */
  private loadConversation(name: string): void {
    // Read again, a conversation stays on screen until the new reading replaces it; only the last reading counts.
    const reading = (this.readings.get(name) ?? 0) + 1;
    this.readings.set(name, reading);
    if (!this.conversations.has(name)) this.conversations.set(name, { project: name, loaded: false, entries: [], queued: this.queues.get(name) ?? [] });
    this.pending.set(name, []);
    this.schedulePublish();
    const latest = () => this.readings.get(name) === reading;
    this.client.call<TranscriptEntry[]>('GET', `${projectRoute(name)}/history`).then(
      (entries) => latest() && this.finishLoading(name, entries),
      (error: unknown) => {
        if (!latest()) return;
        this.finishLoading(name, this.conversations.get(name)?.entries ?? []);
        this.notify(`the conversation of ${name} could not be read: ${messageOf(error)}`, 'error');
      },
    );
  }

  send(name: string, message: string): void {
    if (message.trim() === '') return;
    // A person watches this screen: the agent's requests wait for their answer.
    this.client.call('POST', `${projectRoute(name)}/messages`, { text: message, attended: true }).catch((error: unknown) => this.notify(messageOf(error), 'error'));
  }

  withdrawLast(name: string): boolean {
    const last = this.queues.get(name)?.at(-1);
    if (!last) return false;
    this.client
      .call('DELETE', `${projectRoute(name)}/messages/${last.id}`)
      .then(() => this.notify(`${name}: the queued message was taken back`))
      .catch((error: unknown) => this.notify(messageOf(error), 'error'));
    return true;
  }

  cancel(name: string): boolean {
    const running = this.current.projects.find((view) => view.project.name === name)?.turn?.running === true;
    if (!running) return false;
    this.client.call('POST', `${projectRoute(name)}/interrupt`).catch((error: unknown) => this.notify(messageOf(error), 'error'));
    return true;
  }

  answer(name: string, id: string, answer: RequestAnswer): void {
    const route = `${projectRoute(name)}/requests/${encodeURIComponent(id)}`;
    this.client.call('POST', route, { ...answer, by: `the control center (pid ${process.pid})` }).catch((error: unknown) => this.notify(messageOf(error), 'error'));
  }

  /** The daemon runs the turns: quitting the screen stops none. */
  anyTurnRunning(): boolean {
    return false;
  }

  async cancelAllTurns(): Promise<void> {
    // Nothing runs here: the turns are the daemon's.
  }

  async followLogs(name: string, onChunk: (text: string) => void, signal: AbortSignal): Promise<void> {
    let refused: string | undefined;
    await this.client.stream(
      'GET',
      `${projectRoute(name)}/logs`,
      undefined,
      (event, data) => {
        if (event === 'log') onChunk((data as { text: string }).text);
        if (event === 'refused') refused = (data as { error: string }).error;
      },
      signal,
    );
    if (refused !== undefined) throw new Error(refused);
  }

  /**
   * A shell where the project's agent runs, on this terminal: in the
   * container (through the engine, from this process, which owns the
   * terminal), or the user's shell in the workspace folder.
   */
  async shell(name: string): Promise<number> {
    const project = await this.context.projects.require(name);
    if (project.mode === 'container') return (await this.context.runtime()).shell(name);
    await this.context.projects.record(name, { lastActive: new Date().toISOString() });
    return workspaceShell(project.path);
  }

  async attach(name: string): Promise<number> {
    const project = await this.context.projects.require(name);
    const { attachThroughDaemon } = await import('./attached-agent.js');
    return attachThroughDaemon(this.client, project, () => this.context.runtime());
  }

  async close(): Promise<void> {
    this.closed.abort();
    clearTimeout(this.publishTimer);
  }

  private async action(name: string, what: string): Promise<void> {
    await this.client.call('POST', `${projectRoute(name)}/${what}`).catch((error: unknown) => this.notify(messageOf(error), 'error'));
  }

  private finishLoading(name: string, entries: readonly TranscriptEntry[]): void {
    const pending = this.pending.get(name) ?? [];
    this.pending.delete(name);
    // An event delivered while the file was read is in the file already, or it came after: keep only the latter.
    const seen = new Set(entries.map((entry) => JSON.stringify(entry)));
    const fresh = pending.filter((entry) => !seen.has(JSON.stringify(entry)));
    this.conversations.set(name, { project: name, loaded: true, entries: [...entries, ...fresh], queued: this.queues.get(name) ?? [] });
    this.schedulePublish();
  }

  private schedulePublish(): void {
    if (this.publishTimer || this.closed.signal.aborted) return;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      this.current = this.build();
      for (const listener of this.listeners) listener(this.current);
    }, PUBLISH_DELAY_MS);
  }

  private build(): ControlCenterSnapshot {
    // The daemon's status line is everyone's; this client's own news is newer when it is.
    const status = !this.status || (this.wire.status && this.wire.status.time > this.status.time) ? this.wire.status : this.status;
    return { ...this.wire, ...(status && { status }), conversations: new Map(this.conversations) };
  }
}

function projectRoute(name: string): string {
  return `/v1/projects/${encodeURIComponent(name)}`;
}
