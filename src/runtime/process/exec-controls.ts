/** What both places an agent runs share around a running command: its time limit and its stdin. */
import type { Writable } from 'node:stream';
import type { ProcessInput } from '../types.js';

/** setTimeout's longest delay: a longer one (Infinity too) fires at once. Settings stop at 24 h anyway. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Calls `onTimeout` after `ms`, never for Infinity (no limit); returns what clears it. */
export function startTimeLimit(ms: number, onTimeout: () => void): () => void {
  if (ms === Infinity) return () => undefined;
  const timer = setTimeout(onTimeout, Math.min(ms, MAX_TIMEOUT_MS));
  return () => clearTimeout(timer);
}

/**
 * A command's stdin over `pipe`. Once the pipe is closed (end(), the command
 * gone, the pipe broken) writes are dropped and say so: a command that died
 * with input still on its way is no crash of berth, and its outcome tells how it ended.
 */
export function processInputOf(pipe: Writable): ProcessInput {
  // EPIPE and the like: without a listener, an 'error' would end berth's process.
  pipe.on('error', () => undefined);
  return {
    write(text) {
      if (!pipe.writable) return false;
      // Node queues what the pipe cannot take now; its false means "full", not "closed".
      pipe.write(text);
      return true;
    },
    end() {
      if (pipe.writable) pipe.end();
    },
  };
}
