/**
 * Every process one run (a turn, an exec) started on this machine, found and
 * ended together, wherever it went.
 *
 * A process group is not enough: Claude Code starts each Bash tool in a
 * process group of its own, and anything may call setsid. So each run gets a
 * marker in its environment (RUN_MARKER, which children inherit), and a run's
 * processes are those that carry it, the members of its leader's group, and
 * the descendants of either (a child that cleared its environment stays a
 * descendant until its parent dies). A process that both clears its
 * environment and leaves its parent escapes; only a cgroup would hold it.
 *
 * The marker also finds what a berth killed with SIGKILL left running: the
 * next berth ends the run by its marker alone. A process whose environment
 * cannot be read (one made non-dumpable, as ssh-agent makes itself) is found
 * only as a member of the group or a descendant.
 *
 * Linux only, where /proc tells all this; elsewhere the leader's process
 * group is signalled, as a whole.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { parseStat, type ProcessStat } from './process-identity.js';

/** The variable that marks every process of a run. */
export const RUN_MARKER = 'BERTH_RUN';

const POLL_MS = 50;

/** A fresh marker: 16 hex characters, safe in an environment variable, a shell word and a file name. */
export function newRunMarker(): string {
  return randomBytes(8).toString('hex');
}

export interface RunSelector {
  marker: string;
  /** The process group of the run's leader, when it has one on this machine. */
  group?: number;
}

interface ProcessEntry extends ProcessStat {
  pid: number;
  marked: boolean;
}

/**
 * SIGTERM to every process of the run, then SIGKILL to what is left after
 * `graceMs` (and to what was started meanwhile). Resolves once none runs.
 */
export async function endRun(run: RunSelector, graceMs: number): Promise<void> {
  if (groupOnly(run, 'SIGTERM')) {
    await delay(graceMs);
    groupOnly(run, 'SIGKILL');
    return;
  }
  let pids = await runProcesses(run);
  if (pids.length === 0) return;
  // Stopped while they are signalled, so that each sees SIGTERM before it runs on (a shell whose child went first would go on).
  signalAll(pids, 'SIGSTOP');
  signalAll(pids, 'SIGTERM');
  signalAll(pids, 'SIGCONT');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await delay(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
    pids = await runProcesses(run);
    if (pids.length === 0) return;
  }
  // A process may fork while it is being killed: kill until none is found.
  for (let round = 0; round < 20 && pids.length > 0; round += 1) {
    signalAll(pids, 'SIGSTOP');
    signalAll(pids, 'SIGKILL');
    await delay(POLL_MS);
    pids = await runProcesses(run);
  }
}

/** The same, at once and synchronously, for the last moment of berth's process ('exit' handlers cannot wait). */
export function killRunNow(run: RunSelector): void {
  if (groupOnly(run, 'SIGKILL')) return;
  for (let round = 0; round < 3; round += 1) {
    const pids = selectRun(readProcessesSync(run.marker), run);
    if (pids.length === 0) return;
    signalAll(pids, 'SIGSTOP');
    signalAll(pids, 'SIGKILL');
  }
}

/** The pids of the run's live processes (zombies are dead already). */
export async function runProcesses(run: RunSelector): Promise<number[]> {
  return selectRun(await readProcesses(run.marker), run);
}

function selectRun(processes: ProcessEntry[], run: RunSelector): number[] {
  const chosen = new Set<number>();
  for (const entry of processes) {
    if (entry.pid === process.pid) continue;
    if (entry.marked || (run.group !== undefined && entry.group === run.group)) chosen.add(entry.pid);
  }
  // Descendants of what was chosen, until no more are found.
  for (let grew = true; grew; ) {
    grew = false;
    for (const entry of processes) {
      if (!chosen.has(entry.pid) && chosen.has(entry.parent) && entry.pid !== process.pid) {
        chosen.add(entry.pid);
        grew = true;
      }
    }
  }
  return processes.filter((entry) => chosen.has(entry.pid) && !entry.zombie).map((entry) => entry.pid);
}

/** Without /proc (macOS, BSD), only the leader's process group can be found: it is signalled whole. */
function groupOnly(run: RunSelector, signal: NodeJS.Signals): boolean {
  if (process.platform === 'linux' || run.group === undefined) return false;
  try {
    process.kill(-run.group, signal);
  } catch {
    // The group is gone.
  }
  return true;
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone meanwhile, or not ours to signal (it changed its user).
    }
  }
}

async function readProcesses(marker: string): Promise<ProcessEntry[]> {
  if (process.platform !== 'linux') return [];
  const names = await readdir('/proc').catch(() => [] as string[]);
  const entries = await Promise.all(
    names.filter(isPid).map(async (name) => {
      const [stat, environ] = await Promise.all([readFile(`/proc/${name}/stat`, 'utf8').catch(() => ''), readFile(`/proc/${name}/environ`).catch(() => undefined)]);
      return entryOf(Number(name), stat, environ, marker);
    }),
  );
  return entries.filter((entry): entry is ProcessEntry => entry !== undefined);
}

function readProcessesSync(marker: string): ProcessEntry[] {
  if (process.platform !== 'linux') return [];
  const read = (file: string): Buffer | undefined => {
    try {
      return readFileSync(file);
    } catch {
      return undefined;
    }
  };
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  return names
    .filter(isPid)
    .map((name) => entryOf(Number(name), read(`/proc/${name}/stat`)?.toString('utf8') ?? '', read(`/proc/${name}/environ`), marker))
    .filter((entry): entry is ProcessEntry => entry !== undefined);
}

function isPid(name: string): boolean {
  return /^\d+$/.test(name);
}

function entryOf(pid: number, stat: string, environ: Buffer | undefined, marker: string): ProcessEntry | undefined {
  const parsed = parseStat(stat);
  if (!parsed) return undefined;
  return { pid, ...parsed, marked: environ !== undefined && hasVariable(environ, `${RUN_MARKER}=${marker}`) };
}

/** Whether a NUL-separated environment holds exactly this `name=value`. */
function hasVariable(environ: Buffer, assignment: string): boolean {
  const needle = Buffer.from(assignment);
  for (let at = environ.indexOf(needle); at >= 0; at = environ.indexOf(needle, at + 1)) {
    const starts = at === 0 || environ[at - 1] === 0;
    const ends = at + needle.length === environ.length || environ[at + needle.length] === 0;
    if (starts && ends) return true;
  }
  return false;
}
