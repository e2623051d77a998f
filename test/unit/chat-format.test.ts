import { describe, expect, it } from 'vitest';
import { formatChatEvent } from '../../src/cli/chat-format.js';

describe('formatChatEvent', () => {
  it('shows a tool call on one line, clipped to the width', () => {
    const line = formatChatEvent({ type: 'tool_call', id: 't1', name: 'Write', input: { file_path: 'a.txt', content: 'one\ntwo' } }, 40);
    expect(line).toBe('● Write(file_path=a.txt, content=one …)');
    const long = formatChatEvent({ type: 'tool_call', id: 't2', name: 'Bash', input: { command: 'x'.repeat(200) } }, 30)!;
    expect(long).toHaveLength(30);
    expect(long.endsWith('…')).toBe(true);
  });

  it('marks tool results ok or with the error', () => {
    expect(formatChatEvent({ type: 'tool_result', id: 't1', ok: true, content: 'fine' })).toBe('  ⎿ ok');
    expect(formatChatEvent({ type: 'tool_result', id: 't1', ok: false, content: 'denied\nmore' })).toBe('  ⎿ error: denied …');
  });

  it('ends a turn with its usage and cost', () => {
    const usage = { durationMs: 3210, turns: 2, tokensIn: 1234, tokensOut: 56, costUsd: 0.01234 };
    expect(formatChatEvent({ type: 'result', ok: true, ...usage })).toBe('✓ 3.2s · 2 turns · 1.2k in / 56 out · $0.0123');
    expect(formatChatEvent({ type: 'result', ok: false, error: 'API Error: 500', ...usage })).toMatch(/^✗ API Error: 500 · 3\.2s/);
  });

  it('lists changed files by kind', () => {
    const line = formatChatEvent({
      type: 'changed_files',
      files: [
        { path: 'new.txt', kind: 'created' },
        { path: 'old.txt', kind: 'modified' },
        { path: 'gone.txt', kind: 'deleted' },
        { path: 'b.txt', kind: 'renamed', from: 'a.txt' },
      ],
    });
    expect(line).toBe('changed: + new.txt, ~ old.txt, - gone.txt, → a.txt → b.txt');
    expect(formatChatEvent({ type: 'changed_files', files: [] })).toBe('no files changed');
  });

  it('shows cancellations and timeouts, and hides what only the machine needs', () => {
    expect(formatChatEvent({ type: 'turn_end', outcome: 'cancelled', sessionId: null })).toBe('✗ cancelled');
    expect(formatChatEvent({ type: 'turn_end', outcome: 'timeout', sessionId: null })).toBe('✗ timed out');
    expect(formatChatEvent({ type: 'turn_end', outcome: 'success', sessionId: 's' })).toBeUndefined();
    expect(formatChatEvent({ type: 'session', sessionId: 's', model: 'm', tools: [] })).toBeUndefined();
  });
});

describe('formatChatEvent on multi-line values', () => {
  it('does not mark a value that only ends with a newline as cut', () => {
    expect(formatChatEvent({ type: 'tool_call', id: 't', name: 'Write', input: { content: 'one line\n' } })).toBe('● Write(content=one line)');
  });
});

describe('splitToolRules', () => {
  it('splits on commas outside parentheses and drops empty rules', async () => {
    const { splitToolRules } = await import('../../src/domain/chat.js');
    expect(splitToolRules('Read, Bash(git add, commit),,WebFetch ')).toEqual(['Read', 'Bash(git add, commit)', 'WebFetch']);
    expect(splitToolRules('')).toEqual([]);
  });
});
