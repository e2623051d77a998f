/**
 * What berth processes are doing in a project right now, as the registry
 * records it: every turn, exec and shell holds a claim while it runs, so that
 * other berth processes see it (the policies leave a busy project alone, a
 * second turn waits for the first), and so that what a crashed process left
 * running can be found by its run marker and ended.
 */
import type { IsolationMode } from './project.js';

export type WorkKind = 'turn' | 'exec' | 'shell';

export interface WorkClaim {
  kind: WorkKind;
  /** The run marker in the environment of every process the work started (see runtime/process/run-processes). */
  marker: string;
  /** The berth process that holds the claim: its pid and start time (see runtime/process/process-identity). */
  owner: { pid: number; start: string };
  since: string;
  /** Where the work runs, to know where to look for what it left. */
  mode: IsolationMode;
  /** For a turn: its number in the project's transcripts, once it has one. */
  turn?: number;
}

/** The turn claim that blocks another turn from starting, if any. */
export function runningTurn(claims: readonly WorkClaim[] | undefined): WorkClaim | undefined {
  return claims?.find((claim) => claim.kind === 'turn');
}

/** A claim as a person reads it: `a turn in berth 4242 since 10:02:11`. */
export function describeClaim(claim: WorkClaim): string {
  const what = claim.kind === 'turn' ? 'a turn' : claim.kind === 'exec' ? 'a command' : 'a shell';
  const since = claim.since.slice(11, 19);
  return `${what} in berth process ${claim.owner.pid}${since ? ` since ${since} UTC` : ''}`;
}
