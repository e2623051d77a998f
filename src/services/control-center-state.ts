/**
 * What the control center shows, as one immutable snapshot that the
 * ControlCenterService publishes (a new object whenever something changed,
 * at most a few times a second). The Ink layer only reads these.
 */
import type { PendingRequest, RequestAnswer } from '../domain/approvals.js';
import type { TranscriptEntry, TurnOutcome, TurnUsage } from '../domain/chat.js';
import type { ObservedContainer } from '../domain/container.js';
import type { LifecycleState } from '../domain/lifecycle.js';
import type { Project } from '../domain/project.js';
import type { ProjectStats } from './stats-sampler.js';
import type { QueuedMessage } from '../daemon/protocol.js';
import type { NetworkView } from './control-center.js';
import type { IsolationMode } from '../domain/project.js';
import type { Settings } from '../domain/settings.js';

/** The host berth runs on, sampled with systeminformation. */
export interface HostStats {
  /** All cores together, 0–100. */
  cpuPercent: number;
  memoryUsed: number;
  memoryTotal: number;
  /** The filesystem that holds berth's workspaces. */
  diskUsed: number;
  diskTotal: number;
  time: number;
}

export type EngineState =
  /** No project runs in a container: berth does not talk to an engine. */
  | { state: 'unused' }
  | { state: 'connecting' }
  | { state: 'connected' }
  /** Down or missing; berth retries by itself and recovers when it answers. */
  | { state: 'unreachable'; error: string };

export interface EngineView {
  /** As the user should read it: unix:///var/run/docker.sock, ssh://dev@box… */
  address: string;
  status: EngineState;
}

/** A turn as the dashboard shows it: running, or the last one that ended. */
export interface TurnView {
  running: boolean;
  /** Esc was pressed: the CLI is being stopped. */
  cancelling: boolean;
  startedAt: number;
  /** Set once the turn has ended. */
  outcome?: TurnOutcome;
  endedAt?: number;
  usage?: TurnUsage;
  /** The first error of the turn, one line. */
  error?: string;
}

export interface ProjectView {
  project: Project;
  /** The state as the engine last showed it (workspace projects: `ready`). */
  state: LifecycleState;
  container?: ObservedContainer;
  /** Only while the container runs. */
  stats?: ProjectStats;
  /** The running turn, or the last one this berth saw end. */
  turn?: TurnView;
  /** Long work on the project now: "creating the container…", "stopping…". */
  progress?: string;
  /** The last thing a policy did to the project in this berth. */
  policy?: PolicyNote;
}

export interface PolicyNote {
  /** E.g. "stopped: idle for 1h2m (policies.idleTimeout 1h)". */
  text: string;
  time: number;
}

export interface StatusMessage {
  text: string;
  level: 'info' | 'progress' | 'error';
  time: number;
}

/** The conversation of a project whose chat has been opened: its transcript, then the live entries. */
export interface ConversationView {
  project: string;
  loaded: boolean;
  entries: readonly TranscriptEntry[];
  /** The text the model is writing now, as it streams (not an entry yet). */
  streaming?: string;
  /** Messages waiting for the running turn to end, the next first. */
  queued?: readonly QueuedMessage[];
}

export interface ControlCenterSnapshot {
  engine: EngineView;
  host?: HostStats;
  /** In the registry's order. */
  projects: readonly ProjectView[];
  /** The latest message for the status line. */
  status?: StatusMessage;
  conversations: ReadonlyMap<string, ConversationView>;
  /** What the agents wait for a person to answer, oldest first (see domain/approvals). */
  requests: readonly PendingRequest[];
}

/** The projects whose agent waits for an answer. */
export function waitingProjects(snapshot: Pick<ControlCenterSnapshot, 'requests'>): ReadonlySet<string> {
  return new Set(snapshot.requests.map((request) => request.project));
}

/**
 * What the screens ask of the control center: its snapshots and its actions.
 * The TUI's is a client of the daemon (client/remote-control-center); the
 * daemon's own ControlCenterService has the same face, for tests of the screens.
 * Actions never throw: what fails goes to the status line.
 */
export interface ControlCenter {
  subscribe(listener: (snapshot: ControlCenterSnapshot) => void): () => void;
  snapshot(): ControlCenterSnapshot;
  settings(): Settings;
  notify(text: string, level?: StatusMessage['level']): void;
  startOrStop(name: string): Promise<void>;
  restart(name: string): Promise<void>;
  refresh(name: string): Promise<void>;
  removeContainer(name: string): Promise<void>;
  toggleMode(name: string): Promise<void>;
  buildImage(): Promise<void>;
  addProject(values: { name: string; path: string; mode: IsolationMode }): Promise<string | undefined>;
  network(name: string): Promise<NetworkView>;
  editNetwork(name: string, verb: 'allow' | 'deny', host: string): Promise<string | undefined>;
  openConversation(name: string): void;
  send(name: string, message: string): void;
  /** Takes back the last message queued in the project; false when none waits. */
  withdrawLast(name: string): boolean;
  newConversation(name: string): Promise<void>;
  cancel(name: string): boolean;
  /** Answers a request of the project's agent; a request answered meanwhile (by another client) is said in the status line. */
  answer(name: string, id: string, answer: RequestAnswer): void;
  /** Whether quitting this screen would cancel running turns (not when a daemon runs them). */
  anyTurnRunning(): boolean;
  /** Quitting: stops what this screen itself runs. */
  cancelAllTurns(): Promise<void>;
  followLogs(name: string, onChunk: (text: string) => void, signal: AbortSignal): Promise<void>;
  shell(name: string): Promise<number>;
  /** The agent's own TUI on the project's conversation, on this terminal; resolves with its exit code. */
  attach(name: string): Promise<number>;
  close(): Promise<void>;
}
