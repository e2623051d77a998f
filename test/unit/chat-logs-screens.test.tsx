import { setTimeout as sleep } from 'node:timers/promises';
import type { PendingRequest, RequestAnswer } from '../../src/domain/approvals.js';
import { render } from 'ink-testing-library';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import type { QueuedMessage } from '../../src/daemon/protocol.js';
import type { TranscriptEntry } from '../../src/domain/chat.js';
import { buildKeymap } from '../../src/domain/keys.js';
import type { ControlCenterSnapshot, ConversationView } from '../../src/services/control-center-state.js';
import { ChatScreen } from '../../src/ui/components/chat/chat-screen.js';
import { LogsScreen } from '../../src/ui/components/logs/logs-screen.js';
import { ChatView } from '../../src/ui/screens/chat-view.js';
import type { ScreenActions } from '../../src/ui/screens/screen-props.js';
import { initialUiState, type UiState } from '../../src/ui/ui-state.js';
import { renderPaced } from '../helpers/paced-render.js';
import { ACTED_ON, HOSTILE, HOSTILE_SHOWN, unstyled } from '../helpers/terminal-text.js';

const at = (turn: number, event: Record<string, unknown>): TranscriptEntry =>
  ({ ...event, time: '2026-11-24T10:00:00.000Z', turn }) as TranscriptEntry;

function conversation(turns: number): TranscriptEntry[] {
  return Array.from({ length: turns }, (_, index) => [
    at(index + 1, { type: 'user', text: `question ${index + 1}` }),
    at(index + 1, { type: 'text', text: `answer ${index + 1}` }),
    at(index + 1, { type: 'turn_end', outcome: 'success', sessionId: 's' }),
  ]).flat();
}

interface ChatProps {
  entries: TranscriptEntry[];
  height: number;
  width?: number;
  scrollOffset?: number;
  running?: boolean;
  cancelling?: boolean;
  streaming?: string;
  queued?: QueuedMessage[];
  onSubmit?: (text: string) => void;
}

const queuedMessage = (id: string, text: string): QueuedMessage => ({ id, text, since: '2026-11-24T10:00:00.000Z' });

function Chat(props: ChatProps) {
  const [input, setInput] = useState('');
  return (
    <ChatScreen
      projectName="boat"
      conversation={{
        project: 'boat',
        loaded: true,
        entries: props.entries,
        ...(props.streaming !== undefined && { streaming: props.streaming }),
        ...(props.queued && { queued: props.queued }),
      }}
      {...(props.running && { turn: { running: true, cancelling: props.cancelling === true, startedAt: 0 } })}
      width={props.width ?? 60}
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

  it('draws the text the model is writing below the entries, growing, marked as still being written', () => {
    const entries = [at(1, { type: 'user', text: 'tell me' })];
    const app = render(<Chat entries={entries} height={10} running streaming="Once upon" />);
    expect(app.lastFrame()).toMatch(/> tell me *\nOnce upon▍/);
    app.rerender(<Chat entries={entries} height={10} running streaming="Once upon a time, far away" />);
    expect(app.lastFrame()).toContain('Once upon a time, far away▍');
    expect(app.lastFrame()).not.toContain('Once upon▍');
  });

  it('replaces the streamed text with the finished text entry', () => {
    const entries = [at(1, { type: 'user', text: 'tell me' })];
    const app = render(<Chat entries={entries} height={10} running streaming="Once upon a" />);
    expect(app.lastFrame()).toContain('Once upon a▍');
    app.rerender(<Chat entries={[...entries, at(1, { type: 'text', text: 'Once upon a time.' })]} height={10} running />);
    const frame = app.lastFrame() ?? '';
    expect(frame).toContain('Once upon a time.');
    expect(frame).not.toContain('▍');
    expect(frame.match(/Once upon/g)).toHaveLength(1);
  });

  it('keeps the last lines of a long streamed text, never taller than its height, at 80 columns', () => {
    const streaming = Array.from({ length: 60 }, (_, index) => `streamed line ${index}`).join('\n');
    const frame = render(<Chat entries={conversation(2)} height={21} width={80} running streaming={streaming} queued={[queuedMessage('q1', 'next')]} />).lastFrame() ?? '';
    expect(frame.split('\n')).toHaveLength(21);
    expect(frame).toContain('streamed line 59▍');
    expect(frame).not.toContain('streamed line 40\n');
    expect(frame).toMatch(/↑ \d+ more lines/);
    expect(frame).toContain('queued: next');
    for (const line of frame.split('\n')) expect(unstyled(line).length).toBeLessThanOrEqual(80);
  });

  it('shows the control characters of streamed text, never passing them to the terminal', () => {
    const frame = render(<Chat entries={[]} height={10} running streaming={`copying ${HOSTILE}now`} />).lastFrame() ?? '';
    expect(frame).toContain(`copying ${HOSTILE_SHOWN}now▍`);
    expect(unstyled(frame)).not.toMatch(ACTED_ON);
  });

  it('lists the queued messages above the input, the next first, each as its first line', () => {
    const queued = [queuedMessage('q1', 'first of all'), queuedMessage('q2', `second\nwith more lines ${HOSTILE}`)];
    const frame = render(<Chat entries={conversation(1)} height={10} running queued={queued} />).lastFrame() ?? '';
    const lines = frame.split('\n');
    expect(lines).toHaveLength(10);
    const input = lines.findIndex((line) => line.startsWith('› '));
    expect(lines.slice(input - 2, input)).toEqual([expect.stringMatching(/^queued: first of all *$/), expect.stringMatching(/^queued: second… *$/)]);
    expect(lines[input]).toContain('Enter queues it');
    expect(unstyled(frame)).not.toMatch(ACTED_ON);
  });

  it('keeps a long queue to three rows: the next, how many more, and the last', () => {
    const queued = Array.from({ length: 6 }, (_, index) => queuedMessage(`q${index}`, `message ${index}`));
    const frame = render(<Chat entries={conversation(1)} height={10} running queued={queued} />).lastFrame() ?? '';
    expect(frame.split('\n')).toHaveLength(10);
    expect(frame).toMatch(/queued: message 0 *\nqueued: … 4 more *\nqueued: message 5/);
  });

  it('says it is loading before the transcript is read', () => {
    const frame = render(
      <ChatScreen projectName="boat" conversation={{ project: 'boat', loaded: false, entries: [] }} width={60} height={6} scrollOffset={0} input="" onInputChange={() => {}} onSubmit={() => {}} inputActive={false} hints="" />,
    ).lastFrame();
    expect(frame).toContain('loading the conversation');
  });
});

describe('ChatView', () => {
  function openChatView(options: { running?: boolean; queued?: QueuedMessage[]; draft?: string; requests?: PendingRequest[] }) {
    const chat: ConversationView = { project: 'boat', loaded: true, entries: conversation(1), ...(options.queued && { queued: options.queued }) };
    const snapshot: ControlCenterSnapshot = {
      engine: { address: 'unix:///var/run/docker.sock', status: { state: 'unused' } },
      projects: [
        {
          project: { name: 'boat', path: '/work/boat', mode: 'workspace', ownsWorkspace: false, createdAt: '2026-11-24T10:00:00.000Z', lastActive: null, state: 'ready' },
          state: 'ready',
          ...(options.running && { turn: { running: true, cancelling: false, startedAt: 0 } }),
        },
      ],
      conversations: new Map([['boat', chat]]),
      requests: options.requests ?? [],
    };
    const sent: Array<[string, string]> = [];
    const answers: Array<[string, string, RequestAnswer]> = [];
    const notices: string[] = [];
    const withdrawLast = vi.fn((name: string) => name === 'boat' && (options.queued?.length ?? 0) > 0);
    const actions = {
      send: (name: string, text: string) => sent.push([name, text]),
      withdrawLast,
      notify: (text: string) => notices.push(text),
      cancel: () => true,
      answer: (name: string, id: string, answer: RequestAnswer) => answers.push([name, id, answer]),
      backToDashboard: () => {},
      quit: () => {},
    } as Partial<ScreenActions> as ScreenActions;
    let ui: UiState = { ...initialUiState(), view: { screen: 'chat', project: 'boat' }, drafts: { boat: options.draft ?? '' } };
    const View = () => {
      const [state, setState] = useState(ui);
      ui = state;
      return (
        <ChatView
          snapshot={snapshot}
          ui={state}
          update={(change) => setState((current) => ({ ...current, ...change }))}
          keymap={buildKeymap()}
          actions={actions}
          columns={80}
          rows={23}
          version="9.9.9"
          now={0}
          project="boat"
        />
      );
    };
    const app = renderPaced(<View />);
    return { app, sent, notices, withdrawLast, answers, draft: () => ui.drafts.boat };
  }

  it('sends (queues) what is typed while a turn runs', async () => {
    const { app, sent, notices, draft } = openChatView({ running: true });
    app.write('and then this');
    app.write('\r');
    await app.settled();
    expect(sent).toEqual([['boat', 'and then this']]);
    expect(notices).toEqual([]);
    expect(draft()).toBe('');
    app.unmount();
  });

  it('shows the take-back key only when something is queued, and Ctrl-U takes the last back into the input', async () => {
    const idle = openChatView({ running: true });
    expect(idle.app.lastFrame()).not.toContain('take back');
    idle.app.write('\u0015');
    await idle.app.settled();
    expect(idle.withdrawLast).toHaveBeenCalledWith('boat');
    expect(idle.notices).toEqual(['no message is queued to take back']);
    idle.app.unmount();

    const { app, withdrawLast, draft } = openChatView({ running: true, queued: [queuedMessage('q1', 'first'), queuedMessage('q2', 'second')], draft: 'typing' });
    const frame = app.lastFrame();
    expect(frame.split('\n').length).toBeLessThanOrEqual(23);
    const hints = frame.split('\n').find((line) => line.startsWith('Esc '));
    expect(hints).toContain('Ctrl-u take back queued');
    expect(frame).toContain('queued: first');
    app.write('\u0015');
    await app.settled();
    expect(withdrawLast).toHaveBeenCalledWith('boat');
    // The last one queued, back ahead of what was being typed.
    expect(draft()).toBe('second\ntyping');
    app.unmount();
  });

  const ANSWER_GRACE = 550;
  const bashRequest: PendingRequest = { id: 'req-1', project: 'boat', turn: 1, tool: 'Bash', input: { command: 'make' }, detail: '$ make', rule: 'Bash(make)', since: '2026-12-01T00:00:00.000Z' };

  it('while the agent waits, the input line says which keys answer it: y allows once, a always, and typing sends nothing', async () => {
    const once = openChatView({ running: true, requests: [bashRequest] });
    expect(once.app.lastFrame()).toContain('? Bash waits for you: y allow once · a always (Bash(make)) · n deny');
    expect(once.app.lastFrame()).toContain('y allow once · a always · n deny · Esc cancel the turn');
    // A key typed as the request appears was meant for the message: it answers nothing.
    once.app.write('y');
    await once.app.settled();
    expect(once.answers).toEqual([]);
    await sleep(ANSWER_GRACE);
    once.app.write('y');
    await once.app.settled();
    expect(once.answers).toEqual([['boat', 'req-1', { allow: true }]]);
    expect(once.sent).toEqual([]);
    once.app.unmount();

    const always = openChatView({ running: true, requests: [bashRequest] });
    await sleep(ANSWER_GRACE);
    always.app.write('a');
    await always.app.settled();
    expect(always.answers).toEqual([['boat', 'req-1', { allow: true, always: true }]]);
    always.app.unmount();
  });

  it('n asks for a message to the agent; Enter denies with it, Esc goes back to the keys', async () => {
    const { app, answers, draft } = openChatView({ running: true, requests: [bashRequest], draft: 'my next message' });
    await sleep(ANSWER_GRACE);
    app.write('n');
    await app.settled();
    expect(app.lastFrame()).toContain('a message to the agent, Enter denies');
    app.write('\u001B');
    await app.settled();
    expect(app.lastFrame()).toContain('n deny');
    app.write('n');
    await app.settled();
    app.write('not now');
    app.write('\r');
    await app.settled();
    expect(answers).toEqual([['boat', 'req-1', { allow: false, message: 'not now' }]]);
    // The message being written is left alone.
    expect(draft()).toBe('my next message');
    app.unmount();
  });

  it("answers the agent's questions one by one, with an option's number or the user's words", async () => {
    const questions = [
      { question: 'Which colour?', options: [{ label: 'Red' }, { label: 'Blue' }], multiSelect: false },
      { question: 'Which size?', options: [{ label: 'S' }, { label: 'L' }], multiSelect: false },
    ];
    const request: PendingRequest = { ...bashRequest, tool: 'AskUserQuestion', questions, input: { questions } };
    delete request.rule;
    const { app, answers } = openChatView({ running: true, requests: [request] });
    expect(app.lastFrame()).toContain("? Which colour? (1 of 2): an option's number, or your own words; Enter answers");
    app.write('2');
    app.write('\r');
    await app.settled();
    expect(app.lastFrame()).toContain('? Which size? (2 of 2)');
    app.write('medium, please');
    app.write('\r');
    await app.settled();
    expect(answers).toEqual([['boat', 'req-1', { allow: true, answers: { 'Which colour?': 'Blue', 'Which size?': 'medium, please' } }]]);
    app.unmount();
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
