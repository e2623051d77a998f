/**
 * A process as other berth processes can recognise it later: its pid and
 * when it started. A pid alone is not enough, since the kernel reuses pids;
 * a pid whose start time differs is another process. On Linux the start time
 * is read from /proc (clock ticks since boot, with the boot's id); elsewhere
 * only the pid counts.
 */
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  /** `<boot id>:<start ticks>`; empty where it cannot be read. */
  start: string;
}

let self: ProcessIdentity | undefined;

/** This process. */
export function currentProcess(): ProcessIdentity {
  return (self ??= { pid: process.pid, start: startOf(process.pid) ?? '' });
}

/** Whether the process still runs (a zombie does not). */
export function isRunning(identity: ProcessIdentity): boolean {
  if (identity.pid === process.pid) return identity.start === currentProcess().start;
  try {
    process.kill(identity.pid, 0);
  } catch (error) {
    // EPERM: it runs, as another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform !== 'linux') return true;
  const start = startOf(identity.pid);
  if (start === undefined) return false;
  return identity.start === '' || identity.start === start;
}

function startOf(pid: number): string | undefined {
  if (process.platform !== 'linux') return '';
  let stat: ProcessStat | undefined;
  try {
    stat = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
  return stat && !stat.zombie ? `${bootId()}:${stat.startTicks}` : undefined;
}

export interface ProcessStat {
  parent: number;
  group: number;
  /** Dead already, waiting for its parent to reap it. */
  zombie: boolean;
  /** When it started, in clock ticks since boot. */
  startTicks: string;
}

/** /proc/<pid>/stat; the command name, in parentheses, may itself hold spaces and parentheses. */
export function parseStat(stat: string): ProcessStat | undefined {
  if (stat === '') return undefined;
  // After the name: state (field 3), ppid, pgrp, ..., starttime (field 22).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { parent: Number(fields[1]), group: Number(fields[2]), zombie: fields[0] === 'Z' || fields[0] === 'X', startTicks: fields[19] ?? '' };
}

let boot: string | undefined;

function bootId(): string {
  if (boot !== undefined) return boot;
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    boot = '';
  }
  return boot;
}
