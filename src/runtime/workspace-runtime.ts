/**
 * Runs an agent's command on the host, in the project's folder: argv only
 * (never a shell), a scrubbed environment, output streamed as it comes, and
 * every process of the run (its group, its marked and descendant processes:
 * see process/run-processes) ended on timeout, on cancel, and when the
 * command exits (nothing a command started outlives it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { realpath, stat } from 'node:fs/promises';
import { BerthError } from '../domain/errors.js';
import { processInputOf, startTimeLimit } from './process/exec-controls.js';
import { endRun, killRunNow, newRunMarker, RUN_MARKER, type RunSelector } from './process/run-processes.js';
import { scrubbedEnv } from './scrubbed-env.js';
import { placeProblem } from './workspace-guard.js';
import type { AgentRuntime, ExecOutcome, ExecRequest, RuntimeProject } from './types.js';

export interface WorkspaceRuntimeOptions {
  /** Between SIGTERM and SIGKILL to the group on timeout or cancel. */
  killGraceMs?: number;
  /** How long output is still read after the group ended, in case a process outside it holds the pipes. */
  drainMs?: number;
  /** The environment the allowlist picks from; berth's own by default. */
  baseEnv?: NodeJS.ProcessEnv;
}

export class WorkspaceRuntime implements AgentRuntime {
  readonly mode = 'workspace' as const;
  private readonly killGraceMs: number;
  private readonly drainMs: number;
  private readonly baseEnv: NodeJS.ProcessEnv;

  constructor(options: WorkspaceRuntimeOptions = {}) {
    this.killGraceMs = options.killGraceMs ?? 2_000;
    this.drainMs = options.drainMs ?? 500;
    this.baseEnv = options.baseEnv ?? process.env;
  }

  /**
   * Throws a BerthError (one line) when the command cannot start: no such
   * folder, no such program, not executable. Once it has started,
   * everything else is in the outcome.
   */
  async exec(project: RuntimeProject, request: ExecRequest): Promise<ExecOutcome> {
    // Never empty: RuntimeService.exec refuses an empty command before it chooses the mode.
    const [command, ...args] = request.argv as [string, ...string[]];
    if (!(request.timeoutMs > 0)) throw new BerthError(`the time limit of a command must be positive, not ${request.timeoutMs} ms`);
    await assertFolder(project);
    if (request.signal?.aborted) return { exitCode: null, timedOut: false, cancelled: true, durationMs: 0 };

    const started = performance.now();
    const marker = request.runMarker ?? newRunMarker();
    const env = scrubbedEnv(this.baseEnv, { ...request.env, [RUN_MARKER]: marker });
    const child = await spawnLeader(command, args, project, env, request.onStdin !== undefined);
    const run = new LiveRun({ marker, group: child.pid! }, this.killGraceMs);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    forward(child, request);

    let stoppedBy: 'timeout' | 'cancel' | undefined;
    const stop = (reason: 'timeout' | 'cancel'): void => {
      stoppedBy ??= reason;
      void run.end();
    };
    const clearTimeLimit = startTimeLimit(request.timeoutMs, () => stop('timeout'));
    const onAbort = (): void => stop('cancel');
    request.signal?.addEventListener('abort', onAbort, { once: true });
    // An abort while the program was starting fired before the listener was there.
    if (request.signal?.aborted) onAbort();
    if (child.stdin) request.onStdin?.(processInputOf(child.stdin));
    try {
      const exitCode = await exited;
      clearTimeLimit();
      // What the command left running goes with it; after a stop this waits for the same ending.
      await run.end();
      await this.drain(child, closed);
      const durationMs = Math.round(performance.now() - started);
      return { exitCode, timedOut: stoppedBy === 'timeout', cancelled: stoppedBy === 'cancel', durationMs };
    } finally {
      clearTimeLimit();
      request.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async drain(child: ChildProcess, closed: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.drainMs)));
    const open = await Promise.race([closed.then(() => false), late]);
    clearTimeout(timer);
    if (open) {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }
  }
}

/** Runs still going when berth's process exits are killed with it, not left behind. */
const liveRuns = new Set<RunSelector>();
let exitHookInstalled = false;

/** One run's processes, ended once (a second end waits for the first). */
class LiveRun {
  private ending: Promise<void> | undefined;

  constructor(
    private readonly selector: RunSelector,
    private readonly graceMs: number,
  ) {
    liveRuns.add(selector);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => liveRuns.forEach(killRunNow));
    }
  }

  end(): Promise<void> {
    this.ending ??= endRun(this.selector, this.graceMs).finally(() => liveRuns.delete(this.selector));
    return this.ending;
  }
}

async function assertFolder(project: RuntimeProject): Promise<void> {
  const info = await stat(project.path).catch(() => undefined);
  if (!info?.isDirectory()) throw new BerthError(`the workspace of ${project.name} is missing: ${project.path} is not a folder`);
  // The registry is a file a hand may have edited: an agent never works in a system folder or the home itself.
  const problem = await placeProblem(await realpath(project.path));
  if (problem) throw new BerthError(`the workspace of ${project.name}, ${project.path}, cannot be a workspace: ${problem}`);
}

/** Resolves once the program runs; rejects with a BerthError when it cannot start. */
function spawnLeader(command: string, args: string[], project: RuntimeProject, env: Record<string, string>, withStdin: boolean): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    // detached: the child leads a new process group, the handle to end all it starts.
    // Without input, stdin is /dev/null: a program that reads it sees its end at once rather than waiting.
    const child = spawn(command, args, { cwd: project.path, env, detached: true, stdio: [withStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    child.once('spawn', () => resolve(child));
    // Kept after the start too: an 'error' without a listener would crash berth.
    child.on('error', (error: NodeJS.ErrnoException) => reject(startFailure(command, project, error)));
  });
}

function startFailure(command: string, project: RuntimeProject, error: NodeJS.ErrnoException): BerthError {
  if (error.code === 'ENOENT') return new BerthError(`cannot run ${command} in ${project.name}: no such program (is it installed and on PATH?)`);
  if (error.code === 'EACCES') return new BerthError(`cannot run ${command} in ${project.name}: it is not executable`);
  return new BerthError(`cannot run ${command} in ${project.name}: ${error.message}`);
}

function forward(child: ChildProcess, request: ExecRequest): void {
  // setEncoding keeps a character split across two reads whole.
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => request.onStdout?.(chunk));
  child.stderr!.on('data', (chunk: string) => request.onStderr?.(chunk));
  // The streams must flow even when nobody listens, or a chatty child blocks on a full pipe.
}
