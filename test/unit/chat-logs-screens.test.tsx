import { render } from 'ink-testing-library';
import { useState } from 'react';
import { describe, expect, it } from 'vitest';
import type { TranscriptEntry } from '../../src/domain/chat.js';
import { ChatScreen } from '../../src/ui/components/chat/chat-screen.js';
import { LogsScreen } from '../../src/ui/components/logs/logs-screen.js';

const tick = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));
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
    const app = render(<Chat entries={[]} height={8} onSubmit={(text) => sent.push(text)} />);
    expect(app.lastFrame()).toContain('No messages yet');
    await tick();
    app.stdin.write('hello there');
    await tick();
    expect(app.lastFrame()).toContain('hello there');
    app.stdin.write('\r');
    await tick();
    expect(sent).toEqual(['hello there']);
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

  it('follows the end, without escape sequences, in its height', () => {
    const frame = render(<LogsScreen projectName="boat" lines={lines} width={60} height={8} scrollOffset={0} following hints="q back" />).lastFrame() ?? '';
    expect(frame.split('\n').length).toBe(8);
    expect(frame).toContain('line 49');
    expect(frame).toContain('following');
    expect(frame).not.toContain('[32m');
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
