/**
 * The claims of the turns, execs and shells running in each project, kept in
 * the registry (see domain/work) so that every berth process sees them:
 *
 * - a turn waits while another turn of the project runs, in this berth or
 *   another (the conversation must not fork), or is refused with `wait: false`;
 * - a claim whose process is gone (kill -9, a crash, a reboot) is abandoned:
 *   the next berth that touches the project takes it over (so that no other
 *   berth starts a turn or recovers it meanwhile), ends what it left running,
 *   by its run marker, on the host or in the container, records an abandoned
 *   turn as interrupted in its transcript, audit log and usage, and only then
 *   drops it. A claim whose leftovers cannot be ended (the engine does not
 *   answer) stays, and a turn is refused until they can be.
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { addUsage, NO_USAGE } from '../domain/chat.js';
import { BerthError, messageOf } from '../domain/errors.js';
import { quote, type Project } from '../domain/project.js';
import { describeAbandoned, describeClaim, isWorkClaim, runningTurn, type WorkClaim, type WorkKind } from '../domain/work.js';
import { currentProcess, isRunning } from '../runtime/process/process-identity.js';
import { newRunMarker } from '../runtime/process/run-processes.js';
import type { AuditLog } from '../store/audit-log.js';
import type { ProjectRegistry } from '../store/project-registry.js';
import type { TranscriptStore } from '../store/transcripts.js';

export interface WorkClaimsDeps {
  registry: ProjectRegistry;
  transcripts: TranscriptStore;
  audit: AuditLog;
  /** Ends what an abandoned claim's run left running; throws when it cannot (the engine does not answer). */
  endLeftovers: (project: Project, claim: WorkClaim) => Promise<void>;
}

export interface TakeOptions {
  /** For a turn: wait while another turn of the project runs (the default), or refuse at once. */
  wait?: boolean;
  /** Called once for each other turn waited for. */
  onWait?: (holder: WorkClaim) => void;
  /** Aborting gives up waiting. */
  signal?: AbortSignal;
}

/** A claim held by this process, until it is released. */
export interface HeldClaim {
  readonly marker: string;
  readonly kind: WorkKind;
  /** A turn records its number, so that a later berth knows which turn to mark interrupted; a session clears it between turns. */
  setTurn(turn: number | null): Promise<void>;
  release(): Promise<void>;
}

/** What recover() could not end, by the claim it left in place. */
export interface Unrecovered {
  project: string;
  claim: WorkClaim;
  reason: string;
}

/** How often a waiting turn looks again. */
const WAIT_POLL_MS = 250;

/**
 * The markers of the claims this process holds. A claim of this process whose
 * marker is not here was released, though its removal could not be written
 * (a full disk): it is stale, and goes without a word.
 */
const held = new Set<string>();

export class WorkClaims {
  private readonly recovering = new Map<string, Promise<Unrecovered[]>>();

  constructor(private readonly deps: WorkClaimsDeps) {}

  /** Takes a claim on the project, after ending what dead processes left in it. */
  async take(projectName: string, kind: WorkKind, options: TakeOptions = {}): Promise<HeldClaim> {
    const marker = newRunMarker();
    let waitedFor: string | undefined;
    for (;;) {
      const turnLike = kind === 'turn' || kind === 'session';
      await this.recoverFor(projectName, turnLike);
      // Looked at without the lock first: waiting turns do not rewrite the registry.
      const seen = turnLike ? runningTurn(validClaims(await this.require(projectName))) : undefined;
      const taken = seen ? { holder: seen } : await this.deps.registry.update((projects) => {
        const project = find(projects, projectName);
        // Any turn claim blocks, alive or not: a dead one is recovered first, on the next round.
        const blocking = turnLike ? runningTurn(validClaims(project)) : undefined;
        if (blocking) return { holder: blocking };
        const claim: WorkClaim = { kind, marker, owner: owner(), since: new Date().toISOString(), mode: project.mode };
        project.work = [...validClaims(project), claim];
        delete project.busy;
        held.add(marker);
        return { holder: undefined };
      });
      if (!taken.holder) return this.held(projectName, marker, kind);
      if (!isAlive(taken.holder)) continue;
      if (options.wait === false) {
        throw new BerthError(`${describeClaim(taken.holder)} is running in ${projectName}: wait for it to end (without --no-wait berth waits), or cancel it`);
      }
      if (waitedFor !== taken.holder.marker) {
        waitedFor = taken.holder.marker;
        options.onWait?.(taken.holder);
      }
      try {
        await sleep(WAIT_POLL_MS, undefined, { signal: options.signal });
      } catch {
        throw new BerthError(`cancelled while waiting for ${describeClaim(taken.holder)} in ${projectName}`);
      }
    }
  }

  /**
   * recover(), then refuses (one line) when what a dead process left could
   * not be ended and is in the way: for a turn, any of it; else its execs and shells.
   */
  async recoverFor(projectName: string, turn: boolean): Promise<void> {
    const unrecovered = await this.recover(projectName);
    const stuck = unrecovered.find((left) => turn || (left.claim.kind !== 'turn' && left.claim.kind !== 'session'));
    if (stuck) throw new BerthError(`${describeAbandoned(stuck.claim)}, left processes in ${projectName} that could not be ended (${stuck.reason}): try again once they can be`);
  }

  /**
   * Ends the work that processes which are gone left in the project, records
   * it, and drops their claims; resolves with the claims whose leftovers could
   * not be ended (they stay).
   */
  async recover(projectName: string): Promise<Unrecovered[]> {
    // One recovery of a project at a time in this process: a turn that comes while the daemon's start-up
    // recovery runs waits for its outcome, rather than take the claims it holds meanwhile for live ones.
    const running = this.recovering.get(projectName);
    if (running) return running;
    const recovery = this.recoverNow(projectName).finally(() => this.recovering.delete(projectName));
    this.recovering.set(projectName, recovery);
    return recovery;
  }

  private async recoverNow(projectName: string): Promise<Unrecovered[]> {
    const project = await this.deps.registry.get(projectName);
    if (!project) return [];
    const staleBusy = project.busy != null && !isRunning({ pid: project.busy.pid, start: '' });
    const needsWork = (project.work ?? []).some((claim) => !isWorkClaim(claim) || !isAlive(claim));
    if (!needsWork && !staleBusy) return [];
    // Taken over under the lock: while this process ends their leftovers, no other recovers them or starts a turn.
    const takenOver = await this.deps.registry.update((projects) => {
      const current = projects.find((candidate) => candidate.name === projectName);
      if (!current) return [];
      if (current.busy != null && !isRunning({ pid: current.busy.pid, start: '' })) delete current.busy;
      const kept: WorkClaim[] = [];
      const taken: Array<{ claim: WorkClaim; was: WorkClaim['owner'] }> = [];
      for (const claim of current.work ?? []) {
        // Malformed (edited by hand), or this process's own, released already: gone without a word.
        if (!isWorkClaim(claim) || (isOwn(claim) && !held.has(claim.marker))) continue;
        if (!isAlive(claim)) {
          taken.push({ claim: { ...claim }, was: claim.owner });
          claim.abandonedBy ??= claim.owner.pid;
          claim.owner = owner();
          held.add(claim.marker);
        }
        kept.push(claim);
      }
      current.work = kept;
      if (kept.length === 0) delete current.work;
      return taken;
    });
    const unrecovered: Unrecovered[] = [];
    for (const { claim, was } of takenOver) {
      try {
        // Idempotent: a berth that died recovering it leaves the next one the same work.
        await this.deps.endLeftovers(project, claim);
      } catch (error) {
        unrecovered.push({ project: projectName, claim, reason: messageOf(error) });
        await this.giveBack(projectName, claim.marker, was);
        continue;
      }
      await this.recordAbandoned(project, claim);
      await this.drop(projectName, claim.marker);
    }
    return unrecovered;
  }

  /** recover() for every project; resolves with what could not be ended. */
  async recoverAll(): Promise<Unrecovered[]> {
    const unrecovered: Unrecovered[] = [];
    for (const project of await this.deps.registry.list()) {
      if (project.work?.length || project.busy) unrecovered.push(...(await this.recover(project.name)));
    }
    return unrecovered;
  }

  /** Transcript, audit log and usage of an abandoned claim; a turn that recorded its own end is left as it is. */
  private async recordAbandoned(project: Project, claim: WorkClaim): Promise<void> {
    const reason = `${describeAbandoned(claim)}; what it left running was ended`;
    if (claim.kind === 'turn' || claim.kind === 'session') {
      const ended = claim.turn !== undefined && (await this.deps.transcripts.endInterruptedTurn(project.name, claim.turn, `berth was stopped during this turn (${reason})`).catch(() => false));
      if (!ended) return;
      // Counted as a turn; its agent time and tokens are not known.
      await this.deps.registry
        .update((projects) => {
          const current = projects.find((candidate) => candidate.name === project.name);
          if (current) current.usage = addUsage(current.usage ?? NO_USAGE, { durationMs: 0, turns: 0, tokensIn: 0, tokensOut: 0, costUsd: 0 });
        })
        .catch(() => undefined);
    }
    const action = claim.kind === 'turn' || (claim.kind === 'session' && claim.turn !== undefined) ? 'turn-end' : `${claim.kind}-end`;
    await this.deps.audit
      .append({ project: project.name, action, reason, outcome: 'interrupted', ...(claim.turn !== undefined && { turn: claim.turn }) })
      .catch(() => undefined);
  }

  private held(projectName: string, marker: string, kind: WorkKind): HeldClaim {
    return {
      marker,
      kind,
      setTurn: (turn) =>
        this.change(projectName, marker, (own) => {
          if (turn === null) delete own.turn;
          else own.turn = turn;
        }),
      release: async () => {
        if (!held.has(marker)) return;
        // Forgotten first: should the write fail, the claim is stale to this process, and dropped by the next take.
        held.delete(marker);
        await this.drop(projectName, marker);
      },
    };
  }

  private async drop(projectName: string, marker: string): Promise<void> {
    held.delete(marker);
    await this.deps.registry.update((projects) => {
      const project = projects.find((candidate) => candidate.name === projectName);
      if (!project?.work) return;
      project.work = project.work.filter((claim) => claim.marker !== marker);
      if (project.work.length === 0) delete project.work;
      project.lastActive = new Date().toISOString();
    });
  }

  /** A claim whose leftovers could not be ended goes back to its dead owner: abandoned still, for a later try. */
  private async giveBack(projectName: string, marker: string, was: WorkClaim['owner']): Promise<void> {
    held.delete(marker);
    await this.change(projectName, marker, (claim) => void (claim.owner = was)).catch(() => undefined);
  }

  private change(projectName: string, marker: string, edit: (claim: WorkClaim) => void): Promise<void> {
    return this.deps.registry.update((projects) => {
      const claim = projects.find((candidate) => candidate.name === projectName)?.work?.find((candidate) => candidate.marker === marker);
      if (claim) edit(claim);
    });
  }

  private async require(projectName: string): Promise<Project> {
    const project = await this.deps.registry.get(projectName);
    if (!project) throw noProject(projectName);
    return project;
  }
}

function find(projects: Project[], name: string): Project {
  const project = projects.find((candidate) => candidate.name === name);
  if (!project) throw noProject(name);
  return project;
}

function noProject(name: string): BerthError {
  return new BerthError(`no project named ${quote(name)}: see berth project ls`);
}

function owner(): WorkClaim['owner'] {
  return { ...currentProcess(), host: hostname() };
}

function validClaims(project: Project): WorkClaim[] {
  return (project.work ?? []).filter(isWorkClaim);
}

function isOwn(claim: WorkClaim): boolean {
  const self = currentProcess();
  return claim.owner.pid === self.pid && claim.owner.start === self.start && (claim.owner.host ?? hostname()) === hostname();
}

/**
 * Whether the claim's process still works on it: this process's own while it
 * holds it; another host's cannot be judged from here, and counts as alive.
 */
export function isAlive(claim: WorkClaim): boolean {
  if (claim.owner.host !== undefined && claim.owner.host !== hostname()) return true;
  if (isOwn(claim)) return held.has(claim.marker);
  return isRunning(claim.owner);
}
