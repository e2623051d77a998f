import type Dockerode from 'dockerode';
import { LABELS, type ContainerHealth, type ContainerStatus, type HealthCheck, type ObservedContainer } from '../../domain/container.js';

const STATUSES: readonly ContainerStatus[] = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];
const HEALTHS: readonly ContainerHealth[] = ['starting', 'healthy', 'unhealthy'];
// What the engine writes for a time that never happened.
const ZERO_TIME_PREFIX = '0001-01-01';

/** An engine's inspect answer in berth's words. */
export function observedFromInspect(info: Dockerode.ContainerInspectInfo): ObservedContainer {
  const labels = info.Config.Labels ?? {};
  const health = info.State.Health;
  const host = info.HostConfig;
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    project: labels[LABELS.project] ?? '',
    workspace: labels[LABELS.workspace] ?? '',
    image: info.Config.Image,
    status: statusOf(info.State.Status),
    // Docker leaves a stopped container's health at its last word, often `unhealthy`: it means nothing then.
    health: info.State.Status === 'running' ? (HEALTHS.find((known) => known === health?.Status) ?? 'none') : 'none',
    failingStreak: health?.FailingStreak ?? 0,
    createdAt: labels[LABELS.created] ?? info.Created,
    startedAt: timeOrNull(info.State.StartedAt),
    finishedAt: timeOrNull(info.State.FinishedAt),
    limits: {
      memoryBytes: host.Memory ?? 0,
      cpus: (host.NanoCpus ?? 0) / 1e9,
      // The engine says 0, -1 or null for "no limit".
      pids: Math.max(host.PidsLimit ?? 0, 0),
    },
    ...(labels[LABELS.pool] && { pool: labels[LABELS.pool] }),
    networks: Object.keys(info.NetworkSettings?.Networks ?? {}),
    ...(info.State.OOMKilled && { oomKilled: true }),
    ...(health?.Log && health.Log.length > 0 && { healthLog: health.Log.slice(-HEALTH_LOG_KEPT).map(healthCheckOf) }),
  };
}

/** The details pane shows a few; the engine keeps five. */
const HEALTH_LOG_KEPT = 3;

function healthCheckOf(entry: { Start: string; End: string; ExitCode: number; Output: string }): HealthCheck {
  const output = (entry.Output ?? '').trim().split('\n')[0] ?? '';
  return { time: entry.End || entry.Start, exitCode: entry.ExitCode, output: output.slice(0, 200) };
}

function statusOf(status: string): ContainerStatus {
  // Podman says `stopped` and `configured` where Docker says `exited` and `created`.
  if (status === 'stopped') return 'exited';
  if (status === 'configured') return 'created';
  return STATUSES.find((known) => known === status) ?? 'dead';
}

function timeOrNull(time: string | undefined): string | null {
  return time && !time.startsWith(ZERO_TIME_PREFIX) ? time : null;
}
