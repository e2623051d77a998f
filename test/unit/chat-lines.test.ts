import { describe, expect, it } from 'vitest';
import type { TranscriptEntry } from '../../src/domain/chat.js';
import { chatLines, queuedLines, scrollWindow, streamingLines, wrap, WRITING_MARK, type ChatLine } from '../../src/ui/chat-lines.js';
import { HOSTILE, HOSTILE_SHOWN } from '../helpers/terminal-text.js';

const at = (turn: number, event: Record<string, unknown>): TranscriptEntry =>
  ({ ...event, time: '2026-11-24T10:00:00.000Z', turn }) as TranscriptEntry;

describe('chat lines', () => {
  it('draws a turn: the message, the text, the tool calls with their results, the changed files and the cost', () => {
    const lines = chatLines(
      [
        at(1, { type: 'user', text: 'write a file' }),
        at(1, { type: 'session', sessionId: 's', model: 'm', tools: [] }),
        at(1, { type: 'text', text: 'Writing.' }),
        at(1, { type: 'tool_call', id: 't', name: 'Write', input: { file_path: 'a.txt' } }),
        at(1, { type: 'tool_result', id: 't', ok: true, content: 'done' }),
        at(1, { type: 'result', ok: true, durationMs: 1500, turns: 2, tokensIn: 1200, tokensOut: 30, costUsd: 0.0123 }),
        at(1, { type: 'changed_files', files: [{ path: 'a.txt', kind: 'created' }] }),
        at(1, { type: 'turn_end', outcome: 'success', sessionId: 's' }),
        at(2, { type: 'user', text: 'again' }),
        at(2, { type: 'turn_end', outcome: 'cancelled', sessionId: 's' }),
      ],
      80,
    );
    expect(lines.map((line) => line.text)).toEqual([
      '> write a file',
      'Writing.',
      '● Write(file_path=a.txt)',
      '  ⎿ ok',
      '✓ 1.5s · 2 turns · 1.2k in / 30 out · $0.0123',
      'changed: + a.txt',
      '',
      '> again',
      '✗ cancelled',
    ]);
    expect(lines[0]).toMatchObject({ bold: true });
    expect(lines.at(-1)).toMatchObject({ tone: 'bad' });
    expect(new Set(lines.map((line) => line.key)).size).toBe(lines.length);
  });

  it('wraps words to the width, and cuts words longer than a line', () => {
    expect(wrap('the quick brown fox', 10)).toEqual(['the quick', 'brown fox']);
    expect(wrap('abcdefghijklmno', 6)).toEqual(['abcdef', 'ghijkl', 'mno']);
    expect(wrap('one\n\ntwo', 10)).toEqual(['one', '', 'two']);
    for (const line of chatLines([at(1, { type: 'text', text: 'word '.repeat(100) })], 30)) {
      expect(line.text.length).toBeLessThanOrEqual(30);
    }
  });

  it('draws streamed text as its finished text will be, marked, wrapped, its controls visible', () => {
    const finished = chatLines([at(1, { type: 'text', text: `one two three four five ${HOSTILE}` })], 12);
    const streamed = streamingLines(`one two three four five ${HOSTILE}`, 12);
    expect(streamed.map((line) => line.text).join('')).toBe(`${finished.map((line) => line.text).join('')}${WRITING_MARK}`);
    expect(streamed.map((line) => line.text).join('')).toContain(HOSTILE_SHOWN.slice(0, 10));
    for (const line of streamed) expect(line.text.length).toBeLessThanOrEqual(12);
    const look = ({ key: _key, text: _text, ...rest }: ChatLine) => rest;
    for (const line of streamed) expect(look(line)).toEqual(look(finished[0]!));
    expect(new Set(streamed.map((line) => line.key)).size).toBe(streamed.length);
    expect(streamingLines('', 40).map((line) => line.text)).toEqual([WRITING_MARK]);
  });

  it('shows queued messages as their first lines, the next first, in the rows given', () => {
    const queued = ['fix it\nand more', '  then test  ', `evil ${HOSTILE}`, 'four', 'five'].map((text) => ({ text }));
    expect(queuedLines(queued.slice(0, 3), 3)).toEqual(['queued: fix it…', 'queued: then test', `queued: evil ${HOSTILE_SHOWN}`]);
    expect(queuedLines(queued, 3)).toEqual(['queued: fix it…', 'queued: … 3 more', 'queued: five']);
    expect(queuedLines(queued, 4)).toEqual(['queued: fix it…', 'queued: then test', 'queued: … 2 more', 'queued: five']);
    expect(queuedLines(queued, 1)).toEqual(['queued: 5 messages']);
    expect(queuedLines(queued, 0)).toEqual([]);
    expect(queuedLines([], 3)).toEqual([]);
  });

  it('scrolls from the bottom, never past either end', () => {
    expect(scrollWindow(100, 10, 0)).toEqual({ start: 90, end: 100 });
    expect(scrollWindow(100, 10, 15)).toEqual({ start: 75, end: 85 });
    expect(scrollWindow(100, 10, 500)).toEqual({ start: 0, end: 10 });
    expect(scrollWindow(5, 10, 3)).toEqual({ start: 0, end: 5 });
  });
});
