// One stats read of a container, translated from the engine's JSON into
// berth's RawStats. CPU% needs two reads: domain/stats computes it.
import type Dockerode from 'dockerode';
import { BerthError } from '../../domain/errors.js';
import { memoryWithoutCache } from '../../domain/stats.js';
import type { RawStats } from '../types.js';

/** The parts of the engine's stats answer berth reads; cgroup v1 and v2 engines both fit it. */
export interface EngineStatsBody {
  read?: string;
  pids_stats?: { current?: number };
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
    system_cpu_usage?: number;
    online_cpus?: number;
  };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  blkio_stats?: { io_service_bytes_recursive?: Array<{ op?: string; value?: number }> | null };
}

/** A zero time (`0001-01-01...`) is how the engine says it read nothing: the container is not running. */
const NEVER_READ = /^0001-01-01/;

/**
 * Reads a running container's counters once. `stream: false` with
 * `one-shot=true` (API 1.41+; older engines ignore it) answers with the
 * engine's next read instead of waiting for a second one to fill `precpu`
 * (dockerd reads every second: 0 to 1 s instead of 1 to 2 s): berth keeps the
 * previous read itself.
 */
export async function readRawStats(docker: Dockerode, id: string): Promise<RawStats> {
  let body: EngineStatsBody;
  try {
    body = (await docker.getContainer(id).stats({ stream: false, 'one-shot': true })) as EngineStatsBody;
  } catch (error) {
    if (statusOf(error) === 404) throw new BerthError(`no container ${id}: it was removed`);
    throw error;
  }
  const stats = rawStatsFromEngine(body, Date.now());
  if (!stats) throw new BerthError(`container ${id} is not running: it has no stats`);
  return stats;
}

/**
 * The engine's stats answer as RawStats; undefined when it read nothing.
 * `fallbackTime` stands in for a missing or unparsable read time.
 */
export function rawStatsFromEngine(body: EngineStatsBody, fallbackTime: number): RawStats | undefined {
  if (!body.read || NEVER_READ.test(body.read)) return undefined;
  const readAt = Date.parse(body.read);
  const cpu = body.cpu_stats ?? {};
  const memory = body.memory_stats ?? {};
  return {
    time: Number.isNaN(readAt) ? fallbackTime : readAt,
    cpuTotalNs: cpu.cpu_usage?.total_usage ?? 0,
    systemCpuNs: cpu.system_cpu_usage ?? 0,
    // Engines before API 1.27 only list per-CPU counters.
    onlineCpus: cpu.online_cpus || cpu.cpu_usage?.percpu_usage?.length || 1,
    memoryUsed: memoryWithoutCache(memory.usage ?? 0, memory.stats ?? {}),
    memoryLimit: memory.limit ?? 0,
    pids: body.pids_stats?.current ?? 0,
    network: networkTotals(body.networks),
    block: blockTotals(body.blkio_stats?.io_service_bytes_recursive),
  };
}

function networkTotals(networks: EngineStatsBody['networks']): RawStats['network'] {
  let rxBytes = 0;
  let txBytes = 0;
  for (const counters of Object.values(networks ?? {})) {
    rxBytes += counters.rx_bytes ?? 0;
    txBytes += counters.tx_bytes ?? 0;
  }
  return { rxBytes, txBytes };
}

// One entry per device and operation; cgroup v1 spells ops `Read`, v2 `read`.
function blockTotals(entries: Array<{ op?: string; value?: number }> | null | undefined): RawStats['block'] {
  let readBytes = 0;
  let writeBytes = 0;
  for (const entry of entries ?? []) {
    const op = entry.op?.toLowerCase();
    if (op === 'read') readBytes += entry.value ?? 0;
    else if (op === 'write') writeBytes += entry.value ?? 0;
  }
  return { readBytes, writeBytes };
}

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('statusCode' in error)) return undefined;
  return typeof error.statusCode === 'number' ? error.statusCode : undefined;
}
