/**
 * The claims of the turns, execs and shells running in each project, kept in
 * the registry (see domain/work) so that every berth process sees them:
 *
 * - a turn waits while another turn of the project runs, in this berth or
 *   another (the conversation must not fork), or is refused with `wait: false`;
 * - a claim whose process is gone (kill -9, a crash, a reboot) is abandoned:
 *   the next berth that touches the project ends what it left running, by its
 *   run marker, on the host or in the container, records an abandoned turn as
 *   interrupted in its transcript, audit log and usage, and drops the claim.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { addUsage, NO_USAGE } from '../domain/chat.js';
import { BerthError } from '../domain/errors.js';
import type { Project } from '../domain/project.js';
import { describeClaim, runningTurn, type WorkClaim, type WorkKind } from '../domain/work.js';
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
  /** A turn records its number, so that a later berth knows which turn to mark interrupted. */
  setTurn(turn: number): Promise<void>;
  release(): Promise<void>;
}

/** How often a waiting turn looks again. */
const WAIT_POLL_MS = 250;

export class WorkClaims {
  constructor(private readonly deps: WorkClaimsDeps) {}

  /** Takes a claim on the project, after ending what dead processes left in it. */
  async take(projectName: string, kind: WorkKind, mode: Project['mode'], options: TakeOptions = {}): Promise<HeldClaim> {
    const claim: WorkClaim = { kind, marker: newRunMarker(), owner: currentProcess(), since: new Date().toISOString(), mode };
    let waitedFor: string | undefined;
    for (;;) {
      await this.recover(projectName);
      // Looked at without the lock first: waiting turns do not rewrite the registry.
      const holder = kind === 'turn' ? runningTurn(liveClaims(await this.require(projectName))) : undefined;
      const taken = holder ? { holder } : await this.deps.registry.update((projects) => {
        const project = find(projects, projectName);
        const blocking = kind === 'turn' ? runningTurn(liveClaims(project)) : undefined;
        if (blocking) return { holder: blocking };
        // A claim that died meanwhile stays, for recover() to end what it left.
        project.work = [...(project.work ?? []), claim];
        delete project.busy;
        return { holder: undefined };
      });
      if (!taken.holder) return this.held(projectName, claim);
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
   * Ends the work that processes which are gone left in the project, records
   * it, and drops their claims; resolves with how many there were.
   */
  async recover(projectName: string): Promise<number> {
    const project = await this.deps.registry.get(projectName);
    if (!project) return 0;
    const abandoned = (project.work ?? []).filter((claim) => !isRunning(claim.owner));
    const staleBusy = project.busy != null && !isRunning({ pid: project.busy.pid, start: '' });
    if (abandoned.length === 0 && !staleBusy) return 0;
    const unreachable = new Map<string, string>();
    for (const claim of abandoned) {
      // Idempotent: two berths recovering at once kill the same processes.
      await this.deps.endLeftovers(project, claim).catch((error: unknown) => unreachable.set(claim.marker, messageOf(error)));
    }
    const dropped = await this.deps.registry.update((projects) => {
      const current = projects.find((candidate) => candidate.name === projectName);
      if (!current) return [];
      const gone = (current.work ?? []).filter((claim) => abandoned.some((dead) => dead.marker === claim.marker));
      current.work = (current.work ?? []).filter((claim) => !gone.includes(claim));
      if (current.work.length === 0) delete current.work;
      if (current.busy != null && !isRunning({ pid: current.busy.pid, start: '' })) delete current.busy;
      // Counted here, under the lock, by the one process that dropped the claim.
      const turns = gone.filter((claim) => claim.kind === 'turn');
      if (turns.length > 0) {
        current.usage = turns.reduce((usage, claim) => addUsage(usage, interruptedUsage(claim)), current.usage ?? NO_USAGE);
      }
      return gone;
    });
    for (const claim of dropped) await this.recordAbandoned(project, claim, unreachable.get(claim.marker));
    return dropped.length;
  }

  /** recover() for every project. */
  async recoverAll(): Promise<void> {
    for (const project of await this.deps.registry.list()) {
      if (project.work?.length || project.busy) await this.recover(project.name);
    }
  }

  private async recordAbandoned(project: Project, claim: WorkClaim, unreachable: string | undefined): Promise<void> {
    const left = unreachable === undefined ? 'what it left running was ended' : `what it left running could not be ended (${unreachable})`;
    const reason = `${describeClaim(claim)} ended without finishing; ${left}`;
    if (claim.kind === 'turn' && claim.turn !== undefined) {
      await this.deps.transcripts.endInterruptedTurn(project.name, claim.turn, `berth was stopped during this turn (${reason})`).catch(() => undefined);
    }
    const action = claim.kind === 'turn' ? 'turn-end' : `${claim.kind}-end`;
    await this.deps.audit
      .append({ project: project.name, action, reason, outcome: 'interrupted', ...(claim.turn !== undefined && { turn: claim.turn }) })
      .catch(() => undefined);
  }

  private held(projectName: string, claim: WorkClaim): HeldClaim {
    let released = false;
    const change = (edit: (own: WorkClaim, project: Project) => void) =>
      this.deps.registry.update((projects) => {
        const project = projects.find((candidate) => candidate.name === projectName);
        const own = project?.work?.find((candidate) => candidate.marker === claim.marker);
        if (project && own) edit(own, project);
      });
    return {
      marker: claim.marker,
      kind: claim.kind,
      setTurn: (turn) => change((own) => void (own.turn = turn)),
      release: async () => {
        if (released) return;
        released = true;
        await change((_, project) => {
          project.work = project.work!.filter((candidate) => candidate.marker !== claim.marker);
          if (project.work.length === 0) delete project.work;
          project.lastActive = new Date().toISOString();
        });
      },
    };
  }

  private async require(projectName: string): Promise<Project> {
    const project = await this.deps.registry.get(projectName);
    if (!project) throw new BerthError(`no project named ${JSON.stringify(projectName)}: see berth project ls`);
    return project;
  }
}

function find(projects: Project[], name: string): Project {
  const project = projects.find((candidate) => candidate.name === name);
  if (!project) throw new BerthError(`no project named ${JSON.stringify(name)}: see berth project ls`);
  return project;
}

function liveClaims(project: Project): WorkClaim[] {
  return (project.work ?? []).filter((claim) => isRunning(claim.owner));
}

/** An interrupted turn counts as a turn; its agent time is what it ran, its tokens unknown. */
function interruptedUsage(claim: WorkClaim) {
  return { durationMs: Math.max(0, Date.now() - Date.parse(claim.since)), turns: 0, tokensIn: 0, tokensOut: 0, costUsd: 0 };
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
