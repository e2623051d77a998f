import { render } from 'ink-testing-library';
import { useState } from 'react';
import { describe, expect, it } from 'vitest';
import type { TranscriptEntry } from '../../src/domain/chat.js';
import { ChatScreen } from '../../src/ui/components/chat/chat-screen.js';
import { LogsScreen } from '../../src/ui/components/logs/logs-screen.js';
import { renderPaced } from '../helpers/paced-render.js';
import { ACTED_ON, HOSTILE, unstyled } from '../helpers/terminal-text.js';

const at = (turn: number, event: Record<string, unknown>): TranscriptEntry =>
  ({ ...event, time: '2026-11-24T10:00:00.000Z', turn }) as TranscriptEntry;

function conversation(turns: number): TranscriptEntry[] {
  return Array.from({ length: turns }, (_, index) => [
    at(index + 1, { type: 'user', text: `question ${index + 1}` }),
    at(index + 1, { type: 'text', text: `answer ${index + 1}` }),
    at(index + 1, { type: 'turn_end', outcome: 'success', sessionId: 's' }),
  ]).flat();
}

function Chat(props: { entries: TranscriptEntry[]; height: number; scrollOffset?: number; running?: boolean; cancelling?: boolean; onSubmit?: (text: string) => void }) {
  const [input, setInput] = useState('');
  return (
    <ChatScreen
      projectName="boat"
      conversation={{ project: 'boat', loaded: true, entries: props.entries }}
      {...(props.running && { turn: { running: true, cancelling: props.cancelling === true, startedAt: 0 } })}
      width={60}
      height={props.height}
      scrollOffset={props.scrollOffset ?? 0}
      input={input}
      onInputChange={setInput}
      onSubmit={props.onSubmit ?? (() => {})}
      inputActive
      hints="Esc back"
    />
  );
}

describe('ChatScreen', () => {
  it('shows the last lines of a long conversation, never taller than its height', () => {
    const frame = render(<Chat entries={conversation(20)} height={10} />).lastFrame() ?? '';
    expect(frame.split('\n').length).toBe(10);
    expect(frame).toContain('answer 20');
    expect(frame).not.toContain('question 1\n');
    expect(frame).toMatch(/↑ \d+ more lines/);
    expect(frame).toContain('Enter sends');
  });

  it('scrolls up', () => {
    const frame = render(<Chat entries={conversation(20)} height={10} scrollOffset={12} />).lastFrame() ?? '';
    expect(frame).not.toContain('answer 20');
    expect(frame).toContain('answer 16');
    expect(frame).not.toContain('answer 17');
  });

  it('marks a running turn, and a cancelling one', () => {
    expect(render(<Chat entries={conversation(1)} height={10} running />).lastFrame()).toContain('⟳ turn running');
    expect(render(<Chat entries={conversation(1)} height={10} running cancelling />).lastFrame()).toContain('cancelling…');
  });

  it('sends what was typed on Enter', async () => {
    const sent: string[] = [];
    const app = renderPaced(<Chat entries={[]} height={8} onSubmit={(text) => sent.push(text)} />);
    expect(app.lastFrame()).toContain('No messages yet');
    app.write('hello there');
    await app.settled();
    expect(app.lastFrame()).toContain('hello there');
    app.write('\r');
    await app.settled();
    expect(sent).toEqual(['hello there']);
    app.unmount();
  });

  it('takes a bracketed multi-line paste as one message with its newlines, on one row', async () => {
    const sent: string[] = [];
    const app = renderPaced(<Chat entries={conversation(1)} height={8} onSubmit={(text) => sent.push(text)} />);
    // A terminal sends a paste's line breaks as CR; the paste may come in several reads.
    app.write('\u001B[200~first line\rsecond ');
    app.write('line\r\n  third\u001B[20');
    app.write('1~');
    await app.settled();
    expect(app.lastFrame()).toContain('› first line⏎second line⏎  third');
    expect(app.lastFrame().split('\n')).toHaveLength(8);
    expect(sent).toEqual([]);
    app.write('\r');
    await app.settled();
    expect(sent).toEqual(['first line\nsecond line\n  third']);
    app.unmount();
  });

  it('keeps a long paste on the input row: the frame neither grows nor leaves stale rows', async () => {
    const sent: string[] = [];
    const app = renderPaced(<Chat entries={conversation(3)} height={8} onSubmit={(text) => sent.push(text)} />);
    const before = app.lastFrame().split('\n');
    const paste = Array.from({ length: 40 }, (_, index) => `line ${index} ${'x'.repeat(30)}`).join('\r');
    app.write(`\u001B[200~${paste}\u001B[201~`);
    await app.settled();
    const after = app.lastFrame().split('\n');
    expect(after).toHaveLength(before.length);
    // Only the input row changed; it shows the end of the paste, where the cursor is.
    expect(after.filter((line, index) => line !== before[index])).toHaveLength(1);
    expect(after.find((line) => line.startsWith('› '))).toMatch(/^› …x*⏎line 39 x{30} ?$/);
    for (const line of after) expect(unstyled(line).length).toBeLessThanOrEqual(60);
    app.write('\r');
    await app.settled();
    expect(sent).toEqual([paste.replace(/\r/g, '\n')]);
    app.unmount();
  });

  it('shows what a tool printed, never passing its escape sequences to the terminal', () => {
    const hostile = HOSTILE;
    const entries = [
      at(1, { type: 'user', text: `run ${hostile}` }),
      at(1, { type: 'text', text: `Here:\n${hostile}done` }),
      at(1, { type: 'tool_call', id: 't', name: `Bash${hostile}`, input: { command: `printf '${hostile}'` } }),
      at(1, { type: 'tool_result', id: 't', ok: false, content: `${hostile} failed` }),
      at(1, { type: 'error', message: `crashed ${hostile}` }),
      at(1, { type: 'changed_files', files: [{ path: `evil${hostile}.txt`, kind: 'created' }] }),
    ];
    const frame = render(<Chat entries={entries} height={20} />).lastFrame() ?? '';
    expect(frame).toContain('^[]52;c;aGk=^G^[[2J^[[H');
    expect(frame).toContain('\\u009b31m');
    // Ink's own styling is the only escape left.
    expect(unstyled(frame)).not.toMatch(ACTED_ON);
  });

  it('says it is loading before the transcript is read', () => {
    const frame = render(
      <ChatScreen projectName="boat" conversation={{ project: 'boat', loaded: false, entries: [] }} width={60} height={6} scrollOffset={0} input="" onInputChange={() => {}} onSubmit={() => {}} inputActive={false} hints="" />,
    ).lastFrame();
    expect(frame).toContain('loading the conversation');
  });
});

describe('LogsScreen', () => {
  const lines = Array.from({ length: 50 }, (_, index) => `\u001B[32mline ${index}\u001B[0m`);

  it('follows the end in its height, showing escape sequences instead of passing them on', () => {
    const frame = render(<LogsScreen projectName="boat" lines={lines} width={60} height={8} scrollOffset={0} following hints="q back" />).lastFrame() ?? '';
    expect(frame.split('\n').length).toBe(8);
    expect(frame).toContain('^[[32mline 49^[[0m');
    expect(frame).toContain('following');
    expect(frame).not.toContain('\u001B');
  });

  it('shows an earlier window when scrolled, and an error in one line', () => {
    const frame = render(
      <LogsScreen projectName="boat" lines={lines} width={60} height={8} scrollOffset={20} following={false} error={'engine gone\nsecond line'} hints="" />,
    ).lastFrame() ?? '';
    expect(frame).toContain('line 29');
    expect(frame).not.toContain('line 49');
    expect(frame).toMatch(/paused at 30 of 50/);
    expect(frame).toContain('✗ engine gone');
  });
});
