/**
 * The berth daemon: one per berth home, owning what must outlive a terminal
 * (the projects' live agent sessions, the policies, the stats, the engine's
 * events, the proxies and relays), composed from the services and served on
 * the socket. The TUI and the CLI are its clients.
 */
import { BerthError, messageOf } from '../domain/errors.js';
import type { TranscriptEntry } from '../domain/chat.js';
import type { RequestAnswer } from '../domain/approvals.js';
import { visibleText } from '../domain/visible-text.js';
import type { IsolationMode } from '../domain/project.js';
import { notificationFor } from '../domain/notifications.js';
import { CommandNotifier } from '../services/command-notifier.js';
import { createContext } from '../services/context.js';
import type { ChatService, TurnSummary } from '../services/chat-service.js';
import { ControlCenterService } from '../services/control-center.js';
import type { ControlCenterSnapshot } from '../services/control-center-state.js';
import { DaemonServer, HttpError, type Route } from './server.js';
import { PROTOCOL_VERSION, socketPath, type DaemonStatus, type WireProjectStats, type WireSnapshot } from './protocol.js';
import type { ProjectStats } from '../services/stats-sampler.js';

export interface DaemonOptions {
  version: string;
  env?: NodeJS.ProcessEnv;
  engineFlag?: string;
  /** Told of what the daemon does, one line each (the log). */
  log?: (line: string) => void;
}

/** The dashboard goes out at most this often; stats and streamed turns change it many times a second. */
const SNAPSHOT_MS = 100;
/** How often the daemon checks that its socket is still its own. */
const SOCKET_CHECK_MS = 5_000;

export class Daemon {
  readonly startedAt = new Date();
  private readonly server: DaemonServer;
  private readonly service: ControlCenterService;
  private chat: ChatService | undefined;
  private readonly stopped: Promise<string>;
  private stop!: (reason: string) => void;
  private stopWhenIdle = false;
  private snapshotTimer: NodeJS.Timeout | undefined;
  /** Project → the container whose stats the last broadcast snapshot showed. */
  private statsBroadcast = new Map<string, string>();
  private socketCheck: NodeJS.Timeout | undefined;
  private readonly log: (line: string) => void;
  readonly socket: string;

  constructor(private readonly options: DaemonOptions) {
    const env = options.env ?? process.env;
    const context = createContext(env);
    this.socket = socketPath(context.paths.home, env);
    this.log = options.log ?? (() => undefined);
    this.service = new ControlCenterService({ context, ...(options.engineFlag !== undefined && { engineFlag: options.engineFlag }) });
    this.server = new DaemonServer({ socket: this.socket, version: options.version, routes: this.routes() });
    this.stopped = new Promise((resolve) => (this.stop = resolve));
  }

  /** Listens, then starts the services behind it; resolves once clients can connect. */
  async start(): Promise<void> {
    await this.server.listen();
    this.log(`listening on ${this.socket} (pid ${process.pid}, berth ${this.options.version}, protocol ${PROTOCOL_VERSION})`);
    this.service.subscribe(() => this.scheduleSnapshot());
    await this.service.start().catch((error: unknown) => this.log(`the services could not start: ${messageOf(error)}`));
    this.chat = await this.service.chatService();
    // The turns a killed daemon left are recorded as interrupted by now or soon: clients read their transcripts again then.
    void this.service.recovered().then(() => this.server.broadcast('recovered', {}));
    const notifier = new CommandNotifier(() => this.service.settings(), this.log);
    this.chat.subscribe(({ project, entry }) => {
      if (entry.type === 'text_delta') this.server.broadcast('delta', { project, text: entry.text });
      else this.server.broadcast('chat', { project, entry });
      const notification = notificationFor(project, entry);
      if (notification) notifier.notify(notification);
    });
    this.chat.subscribeQueue((project, queued) => {
      this.server.broadcast('queue', { project, queued });
      if (this.stopWhenIdle && !this.busy()) this.stop('asked to stop once its turns ended');
    });
    // No client can reach a daemon whose socket another took: it goes rather than run on unseen.
    this.socketCheck = setInterval(() => {
      void this.server.ownsSocket().then((owns) => owns || this.stop('its socket was taken by another daemon'));
    }, SOCKET_CHECK_MS);
    this.socketCheck.unref();
  }

  /** Resolves with the reason once the daemon was asked to stop. */
  untilStopped(): Promise<string> {
    return this.stopped;
  }

  requestStop(reason: string): void {
    this.stop(reason);
  }

  /** Cancels what runs (each turn recorded), stops the services and the socket. */
  async close(reason: string): Promise<void> {
    this.log(`stopping: ${reason}`);
    clearTimeout(this.snapshotTimer);
    clearInterval(this.socketCheck);
    this.server.broadcast('bye', { reason });
    await this.service.close();
    await this.server.close();
  }

  status(): DaemonStatus {
    return {
      protocol: PROTOCOL_VERSION,
      version: this.options.version,
      pid: process.pid,
      home: this.service.home(),
      startedAt: this.startedAt.toISOString(),
      uptimeMs: Date.now() - this.startedAt.getTime(),
      clients: this.server.streamCount,
      sessions: this.chat?.sessionStatuses() ?? [],
      ...(this.stopWhenIdle && { stopping: true }),
    };
  }

  private busy(): boolean {
    return (this.chat?.runningProjects().length ?? 0) > 0;
  }

  private scheduleSnapshot(): void {
    if (this.snapshotTimer) return;
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = undefined;
      const snapshot = this.service.snapshot();
      // A container's history goes again when this broadcast is the first to show it (it started or was
      // recreated since the last one): every follower got that last one, and keeps what it had otherwise.
      const shown = this.statsBroadcast;
      this.server.broadcast('snapshot', wireSnapshot(snapshot, { history: (stats) => shown.get(stats.project) !== stats.containerId }));
      this.statsBroadcast = new Map(snapshot.projects.flatMap((view) => (view.stats ? [[view.project.name, view.stats.containerId] as const] : [])));
    }, SNAPSHOT_MS);
  }

  private async requireChat(): Promise<ChatService> {
    return (this.chat ??= await this.service.chatService());
  }

  private routes(): Route[] {
    const name = (params: Record<string, string>) => params.name!;
    const text = (body: Record<string, unknown>, key: string) => {
      const value = body[key];
      if (typeof value !== 'string') throw new HttpError(400, `"${key}" must be a string`);
      return value;
    };
    return [
      { method: 'GET', path: '/v1/status', handler: async () => this.status() },
      {
        method: 'POST',
        path: '/v1/daemon/stop',
        handler: async ({ body }) => {
          const running = this.chat?.runningProjects() ?? [];
          if (running.length > 0 && body.force !== true && body.whenIdle !== true) {
            throw new HttpError(409, `turns are running in ${running.join(', ')}: berth daemon stop --force cancels them`);
          }
          if (body.whenIdle === true && running.length > 0) {
            this.stopWhenIdle = true;
            return { stopping: 'once its turns end', running };
          }
          setImmediate(() => this.stop(body.force === true ? 'stopped by berth daemon stop --force' : 'stopped by berth daemon stop'));
          return { stopping: 'now', running };
        },
      },
      {
        method: 'GET',
        path: '/v1/events',
        handler: async ({ stream }) => {
          const events = stream();
          this.server.follow(events);
          events.send('snapshot', wireSnapshot(this.service.snapshot(), { history: () => true }));
          for (const session of this.chat?.sessionStatuses() ?? []) events.send('queue', { project: session.project, queued: session.queued });
        },
      },
      { method: 'GET', path: '/v1/projects/:name/history', handler: async ({ params }) => (await this.requireChat()).history(name(params)) },
      {
        method: 'POST',
        path: '/v1/projects/:name/messages',
        handler: async ({ params, body, query, stream }) => {
          const chat = await this.requireChat();
          const project = name(params);
          const message = text(body, 'text');
          const options = { wait: body.wait !== false, newConversation: body.newConversation === true, attended: body.attended === true };
          if (query.get('follow') !== '1') {
            const { id, done } = chat.enqueue(project, message, options);
            done.catch(() => undefined);
            return { id };
          }
          // The turn's events as they are written, then its summary. The client may go: the turn does not.
          // Queued first, so that a refusal (--no-wait, a bad message) is an answer of its own, not a cut stream.
          const opened: { events?: ReturnType<typeof stream> } = {};
          const early: Array<[string, unknown]> = [];
          const send = (event: string, data: unknown) => (opened.events ? opened.events.send(event, data) : early.push([event, data]));
          const { id, done } = chat.enqueue(project, message, {
            ...options,
            onEvent: (entry: TranscriptEntry) => send(entry.type === 'text_delta' ? 'delta' : 'chat', entry.type === 'text_delta' ? { project, text: entry.text } : { project, entry }),
          });
          const position = chat.queuePosition(project, id);
          const events = (opened.events = stream());
          events.send('queued', { id, position });
          for (const [event, data] of early.splice(0)) events.send(event, data);
          done.then(
            (summary: TurnSummary) => events.send('summary', summary),
            (error: unknown) => events.send('refused', { error: messageOf(error) }),
          ).finally(() => events.end());
          return undefined;
        },
      },
      {
        method: 'DELETE',
        path: '/v1/projects/:name/messages/:id',
        handler: async ({ params }) => {
          if (!(await this.requireChat()).withdraw(name(params), params.id!)) throw new HttpError(404, `no queued message ${params.id} in ${name(params)}: it was sent already, or never queued`);
          return { withdrawn: params.id };
        },
      },
      {
        method: 'POST',
        path: '/v1/projects/:name/attach',
        // The conversation is the agent's own TUI's for as long as this stream stays open (the client runs the TUI).
        handler: async ({ params, stream }) => {
          const events = stream();
          const chat = await this.requireChat();
          chat
            .attach(name(params))
            .then(async (attached) => {
              const { release, ...shown } = attached;
              if (events.closed.aborted) return release();
              events.closed.addEventListener('abort', () => void release(), { once: true });
              events.send('attached', shown);
            })
            .catch((error: unknown) => {
              events.send('refused', { error: messageOf(error) });
              events.end();
            });
        },
      },
      {
        method: 'POST',
        path: '/v1/projects/:name/warm',
        // Answered at once: the agent starts in the background, and a failure to start is the next turn's to report.
        handler: async ({ params }) => {
          const project = name(params);
          void this.requireChat()
            .then((chat) => chat.warm(project))
            .catch((error: unknown) => this.log(`${project}: the agent could not start ahead of a message: ${messageOf(error)}`));
          return { warming: project };
        },
      },
      { method: 'GET', path: '/v1/requests', handler: async () => ({ requests: (await this.requireChat()).pendingRequests() }) },
      {
        method: 'POST',
        path: '/v1/projects/:name/requests/:id',
        handler: async ({ params, body }) => {
          const answer = requestAnswer(body);
          const request = (await this.requireChat()).answerRequest(name(params), params.id!, answer, clientName(body.by));
          return { answered: request.id, allow: answer.allow };
        },
      },
      { method: 'POST', path: '/v1/projects/:name/interrupt', handler: async ({ params }) => ({ interrupted: this.service.cancel(name(params)) }) },
      {
        method: 'POST',
        path: '/v1/projects/:name/session',
        handler: async ({ params, body }) => {
          const chat = await this.requireChat();
          await chat.configure(name(params), {
            ...(typeof body.permissionMode === 'string' && { permissionMode: body.permissionMode }),
            ...(typeof body.model === 'string' && { model: body.model }),
          });
          return { ok: true };
        },
      },
      { method: 'POST', path: '/v1/projects/:name/new-conversation', handler: async ({ params }) => this.action(() => this.service.newConversation(name(params))) },
      { method: 'POST', path: '/v1/projects/:name/start-or-stop', handler: async ({ params }) => this.action(() => this.service.startOrStop(name(params))) },
      { method: 'POST', path: '/v1/projects/:name/restart', handler: async ({ params }) => this.action(() => this.service.restart(name(params))) },
      { method: 'POST', path: '/v1/projects/:name/refresh', handler: async ({ params }) => this.action(() => this.service.refresh(name(params))) },
      { method: 'POST', path: '/v1/projects/:name/remove-container', handler: async ({ params }) => this.action(() => this.service.removeContainer(name(params))) },
      { method: 'POST', path: '/v1/projects/:name/toggle-mode', handler: async ({ params }) => this.action(() => this.service.toggleMode(name(params))) },
      { method: 'GET', path: '/v1/projects/:name/network', handler: async ({ params }) => this.service.network(name(params)) },
      {
        method: 'POST',
        path: '/v1/projects/:name/network',
        handler: async ({ params, body }) => {
          const verb = body.verb === 'deny' ? 'deny' : 'allow';
          return { refusal: (await this.service.editNetwork(name(params), verb, text(body, 'host'))) ?? null };
        },
      },
      {
        method: 'POST',
        path: '/v1/projects',
        handler: async ({ body }) => {
          const mode: IsolationMode = body.mode === 'container' ? 'container' : 'workspace';
          return { refusal: (await this.service.addProject({ name: text(body, 'name'), path: typeof body.path === 'string' ? body.path : '', mode })) ?? null };
        },
      },
      { method: 'POST', path: '/v1/image/build', handler: async () => this.action(() => this.service.buildImage()) },
      {
        method: 'GET',
        path: '/v1/projects/:name/logs',
        handler: async ({ params, stream }) => {
          const events = stream();
          this.service
            .followLogs(name(params), (chunk) => events.send('log', { text: chunk }), events.closed)
            .catch((error: unknown) => events.send('refused', { error: messageOf(error) }))
            .finally(() => events.end());
        },
      },
    ];
  }

  /** An action of the dashboard: it says how it went in the status line, which every client sees. */
  private async action(work: () => Promise<void>): Promise<{ ok: true }> {
    if (this.stopWhenIdle) throw new BerthError('the daemon is stopping');
    await work();
    return { ok: true };
  }
}

/** The dashboard's state as it goes over the wire (see WireSnapshot): a container's stats history only where `history` says. */
export function wireSnapshot(snapshot: ControlCenterSnapshot, { history }: { history: (stats: ProjectStats) => boolean }): WireSnapshot {
  const { conversations: _conversations, ...rest } = snapshot;
  return { ...rest, projects: rest.projects.map((view) => (view.stats && !history(view.stats) ? { ...view, stats: newestOnly(view.stats) } : view)) };
}

function newestOnly({ history: _history, ...stats }: ProjectStats): WireProjectStats {
  return stats;
}

/** An answer as a client sends it: `allow`, and `always`, `answers` or `message`; 400 for anything else. */
function requestAnswer(body: Record<string, unknown>): RequestAnswer {
  if (typeof body.allow !== 'boolean') throw new HttpError(400, '"allow" must be true or false');
  if (!body.allow) {
    if (body.message !== undefined && typeof body.message !== 'string') throw new HttpError(400, '"message" must be a string');
    const message = typeof body.message === 'string' ? body.message.slice(0, MESSAGE_MAX) : undefined;
    return { allow: false, ...(message && { message }) };
  }
  if (body.always !== undefined && typeof body.always !== 'boolean') throw new HttpError(400, '"always" must be true or false');
  const answers = body.answers;
  if (
    answers !== undefined &&
    (typeof answers !== 'object' || answers === null || Array.isArray(answers) || Object.keys(answers).length > ANSWERS_MAX ||
      Object.entries(answers).some(([question, value]) => typeof value !== 'string' || question.length > MESSAGE_MAX || value.length > MESSAGE_MAX))
  ) {
    throw new HttpError(400, `"answers" must map each question to its answer (at most ${ANSWERS_MAX}, ${MESSAGE_MAX} characters each)`);
  }
  return { allow: true, ...(body.always === true && { always: true }), ...(answers !== undefined && { answers: answers as Record<string, string> }) };
}

/** Who answered, as the client names itself: one short line, for the transcript and the audit log. */
function clientName(by: unknown): string {
  if (typeof by !== 'string' || by.trim() === '') return 'a client';
  return visibleText(by.trim(), 'line').slice(0, 80);
}

const MESSAGE_MAX = 2_000;
const ANSWERS_MAX = 20;
