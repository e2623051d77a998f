/**
 * What berth processes are doing in a project right now, as the registry
 * records it: every turn, exec and shell holds a claim while it runs, so that
 * other berth processes see it (the policies leave a busy project alone, a
 * second turn waits for the first), and so that what a crashed process left
 * running can be found by its run marker and ended.
 */
import type { IsolationMode } from './project.js';

/** `session`: a live agent process, which runs one turn after another; busy only while `turn` is set. */
export type WorkKind = 'turn' | 'session' | 'exec' | 'shell';

export interface WorkClaim {
  kind: WorkKind;
  /** The run marker in the environment of every process the work started (see runtime/process/run-processes). */
  marker: string;
  /** The berth process that holds the claim: its pid, start time and host (see runtime/process/process-identity). */
  owner: { pid: number; start: string; host?: string };
  /** Set while a later berth ends what the claim's first owner, gone, left: that owner's pid. */
  abandonedBy?: number;
  since: string;
  /** Where the work runs, to know where to look for what it left. */
  mode: IsolationMode;
  /** For a turn: its number in the project's transcripts, once it has one; for a session, its running turn's. */
  turn?: number;
}

/** Whether `value` has a claim's shape (the registry is a file a hand may have edited). */
export function isWorkClaim(value: unknown): value is WorkClaim {
  if (typeof value !== 'object' || value === null) return false;
  const claim = value as Partial<WorkClaim>;
  return (
    (claim.kind === 'turn' || claim.kind === 'session' || claim.kind === 'exec' || claim.kind === 'shell') &&
    typeof claim.marker === 'string' &&
    /^[0-9a-f]{16}$/.test(claim.marker) &&
    typeof claim.owner?.pid === 'number' &&
    typeof claim.owner.start === 'string' &&
    typeof claim.since === 'string' &&
    (claim.mode === 'workspace' || claim.mode === 'container')
  );
}

/** The turn or session claim that blocks another turn from starting, if any, alive or not. */
export function runningTurn(claims: readonly WorkClaim[] | undefined): WorkClaim | undefined {
  return claims?.find((claim) => claim.kind === 'turn' || claim.kind === 'session');
}

/** Whether the claim's work keeps the project busy now: a session between turns does not. */
export function keepsBusy(claim: WorkClaim): boolean {
  return claim.kind !== 'session' || claim.turn !== undefined;
}

/** `a turn of berth process 4242, which ended without finishing it` */
export function describeAbandoned(claim: WorkClaim): string {
  return `${whatOf(claim)} of berth process ${claim.abandonedBy ?? claim.owner.pid}, which ended without finishing it`;
}

function whatOf(claim: WorkClaim): string {
  if (claim.kind === 'session') return claim.turn === undefined ? 'an agent session' : 'a turn';
  return claim.kind === 'turn' ? 'a turn' : claim.kind === 'exec' ? 'a command' : 'a shell';
}

/** A claim as a person reads it: `a turn in berth 4242 since 10:02:11`. */
export function describeClaim(claim: WorkClaim): string {
  const what = whatOf(claim);
  const since = claim.since.slice(11, 19);
  if (claim.abandonedBy !== undefined) return `${what} of berth process ${claim.abandonedBy}, which ended without finishing it (berth process ${claim.owner.pid} is ending what it left)`;
  return `${what} in berth process ${claim.owner.pid}${since ? ` since ${since} UTC` : ''}`;
}
