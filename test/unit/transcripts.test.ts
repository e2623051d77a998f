import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/domain/chat.js';
import { TranscriptStore } from '../../src/store/transcripts.js';
import { useTempDirs } from '../helpers/temp.js';

const tempDir = useTempDirs();
const SESSION_A = '0b9d1c7e-4a57-4c52-9a43-6a3f1e2d5b01';
const SESSION_B = '7f0e2d4c-1b3a-4f5e-8d6c-9a0b1c2d3e4f';

const session = (sessionId: string): ChatEvent => ({ type: 'session', sessionId, model: 'fake', tools: [] });
const turnEnd = (sessionId: string | null): ChatEvent => ({ type: 'turn_end', outcome: 'success', sessionId });

async function store(): Promise<TranscriptStore> {
  return new TranscriptStore(await tempDir('berth-transcripts-'));
}

/** Writes a whole turn: user, optional session, text, turn_end. */
async function writeTurn(transcripts: TranscriptStore, startsWith: string | null, announces: string | null, text: string) {
  const turn = await transcripts.beginTurn('demo', startsWith);
  turn.append({ type: 'user', text });
  if (announces) turn.append(session(announces));
  turn.append({ type: 'text', text: `re: ${text}` });
  turn.append(turnEnd(announces ?? startsWith));
  turn.close();
  return turn;
}

describe('TranscriptStore', () => {
  it('writes a first turn provisionally and renames it to the session the CLI announces', async () => {
    const transcripts = await store();
    const turn = await transcripts.beginTurn('demo', null);
    turn.append({ type: 'user', text: 'hello' });
    const provisional = turn.file;
    expect(path.basename(provisional)).toMatch(/^pending\..+\.jsonl$/);

    turn.append(session(SESSION_A));
    turn.append({ type: 'text', text: 'hi' });
    turn.close();

    expect(turn.file).toBe(path.join(transcripts.folder('demo'), `${SESSION_A}.jsonl`));
    expect(await readdir(transcripts.folder('demo'))).toEqual([`${SESSION_A}.jsonl`]);
    const [only] = await transcripts.sessions('demo');
    expect(only).toMatchObject({ sessionId: SESSION_A, skippedLines: 0 });
    expect(only?.entries.map((entry) => entry.type)).toEqual(['user', 'session', 'text']);
    expect(only?.entries.every((entry) => entry.turn === 1 && !Number.isNaN(Date.parse(entry.time)))).toBe(true);
  });

  it('puts each line on disk as it is appended, before the turn is closed', async () => {
    const transcripts = await store();
    const turn = await transcripts.beginTurn('demo', SESSION_A);
    turn.append({ type: 'user', text: 'one' });
    turn.append({ type: 'text', text: 'two' });

    const lines = (await readFile(turn.file, 'utf8')).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.slice(0, 2).map((line) => (JSON.parse(line) as { text: string }).text)).toEqual(['one', 'two']);
    turn.close();
  });

  it('appends a resumed turn to its session and numbers turns across sessions', async () => {
    const transcripts = await store();
    await writeTurn(transcripts, null, SESSION_A, 'first');
    const second = await writeTurn(transcripts, SESSION_A, null, 'second');
    // A reset: the next conversation starts provisionally, with the next number.
    const third = await writeTurn(transcripts, null, SESSION_B, 'third');
    // A turn that never reached the CLI keeps its provisional file.
    const fourth = await writeTurn(transcripts, null, null, 'fourth');

    expect([second.turn, third.turn, fourth.turn]).toEqual([2, 3, 4]);
    const sessions = await transcripts.sessions('demo');
    expect(sessions.map((entry) => entry.sessionId)).toEqual([SESSION_A, SESSION_B, null]);
    const users = (await transcripts.entries('demo')).filter((entry) => entry.type === 'user');
    expect(users.map((entry) => [entry.turn, entry.type === 'user' && entry.text])).toEqual([
      [1, 'first'],
      [2, 'second'],
      [3, 'third'],
      [4, 'fourth'],
    ]);
  });

  it('reads entries back in turn order when sessions interleave', async () => {
    const transcripts = await store();
    await writeTurn(transcripts, null, SESSION_A, 'first');
    // A turn that failed before its CLI named a session, then the conversation went on.
    await writeTurn(transcripts, SESSION_A, null, 'second');
    await writeTurn(transcripts, null, null, 'third');
    await writeTurn(transcripts, SESSION_A, null, 'fourth');

    const users = (await transcripts.entries('demo')).filter((entry) => entry.type === 'user');
    expect(users.map((entry) => entry.type === 'user' && entry.text)).toEqual(['first', 'second', 'third', 'fourth']);
  });

  it('reads a transcript whose last line a crash cut short, and mends it before the next turn appends', async () => {
    const transcripts = await store();
    const first = await writeTurn(transcripts, null, SESSION_A, 'first');
    await appendFile(first.file, '{"type":"text","text":"cut sh');

    const [cut] = await transcripts.sessions('demo');
    expect(cut?.entries).toHaveLength(4);
    expect(cut?.skippedLines).toBe(1);

    const next = await writeTurn(transcripts, SESSION_A, null, 'after the crash');
    expect(next.turn).toBe(2);
    const [mended] = await transcripts.sessions('demo');
    expect(mended?.skippedLines).toBe(1);
    expect(mended?.entries.filter((entry) => entry.type === 'user').map((entry) => entry.turn)).toEqual([1, 2]);
  });

  it('moves a provisional turn into the session file that exists already', async () => {
    const transcripts = await store();
    await writeTurn(transcripts, null, SESSION_A, 'first');
    // The project forgot its session id, yet the CLI continued the same session.
    const second = await writeTurn(transcripts, null, SESSION_A, 'second');

    expect(second.file.endsWith(`${SESSION_A}.jsonl`)).toBe(true);
    expect(await readdir(transcripts.folder('demo'))).toEqual([`${SESSION_A}.jsonl`]);
    const [only] = await transcripts.sessions('demo');
    expect(only?.entries.map((entry) => entry.turn)).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
  });

  it('finds the last turn behind a last line longer than the part of the file it reads first', async () => {
    const transcripts = await store();
    const turn = await transcripts.beginTurn('demo', SESSION_A);
    turn.append({ type: 'user', text: 'big' });
    turn.append({ type: 'tool_result', id: 't1', ok: true, content: 'x'.repeat(100_000) });
    turn.close();

    expect((await transcripts.beginTurn('demo', SESSION_A)).turn).toBe(2);
  });

  it('skips damaged lines in the middle and files that are not transcripts', async () => {
    const transcripts = await store();
    const turn = await writeTurn(transcripts, null, SESSION_A, 'first');
    const text = await readFile(turn.file, 'utf8');
    const lines = text.split('\n');
    lines.splice(1, 0, 'not json', '{"type":"text"}', '[1,2]');
    await writeFile(turn.file, lines.join('\n'));
    await writeFile(path.join(transcripts.folder('demo'), 'notes.txt'), 'ignored');

    const [only] = await transcripts.sessions('demo');
    expect(only?.entries).toHaveLength(4);
    expect(only?.skippedLines).toBe(3);
  });

  it('keeps a session id that cannot name a file provisional, and refuses bad project names', async () => {
    const transcripts = await store();
    const turn = await transcripts.beginTurn('demo', '../escape');
    turn.append({ type: 'user', text: 'x' });
    turn.append(session('../../etc/passwd'));
    turn.close();

    expect(path.dirname(turn.file)).toBe(transcripts.folder('demo'));
    expect(path.basename(turn.file)).toMatch(/^pending\./);
    expect(() => transcripts.folder('../other')).toThrow(/invalid project name/);
    await expect(transcripts.sessions('nothing-yet')).resolves.toEqual([]);
  });
});
