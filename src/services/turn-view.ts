/**
 * A turn as the dashboard shows it, folded from its transcript entries.
 * Pure, so that live events and a transcript read from disk give the same view.
 */
import type { TranscriptEntry } from '../domain/chat.js';
import type { TurnView } from './control-center-state.js';

/** The view after one more entry of the turn. A `user` entry begins a new turn. */
export function turnAfter(view: TurnView, entry: TranscriptEntry): TurnView {
  switch (entry.type) {
    case 'user':
      return { running: true, cancelling: false, startedAt: Date.parse(entry.time) || Date.now() };
    case 'result':
      return {
        ...view,
        usage: { durationMs: entry.durationMs, turns: entry.turns, tokensIn: entry.tokensIn, tokensOut: entry.tokensOut, costUsd: entry.costUsd },
        ...(!entry.ok && view.error === undefined && { error: entry.error ?? 'the agent reported a failure' }),
      };
    case 'error':
      return view.error === undefined ? { ...view, error: entry.message } : view;
    case 'turn_end':
      return { ...view, running: false, cancelling: false, outcome: entry.outcome, endedAt: Date.parse(entry.time) || Date.now() };
    default:
      return view;
  }
}

/** The last turn of a transcript; a turn without its end (berth was killed) shows as ended with an error. */
export function lastTurnOf(entries: readonly TranscriptEntry[]): TurnView | undefined {
  const start = entries.findLastIndex((entry) => entry.type === 'user');
  if (start < 0) return undefined;
  let view: TurnView = { running: true, cancelling: false, startedAt: 0 };
  for (const entry of entries.slice(start)) view = turnAfter(view, entry);
  if (view.running) return { ...view, running: false, outcome: 'error', error: view.error ?? 'the turn never ended (berth was stopped)' };
  return view;
}
