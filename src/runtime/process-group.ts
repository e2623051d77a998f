/**
 * A child that leads its own process group, so that everything it starts
 * (shells, test runners, servers) can be ended with it. Processes that move
 * themselves to another group or session (setsid) escape; only a cgroup, as
 * the container mode has, would hold those.
 */
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

const POLL_MS = 50;

/** Groups still running when berth exits are ended with it, not left behind. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

export class ProcessGroup {
  private ending: Promise<void> | undefined;

  constructor(
    readonly id: number,
    private readonly graceMs: number,
  ) {
    liveGroups.add(id);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const group of liveGroups) signalGroup(group, 'SIGKILL');
      });
    }
  }

  /**
   * SIGTERM to every member, then SIGKILL to those left after the grace.
   * Resolves once no member runs (or SIGKILL is sent); calling it again
   * returns the same promise.
   */
  end(): Promise<void> {
    this.ending ??= this.terminate().finally(() => liveGroups.delete(this.id));
    return this.ending;
  }

  private async terminate(): Promise<void> {
    if (!signalGroup(this.id, 'SIGTERM')) return;
    const deadline = Date.now() + this.graceMs;
    while (Date.now() < deadline) {
      await delay(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
      if (!(await groupHasLiveMembers(this.id))) return;
    }
    signalGroup(this.id, 'SIGKILL');
  }
}

/** False when the group has no member left. */
function signalGroup(group: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-group, signal);
    return true;
  } catch (error) {
    // EPERM: a member changed its user; it is not ours to end.
    if ((error as NodeJS.ErrnoException).code === 'ESRCH' || (error as NodeJS.ErrnoException).code === 'EPERM') return false;
    throw error;
  }
}

/**
 * Whether a member still runs. A zombie answers kill(0) too, and where the
 * init process does not reap orphans (some containers) zombies stay for
 * good; on Linux /proc tells them apart, elsewhere a zombie counts as alive.
 */
async function groupHasLiveMembers(group: number): Promise<boolean> {
  if (!signalGroup(group, 0)) return false;
  if (process.platform !== 'linux') return true;
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  } catch {
    return true;
  }
  for (const pid of pids) {
    const state = await processState(pid);
    if (state && state.group === group && state.status !== 'Z' && state.status !== 'X') return true;
  }
  return false;
}

/** Status letter and process group of /proc/<pid>/stat; the command name may hold spaces and parentheses. */
async function processState(pid: string): Promise<{ status: string; group: number } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { status: fields[0] ?? '', group: Number(fields[2]) };
  } catch {
    return undefined;
  }
}
