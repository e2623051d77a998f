import type Dockerode from 'dockerode';
import { AGENT_CONFIG_DIR, AGENT_UID, CONTAINER_WORKSPACE } from '../../domain/container-spec.js';
import type { ContainerSpec } from '../types.js';

/**
 * A long-lived container needs a process that does nothing until it is
 * stopped; `Init: true` puts a real init in front of it, so SIGTERM stops it at
 * once and the zombies of exec'd commands are reaped.
 */
const KEEP_ALIVE = ['sleep', 'infinity'];

/**
 * How a tmpfs is given to the agent: Docker takes its uid and gid; Podman
 * refuses those and takes `U` (owned by the container's user) instead.
 */
function tmpfsOptions(tmpfs: ContainerSpec['tmpfs'][number], product: string): string {
  const base = `rw,nosuid,nodev,size=${tmpfs.sizeBytes}`;
  if (tmpfs.owner === 'everyone') return `${base},mode=1777`;
  return product === 'podman' ? `${base},U` : `${base},uid=${AGENT_UID},gid=${AGENT_UID},mode=0700`;
}

/** The Docker create options for a project's container: hardened by default. `product` is docker or podman. */
export function createOptionsOf(spec: ContainerSpec, product = 'docker'): Dockerode.ContainerCreateOptions {
  const { limits } = spec;
  // Mounts (not Binds): a missing bind source is an error instead of a folder the engine creates as root.
  const propagation = spec.propagation && { BindOptions: { Propagation: spec.propagation } };
  const mounts: Dockerode.MountSettings[] = [
    { Type: 'bind', Source: spec.workspace, Target: CONTAINER_WORKSPACE, ReadOnly: false, ...propagation },
    { Type: 'bind', Source: spec.agentConfigDir, Target: AGENT_CONFIG_DIR, ReadOnly: false, ...propagation },
    ...spec.readOnlyMounts.map(({ source, target }): Dockerode.MountSettings => ({
      Type: 'bind',
      Source: source,
      Target: target,
      ReadOnly: true,
    })),
  ];
  return {
    name: spec.name,
    Image: spec.image,
    Labels: spec.labels,
    User: spec.user,
    WorkingDir: CONTAINER_WORKSPACE,
    Entrypoint: KEEP_ALIVE,
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    // The test stays the image's; only how often it runs and how many failures count are berth's.
    Healthcheck: { Interval: spec.healthcheck.intervalMs * 1_000_000, Retries: spec.healthcheck.retries },
    HostConfig: {
      Mounts: mounts,
      ReadonlyRootfs: spec.readOnlyRoot,
      ...(spec.tmpfs.length > 0 && { Tmpfs: Object.fromEntries(spec.tmpfs.map((tmpfs) => [tmpfs.target, tmpfsOptions(tmpfs, product)])) }),
      Init: true,
      Privileged: false,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Memory: limits.memoryBytes,
      // Equal to Memory: no swap, so the limit is the limit.
      MemorySwap: limits.memoryBytes,
      NanoCpus: Math.round(limits.cpus * 1e9),
      PidsLimit: limits.pids,
      Ulimits: [
        { Name: 'nofile', Soft: limits.nofile, Hard: limits.nofile },
        { Name: 'nproc', Soft: limits.nproc, Hard: limits.nproc },
      ],
      RestartPolicy: { Name: 'no' },
      ...(spec.network && { NetworkMode: spec.network }),
    },
  };
}
