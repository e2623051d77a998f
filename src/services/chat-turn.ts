/**
 * One turn of a project's chat while it runs: what the agent said of it,
 * written to the transcript before anyone sees it, and how it ended.
 */
import type { ChatEvent, TranscriptEntry, TurnOutcome, TurnUsage } from '../domain/chat.js';
import { messageOf } from '../domain/errors.js';
import type { Project } from '../domain/project.js';
import type { TurnTranscript } from '../store/transcripts.js';

/** How the agent's part of a turn ended. */
export type TurnEnding =
  /** The agent reported the turn's result. */
  | { by: 'result' }
  /** The agent's process exited (or never started) before it did. */
  | { by: 'exit'; exitCode: number | null; stderr: string };

export class Turn {
  sessionId: string | null = null;
  /** The conversation the turn continues; null for a new one. */
  resumedSession: string | null;
  readonly startedAt = new Date();
  usage: TurnUsage | null = null;
  /** Whether the agent reported the turn a success; null until it reports. */
  resultOk: boolean | null = null;
  firstError: string | null = null;
  lastError: string | null = null;
  sawError = false;
  /** Asked to stop: by the user (cancel) or by its time limit. */
  stoppedBy: 'cancel' | 'timeout' | undefined;
  /** The agent reached the model through the credential proxy, which counted the spend. */
  viaProxy = false;
  transcriptFailed = false;
  private readonly pending: Array<Promise<unknown>> = [];
  private listenerError: unknown;
  private trackedError: unknown;
  private finish!: (ending: TurnEnding) => void;
  /** Resolves once the agent's part of the turn is over. */
  readonly agentDone: Promise<TurnEnding>;

  constructor(
    readonly project: Project,
    readonly message: string,
    readonly transcript: TurnTranscript,
    private readonly deliver: (entry: TranscriptEntry) => void,
  ) {
    this.resumedSession = project.sessionId ?? null;
    this.agentDone = new Promise((resolve) => (this.finish = resolve));
  }

  get number(): number {
    return this.transcript.turn;
  }

  /** The agent's part is over (the first call counts). */
  end(ending: TurnEnding): void {
    this.finish(ending);
  }

  /** Writes the event to the transcript (text deltas are live only), then hands it to the listeners. */
  emit(event: ChatEvent): void {
    if (event.type === 'error' || (event.type === 'result' && !event.ok)) {
      this.sawError = true;
      this.lastError = event.type === 'error' ? event.message : (event.error ?? 'the agent reported a failure');
      this.firstError ??= this.lastError;
    }
    let entry: TranscriptEntry;
    if (event.type === 'text_delta') entry = { ...event, time: new Date().toISOString(), turn: this.number };
    else {
      try {
        entry = this.transcript.append(event);
      } catch (error) {
        entry = { ...event, time: new Date().toISOString(), turn: this.number } as TranscriptEntry;
        if (!this.transcriptFailed) {
          this.transcriptFailed = true;
          this.emit({ type: 'status', text: `the transcript could not be written (${messageOf(error)}): this turn is not kept` });
        }
      }
    }
    try {
      this.deliver(entry);
    } catch (error) {
      this.listenerError ??= error;
    }
  }

  /** Work the turn waits for before it ends; a failure is kept for then (unhandled meanwhile, it would end berth). */
  track(work: Promise<unknown>): void {
    this.pending.push(work.then(() => undefined, (error: unknown) => void (this.trackedError ??= error)));
  }

  async settled(): Promise<void> {
    await Promise.all(this.pending);
    if (this.trackedError !== undefined) throw this.trackedError;
  }

  /** The caller's onEvent threw: the turn was finished and recorded first, then the caller hears of it. */
  rethrowListenerError(): void {
    if (this.listenerError !== undefined) throw this.listenerError;
  }
}

export function outcomeOf(turn: Turn, ending: TurnEnding | undefined): TurnOutcome {
  if (turn.stoppedBy === 'timeout') return 'timeout';
  if (turn.stoppedBy === 'cancel') return 'cancelled';
  if (ending?.by !== 'result') return 'error';
  // The agent's word decides; a line berth could not read does not fail a turn the agent finished.
  return turn.resultOk === true ? 'success' : 'error';
}

export function crashMessage(ending: TurnEnding | undefined): string {
  if (ending?.by !== 'exit') return 'the agent did not finish the turn';
  const lastLine = ending.stderr.trim().split('\n').at(-1)?.trim() ?? '';
  const how = ending.exitCode === null ? 'was killed' : `exited with code ${ending.exitCode}`;
  return `the agent ${how} without finishing the turn${lastLine ? `: ${lastLine}` : ''}`;
}
