/**
 * The interfaces between berth's services and the places agents run. They
 * speak berth's own types only: no dockerode or execa type crosses them, so
 * that Podman, a remote engine or Kubernetes can stand behind them later.
 */
import type { ChangedFile } from '../domain/chat.js';
import type { ContainerLimits, ContainerSpec, NetworkSpec, ObservedContainer, ObservedNetwork } from '../domain/container.js';

/** One command to run where a project's agent runs. The command is an argv, never a shell string. */
export interface ExecRequest {
  argv: string[];
  /** Variables added for this command only (never written into a container's configuration). */
  env?: Record<string, string>;
  /** Infinity: no limit (a live session, which ends itself). */
  timeoutMs: number;
  /** Aborting cancels the command and kills what it started. */
  signal?: AbortSignal;
  /**
   * Put in the environment of the command and of everything it starts
   * (RUN_MARKER), so that all of it is ended with the command, and found
   * after a crash of berth; a fresh one when absent.
   */
  runMarker?: string;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  /**
   * Keeps the command's stdin open: called once the command runs, with its
   * writer. Without it, stdin is closed (a CLI would otherwise wait for input).
   */
  onStdin?: (input: ProcessInput) => void;
}

/** A running command's stdin. */
export interface ProcessInput {
  /** Queued when the pipe is full; false once the command's stdin is closed. */
  write(text: string): boolean;
  /** Closes stdin: the command sees the end of its input. */
  end(): void;
}

export interface ExecOutcome {
  /** null when the command was killed before it exited by itself. */
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
}

/** Where one project's agent runs: the host folder, or the project's container. */
export interface AgentRuntime {
  readonly mode: 'workspace' | 'container';
  exec(project: RuntimeProject, request: ExecRequest): Promise<ExecOutcome>;
}

/** What a runtime needs to know of a project. */
export interface RuntimeProject {
  name: string;
  path: string;
}


/** One stats sample of a running container. */
export interface StatsSample {
  containerId: string;
  time: number;
  cpuPercent: number;
  memoryUsed: number;
  memoryLimit: number;
  pids: number;
  network: { rxBytes: number; txBytes: number };
  block: { readBytes: number; writeBytes: number };
}

export type EngineEvent =
  | { kind: 'container'; action: string; containerId: string; project?: string }
  | { kind: 'disconnected'; error: string }
  | { kind: 'reconnected' };

export type { ChangedFile, ContainerLimits, ContainerSpec, NetworkSpec, ObservedContainer, ObservedNetwork };

/** Counters of one stats read; CPU% needs two of them (see domain/stats). */
export interface RawStats {
  time: number;
  cpuTotalNs: number;
  systemCpuNs: number;
  onlineCpus: number;
  /** Memory in use minus the page cache, as `docker stats` shows it. */
  memoryUsed: number;
  memoryLimit: number;
  pids: number;
  network: { rxBytes: number; txBytes: number };
  block: { readBytes: number; writeBytes: number };
}

export interface EngineInfo {
  /** Where the engine is, e.g. `unix:///var/run/docker.sock`, for messages and the TUI header. */
  endpoint: string;
  /** `docker` or `podman`, from the engine's version answer. */
  product: string;
  version: string;
  apiVersion: string;
}

export interface BuildOptions {
  buildArgs?: Record<string, string>;
  /** `host` for machines where only the host network reaches the package registries. */
  networkMode?: string;
  onProgress?: (line: string) => void;
}

/**
 * A container engine (Docker, Podman; local, tcp or ssh) as berth uses it.
 * Errors it throws are BerthErrors with one-line messages (engine not
 * answering, image missing, ...), never raw engine errors.
 */
export interface ContainerEngine {
  info(): Promise<EngineInfo>;
  /** The memory of the engine's host, in bytes (0 when it does not say). */
  memoryTotal(): Promise<number>;
  /**
   * Runs a container's healthcheck now, for engines that do not run them by
   * themselves (Podman without systemd); resolves false where the engine does.
   */
  runHealthcheck(id: string): Promise<boolean>;
  rename(id: string, name: string): Promise<void>;
  /** Removes berth's dangling images (old builds of the workspace image). */
  pruneImages(): Promise<{ removed: number; reclaimedBytes: number }>;
  /** Every container labelled berth.managed=true, running or not. */
  listManaged(): Promise<ObservedContainer[]>;
  inspect(idOrName: string): Promise<ObservedContainer | undefined>;
  /** Creates (not starts); throws `ContainerNameTaken` when the name exists already. */
  create(spec: ContainerSpec): Promise<ObservedContainer>;
  start(id: string): Promise<void>;
  /** Graceful: SIGTERM, then SIGKILL after `timeoutMs`. */
  stop(id: string, timeoutMs: number): Promise<void>;
  /** Forced removal; no error when it is gone already. */
  remove(id: string): Promise<void>;
  /** Non-interactive: Tty false, stdout and stderr apart, exit code from the exec's inspect. */
  exec(id: string, request: ExecRequest & { user: string; workdir: string }): Promise<ExecOutcome>;
  /** Kills every process in the container whose environment carries the run's marker; nothing to do when it is not running. */
  endRun(id: string, marker: string, user: string): Promise<void>;
  /** How many processes in the container the kernel killed for want of memory since `since`, as the engine's events say. */
  oomKillsSince(id: string, since: Date): Promise<number>;
  stats(id: string): Promise<RawStats>;
  logs(id: string, options: { follow: boolean; tail: number; signal?: AbortSignal; onChunk: (text: string) => void }): Promise<void>;
  /** Engine events for berth's containers until `signal` aborts; reconnects with backoff and says so. */
  watchEvents(onEvent: (event: EngineEvent) => void, signal: AbortSignal): void;
  imageExists(tag: string): Promise<boolean>;
  /**
   * The network, created when missing: internal (no route out) on engines
   * that still give this machine an address on an internal network (Docker);
   * an ordinary bridge elsewhere (Podman's internal networks leave the host
   * no address, so berth's relays could not reach its containers).
   */
  ensureNetwork(spec: NetworkSpec): Promise<ObservedNetwork>;
  /** Every network labelled berth.managed=true. */
  listNetworks(): Promise<ObservedNetwork[]>;
  /** No error when it is gone already, nor when a container still uses it (it is left then). */
  removeNetwork(name: string): Promise<void>;
  /** Attaches a running or stopped container to a network, or detaches it; no error when it is so already. */
  connectNetwork(id: string, network: string): Promise<void>;
  disconnectNetwork(id: string, network: string): Promise<void>;
  buildImage(contextDir: string, tag: string, options: BuildOptions): Promise<void>;
  /** An interactive TTY in the container for the user; resolves with the shell's exit code. */
  openShell(id: string, options: { user: string; workdir: string; argv: string[]; env?: Record<string, string> }): Promise<number>;
}
