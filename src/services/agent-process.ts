/**
 * One live agent process of a project: started where the project's agent
 * runs (its folder or its container) with its stdin open, spoken to through
 * the agent's session protocol, and kept across turns until it is ended (idle,
 * a new conversation, a mode change, berth's shutdown) or exits by itself (a
 * crash, its container stopped). Its events go to whoever runs the current
 * turn; its claim (see WorkClaims) carries the run marker of all it starts.
 */
import type { AgentAdapter, AgentSession, AgentSessionRequest, Decide } from '../agents/types.js';
import type { ChatEvent } from '../domain/chat.js';
import { BerthError } from '../domain/errors.js';
import type { UrlLease } from '../runtime/loopback-bridge.js';
import type { ExecOutcome, ProcessInput } from '../runtime/types.js';
import type { RuntimeService } from './runtime-service.js';
import type { HeldClaim } from './work-claims.js';

/** Of the CLI's stderr, only the end is kept: it explains a crash. */
const STDERR_TAIL_CHARS = 8_192;
/** Asked to end (its stdin closed), a process that has not exited after this is killed. */
const END_GRACE_MS = 5_000;

export interface AgentProcessOptions {
  runtime: RuntimeService;
  adapter: AgentAdapter;
  project: { name: string; mode: 'workspace' | 'container' };
  request: AgentSessionRequest;
  env: Record<string, string>;
  /** Held for the process's life; released by the caller once it has exited. */
  claim: HeldClaim;
  /** The model API's URL as the agent reaches it, closed with the process. */
  lease?: UrlLease;
  /** Every event the agent's stream gives, in order. */
  onEvent: (event: ChatEvent) => void;
  decide?: Decide;
}

/** How the process ended: the runtime's outcome, or the failure that kept it from starting. */
export interface AgentExit {
  outcome: ExecOutcome | undefined;
  /** What the agent's stream said last (an error for a turn it did not finish): for the caller to show, or not. */
  ending: ChatEvent[];
  error?: unknown;
  /** The agent did not know the conversation it was asked to resume. */
  unknownSession: boolean;
  stderr: string;
}

export class AgentProcess {
  /** What it was started with, and the permission mode and model set since. */
  request: AgentSessionRequest;
  readonly claim: HeldClaim;
  /** Resolves once the process has exited and what it left was ended; never rejects. */
  readonly exited: Promise<AgentExit>;
  private session: AgentSession | undefined;
  private input: ProcessInput | undefined;
  private stderr = '';
  private readonly kill = new AbortController();
  private exit: AgentExit | undefined;
  private endTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly options: AgentProcessOptions, ready: (error?: unknown) => void) {
    this.request = options.request;
    this.claim = options.claim;
    this.exited = this.run(ready);
  }

  /** Starts the agent; resolves once it runs with its stdin open, rejects (one line) when it could not start. */
  static async start(options: AgentProcessOptions): Promise<AgentProcess> {
    let started!: (error?: unknown) => void;
    const ready = new Promise<void>((resolve, reject) => (started = (error) => (error === undefined ? resolve() : reject(error))));
    const agent = new AgentProcess(options, started);
    await ready;
    return agent;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  send(message: string): void {
    this.session!.send(message);
  }

  interrupt(): Promise<void> {
    if (!this.session || !this.alive) return Promise.resolve();
    return this.session.interrupt();
  }

  setPermissionMode(mode: string): Promise<void> {
    return this.session!.setPermissionMode(mode);
  }

  setModel(model: string | null): Promise<void> {
    return this.session!.setModel(model);
  }

  sessionId(): string | null {
    return this.session?.sessionId() ?? null;
  }

  /** Asks the agent to finish (its input ends); killed, with all it started, if it does not. */
  end(): Promise<AgentExit> {
    if (this.alive) {
      this.input?.end();
      this.endTimer ??= setTimeout(() => this.kill.abort(), END_GRACE_MS);
      this.endTimer.unref();
    }
    return this.exited;
  }

  /** Kills the process and all it started, now. */
  terminate(): Promise<AgentExit> {
    this.kill.abort();
    return this.exited;
  }

  private async run(ready: (error?: unknown) => void): Promise<AgentExit> {
    const { runtime, adapter, project, request, env, claim, onEvent } = this.options;
    let started = false;
    let outcome: ExecOutcome | undefined;
    let failure: unknown;
    try {
      const argv = adapter.sessionCommandLine(request);
      outcome = await runtime.exec(
        project.name,
        {
          argv,
          env,
          timeoutMs: Infinity,
          signal: this.kill.signal,
          onStdin: (input) => {
            this.input = input;
            this.session = adapter.createSession(input, { mode: project.mode, ...(this.options.decide && { decide: this.options.decide }) });
            started = true;
            ready();
          },
          onStdout: (chunk) => this.session?.push(chunk).forEach(onEvent),
          onStderr: (chunk) => (this.stderr = (this.stderr + chunk).slice(-STDERR_TAIL_CHARS)),
        },
        claim,
      );
    } catch (error) {
      failure = error;
    } finally {
      clearTimeout(this.endTimer);
      await this.options.lease?.close().catch(() => undefined);
    }
    const ending = outcome && this.session ? this.session.end({ exitCode: outcome.exitCode, stderr: this.stderr, cancelled: outcome.cancelled, timedOut: outcome.timedOut }) : [];
    this.exit = { outcome, ending, ...(failure !== undefined && { error: failure }), unknownSession: this.session?.unknownSession() ?? false, stderr: this.stderr };
    if (!started) ready(failure ?? new BerthError(`the agent exited before it could take a message${lastLine(this.stderr)}`));
    return this.exit;
  }
}

function lastLine(stderr: string): string {
  const line = stderr.trim().split('\n').at(-1)?.trim();
  return line ? `: ${line}` : '';
}
