/**
 * The lock on one of berth's files, shared by every berth process: the
 * folder `<file>.lock`, made by an atomic mkdir (the form proper-lockfile
 * makes, so that a berth of an earlier version still running respects it, and
 * berth its), holding `owner.json`: the holder's pid, the pid's start time
 * (from /proc, so that a reused pid is not taken for the holder) and host.
 *
 * A lock is taken over at once when its owner on this host is gone, or when
 * its time is in the future (a clock set back, a copied folder: it would
 * never grow old). A lock of no known owner (one of another host, of an
 * earlier berth, or of a process killed before it wrote its owner) is taken
 * over when its time is older than STALE_MS; a holder refreshes it meanwhile.
 * Otherwise berth waits, and in the end says who holds it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError } from '../domain/errors.js';
import { currentProcess, isRunning } from '../runtime/process/process-identity.js';
import { writingSync } from './write-error.js';

const STALE_MS = 10_000;
/** How far ahead a lock's time may be (another host's clock) before it counts as in the future. */
const FUTURE_SLACK_MS = 5_000;
const WAIT_MS = 10_000;
const OWNER_FILE = 'owner.json';

interface LockOwner {
  pid: number;
  /** When the process started (see runtime/process/process-identity); null from a berth that did not say. */
  start: string | null;
  host: string;
  /** Tells this holding from a later one of the same process. */
  token: string;
}

/** Runs `action` holding the lock on `file`. */
export async function withFileLock<T>(file: string, action: () => T | Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + WAIT_MS;
  for (let pause = 20; ; pause = Math.min(pause * 2, 200)) {
    // A lock that cannot be made (a full disk) is a write of `file` that failed.
    const held = writingSync(file, () => tryLock(lock));
    if (typeof held !== 'string') {
      // Kept fresh for whoever judges it by its time alone.
      const refresh = setInterval(() => touch(lock), STALE_MS / 2);
      refresh.unref();
      try {
        return await action();
      } finally {
        clearInterval(refresh);
        unlock(lock, held.token);
      }
    }
    if (Date.now() >= deadline) throw new BerthError(`${file} is locked by ${held}; try again once it is done`);
    await sleep(pause);
  }
}

/** The same, for a short synchronous action (the settings, read and written synchronously). */
export function withFileLockSync<T>(file: string, action: () => T): T {
  const lock = `${file}.lock`;
  const deadline = Date.now() + WAIT_MS;
  for (let pause = 20; ; pause = Math.min(pause * 2, 200)) {
    // A lock that cannot be made (a full disk) is a write of `file` that failed.
    const held = writingSync(file, () => tryLock(lock));
    if (typeof held !== 'string') {
      try {
        return action();
      } finally {
        unlock(lock, held.token);
      }
    }
    if (Date.now() >= deadline) throw new BerthError(`${file} is locked by ${held}; try again once it is done`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
  }
}

/** The lock taken, as its owner; or who holds it, in words. */
function tryLock(lock: string): LockOwner | string {
  for (;;) {
    try {
      mkdirSync(lock, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        mkdirSync(path.dirname(lock), { recursive: true, mode: 0o700 });
        continue;
      }
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const found = readLock(lock);
      if (!found) continue;
      if (!staleReason(found)) return holderOf(found);
      if (!takeOver(lock, found)) return holderOf(found);
      continue;
    }
    const owner: LockOwner = { ...currentProcess(), host: hostname(), token: randomBytes(8).toString('hex') };
    try {
      writeFileSync(path.join(lock, OWNER_FILE), JSON.stringify(owner), { mode: 0o600 });
    } catch (error) {
      // No lock of no owner is left behind for the next berth to wait on.
      rmSync(lock, { recursive: true, force: true });
      throw error;
    }
    return owner;
  }
}

interface FoundLock {
  owner: LockOwner | undefined;
  mtimeMs: number;
}

/** The lock as it is now; undefined when it went meanwhile. */
function readLock(lock: string): FoundLock | undefined {
  let mtimeMs: number;
  try {
    mtimeMs = statSync(lock).mtimeMs;
  } catch {
    return undefined;
  }
  return { owner: readOwner(lock), mtimeMs };
}

function readOwner(lock: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path.join(lock, OWNER_FILE), 'utf8')) as Partial<LockOwner>;
    if (Number.isInteger(owner.pid) && typeof owner.host === 'string' && typeof owner.token === 'string') return owner as LockOwner;
  } catch {
    // Not written yet, or by an earlier berth: judged by its time alone.
  }
  return undefined;
}

/** Why the lock may be taken over, or undefined while it holds. */
function staleReason({ owner, mtimeMs }: FoundLock, now = Date.now()): string | undefined {
  if (mtimeMs > now + FUTURE_SLACK_MS) return 'its time is in the future';
  if (owner && owner.host === hostname()) return isRunning({ pid: owner.pid, start: owner.start ?? '' }) ? undefined : `its process ${owner.pid} is gone`;
  return now - mtimeMs > STALE_MS ? `it is older than ${STALE_MS / 1000}s` : undefined;
}

/**
 * Moves the stale lock aside, atomically: of two processes taking it over at
 * once, one moves it. The one moved is checked to be the one judged: a lock
 * taken meanwhile by a third is put back. True when the lock is free now.
 */
function takeOver(lock: string, judged: FoundLock): boolean {
  const aside = `${lock}.stale-${randomBytes(6).toString('hex')}`;
  try {
    renameSync(lock, aside);
  } catch {
    // Gone meanwhile, or moved by another: try again.
    return true;
  }
  if (!isSameLock(aside, judged)) {
    try {
      renameSync(aside, lock);
      return false;
    } catch {
      // Taken anew meanwhile: the one moved aside is beyond saving.
    }
  }
  rmSync(aside, { recursive: true, force: true });
  return true;
}

function isSameLock(folder: string, judged: FoundLock): boolean {
  const found = readLock(folder);
  return found?.owner?.token === judged.owner?.token && found?.mtimeMs === judged.mtimeMs;
}

function unlock(lock: string, token: string): void {
  // Only our own: one taken over from us (we were judged gone) is its new holder's.
  if (readOwner(lock)?.token === token) rmSync(lock, { recursive: true, force: true });
}

function touch(lock: string): void {
  const now = new Date();
  try {
    utimesSync(lock, now, now);
  } catch {
    // Released meanwhile.
  }
}

function holderOf({ owner, mtimeMs }: FoundLock): string {
  const since = new Date(mtimeMs).toISOString();
  if (!owner) return `another process (since ${since})`;
  return `berth process ${owner.pid}${owner.host === hostname() ? '' : ` on ${owner.host}`} (since ${since})`;
}
