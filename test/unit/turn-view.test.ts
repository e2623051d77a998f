import { describe, expect, it } from 'vitest';
import type { TranscriptEntry } from '../../src/domain/chat.js';
import { lastTurnOf, turnAfter } from '../../src/services/turn-view.js';

const at = (turn: number, event: Record<string, unknown>): TranscriptEntry =>
  ({ ...event, time: '2026-11-24T10:00:00.000Z', turn }) as TranscriptEntry;
const usage = { durationMs: 1200, turns: 2, tokensIn: 10, tokensOut: 20, costUsd: 0.01 };

describe('turn views', () => {
  it('folds a successful turn: running, then its usage and outcome', () => {
    let view = turnAfter({ running: false, cancelling: false, startedAt: 0 }, at(1, { type: 'user', text: 'hi' }));
    expect(view).toMatchObject({ running: true, startedAt: Date.parse('2026-11-24T10:00:00.000Z') });
    view = turnAfter(view, at(1, { type: 'result', ok: true, ...usage }));
    view = turnAfter(view, at(1, { type: 'turn_end', outcome: 'success', sessionId: 's' }));
    expect(view).toMatchObject({ running: false, outcome: 'success', usage });
    expect(view.error).toBeUndefined();
  });

  it('keeps the first error', () => {
    let view = turnAfter({ running: true, cancelling: true, startedAt: 1 }, at(1, { type: 'error', message: 'first' }));
    view = turnAfter(view, at(1, { type: 'result', ok: false, error: 'second', ...usage }));
    view = turnAfter(view, at(1, { type: 'turn_end', outcome: 'error', sessionId: null }));
    expect(view).toMatchObject({ error: 'first', outcome: 'error', cancelling: false });
  });

  it('reads the last turn of a transcript, and one berth never ended as an error', () => {
    const entries = [
      at(1, { type: 'user', text: 'a' }),
      at(1, { type: 'turn_end', outcome: 'success', sessionId: 's' }),
      at(2, { type: 'user', text: 'b' }),
      at(2, { type: 'text', text: 'partial' }),
    ];
    expect(lastTurnOf(entries)).toMatchObject({ running: false, outcome: 'error', error: expect.stringMatching(/never ended/) });
    expect(lastTurnOf(entries.slice(0, 2))).toMatchObject({ running: false, outcome: 'success' });
    expect(lastTurnOf([])).toBeUndefined();
  });
});
