import { createHash } from 'node:crypto';

/** Labels by which berth finds its containers again after a crash: the engine is the record. */
export const LABELS = {
  managed: 'berth.managed',
  project: 'berth.project',
  workspace: 'berth.workspace',
  created: 'berth.created',
  /** On a warm container: its pool slot. */
  pool: 'berth.pool',
} as const;

/** `berth-<name>-<12 hex of sha256(workspace path)>`: stable for a project, distinct per workspace. */
export function containerName(project: { name: string; path: string }): string {
  const digest = createHash('sha256').update(project.path).digest('hex').slice(0, 12);
  return `berth-${project.name}-${digest}`;
}

/**
 * Which container is a project's, the one rule everywhere: the one named for
 * it. That name is what berth creates the container under, renames a warm one
 * to when the project adopts it, and acts on (start, stop, exec); another
 * container with the project's labels (a leftover, one made by hand) is not it.
 */
export function containerOf(project: { name: string; path: string }, containers: Iterable<ObservedContainer>): ObservedContainer | undefined {
  const name = containerName(project);
  for (const container of containers) if (container.name === name) return container;
  return undefined;
}

export function containerLabels(project: { name: string; path: string }, createdAt: Date): Record<string, string> {
  return {
    [LABELS.managed]: 'true',
    [LABELS.project]: project.name,
    [LABELS.workspace]: project.path,
    [LABELS.created]: createdAt.toISOString(),
  };
}

/** What the engine says of a container, in berth's own words (no engine type crosses the runtime interface). */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
export type ContainerHealth = 'none' | 'starting' | 'healthy' | 'unhealthy';

export interface ObservedContainer {
  id: string;
  name: string;
  /** From the `berth.project` label. */
  project: string;
  workspace: string;
  image: string;
  status: ContainerStatus;
  health: ContainerHealth;
  /** Consecutive failed healthchecks, as the engine counts them. */
  failingStreak: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  limits: ContainerLimits;
  /** The engine's last healthchecks, oldest first, when it keeps them. */
  healthLog?: readonly HealthCheck[];
  /** A warm container's pool slot (it may have been adopted by a project since). */
  pool?: string;
  /** The networks it is attached to, by name. */
  networks?: readonly string[];
  /** The engine killed its last run for want of memory (its limit). */
  oomKilled?: boolean;
}

export interface HealthCheck {
  /** When the check ended. */
  time: string;
  exitCode: number;
  /** Its first line of output, short. */
  output: string;
}

export interface ContainerLimits {
  memoryBytes: number;
  cpus: number;
  pids: number;
}

/** Everything a project's container is made from; the Docker translation lives in the engine. */
export interface ContainerSpec {
  name: string;
  image: string;
  labels: Record<string, string>;
  /** Host folder bind-mounted read-write at /workspace. */
  workspace: string;
  /** Host folder mounted at the agent user's ~/.claude. */
  agentConfigDir: string;
  /** Host files or folders mounted read-only, e.g. ~/.gitconfig, ~/.ssh, the host's claude binary. */
  readOnlyMounts: Array<{ source: string; target: string }>;
  user: string;
  limits: ContainerLimits & { nofile: number; nproc: number };
  healthcheck: { intervalMs: number; retries: number };
  env: Record<string, string>;
  /** The root filesystem read-only; the places the agent writes besides its mounts are in memory. */
  readOnlyRoot: boolean;
  tmpfs: Array<{ target: string; sizeBytes: number; owner: 'agent' | 'everyone' }>;
  /** `rslave` for a warm container: host mounts made later onto its folders appear inside. */
  propagation?: 'rslave';
  /** The network it is attached to, and only that one: the project's own (see projectNetworkName). */
  network?: string;
}

/** A network berth makes: one per project, with no route out where the engine allows it. */
export interface NetworkSpec {
  name: string;
  labels: Record<string, string>;
  /** The range its subnet is taken from (network.subnetPool); without one, the engine's choice. */
  subnetPool?: string;
  /** No route out, where the engine allows it: false when berth's egress proxy could not reach it (a remote engine). */
  internal: boolean;
}

/** Room for the host, one container and a few more: a project network needs no more. */
export const PROJECT_SUBNET_PREFIX = 28;

export interface ObservedNetwork {
  /** What containers are attached by: a name may, for a moment, name two networks. */
  id: string;
  name: string;
  /** No route out of it: the egress proxy is the only way out. */
  internal: boolean;
  /** This machine's address on it, where berth's relays listen for its containers; absent when the host has none. */
  gateway?: string;
  /** e.g. 172.18.0.0/16. */
  subnet?: string;
}

/** `<container name>-net`: a project's own network, as stable as its container's name. */
export function projectNetworkName(project: { name: string; path: string }): string {
  return `${containerName(project)}-net`;
}

/** Warm containers wait on a network of their own until a project adopts them. */
export const POOL_NETWORK = 'berth-pool-net';
