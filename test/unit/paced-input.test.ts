import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { unstable_NormalPriority as NormalPriority, unstable_scheduleCallback as scheduleCallback } from 'scheduler';
import { PacedInput, splitInput, splitKeys } from '../../src/ui/paced-input.js';

describe('splitting terminal input into keys', () => {
  it('splits typed keys, controls and escape sequences', () => {
    expect(splitKeys('jj\r')).toEqual(['j', 'j', '\r']);
    expect(splitKeys('boat\t\t ')).toEqual(['b', 'o', 'a', 't', '\t', '\t', ' ']);
    expect(splitKeys('\u001B[A\u001B[B\u001B[5~x')).toEqual(['\u001B[A', '\u001B[B', '\u001B[5~', 'x']);
    expect(splitKeys('\u001BOP\u001B')).toEqual(['\u001BOP', '\u001B']);
    expect(splitKeys('\u001B[1;5C')).toEqual(['\u001B[1;5C']);
    expect(splitKeys('\u001Bj')).toEqual(['\u001Bj']);
    expect(splitKeys('\u001B\u001B[A')).toEqual(['\u001B\u001B[A']);
    expect(splitKeys('\u0003\u007F')).toEqual(['\u0003', '\u007F']);
    // No key is a C1 control: one pasted without brackets is text, shown.
    expect(splitKeys('x\u009B2J').join('')).toBe('x\\u009b2J');
  });

  it("drops a terminal's replies (DCS, OSC, APC strings), which are never keys: their letters would act", () => {
    // XTVERSION's reply from tmux, after a program that asked for it gave the terminal back: m, x… would switch a mode, remove a container.
    expect(splitKeys('\u001BP>|tmux 3.3a\u001B\\j')).toEqual(['j']);
    expect(splitKeys('k\u001B]11;rgb:0000/0000/0000\u0007\u001B_Gi=1;OK\u001B\\q')).toEqual(['k', 'q']);
    // Cut off at the end of a read: it waits for its rest, and goes with it.
    expect(splitInput('j\u001BP>|tmux')).toEqual({ keys: ['j'], unfinished: '\u001BP>|tmux' });
    expect(splitInput('\u001BP>|tmux 3.3a\u001B\\m')).toEqual({ keys: ['m'], unfinished: '' });
    // A lone ESC P at the end is Alt-P, a key.
    expect(splitInput('\u001BP')).toEqual({ keys: ['\u001BP'], unfinished: '' });
  });

  it('keeps a paste whole', () => {
    const paste = 'a long line of pasted text, longer than a burst of typing';
    expect(splitKeys(`${paste}\r`)).toEqual([paste, '\r']);
  });
});

describe('splitting input with bracketed pastes', () => {
  it('makes a paste one unit, its line breaks newlines, its other controls visible', () => {
    expect(splitInput('j\u001B[200~one\rtwo\r\nthree\u001B]0;t\u0007\u001B[201~\r')).toEqual({
      keys: ['j', 'one\ntwo\nthree^[]0;t^G', '\r'],
      unfinished: '',
    });
    expect(splitInput('\u001B[200~\u001B[201~x')).toEqual({ keys: ['x'], unfinished: '' });
  });

  it('keeps a paste whose end has not come yet for the next read', () => {
    const first = splitInput('k\u001B[200~half of');
    expect(first).toEqual({ keys: ['k'], unfinished: '\u001B[200~half of' });
    const second = splitInput(`${first.unfinished} it\r\u001B[20`);
    expect(second.keys).toEqual([]);
    expect(splitInput(`${second.unfinished}1~j`)).toEqual({ keys: ['half of it\n', 'j'], unfinished: '' });
  });
});

function pacedReader() {
  const source = new PassThrough() as unknown as NodeJS.ReadStream;
  (source as { setEncoding: (e: BufferEncoding) => unknown }).setEncoding('utf8');
  const input = new PacedInput(source);
  const events: string[][] = [];
  const onReadable = () => {
    const keys: string[] = [];
    let key: string | null;
    while ((key = input.read()) !== null) keys.push(key);
    events.push(keys);
  };
  return { source: source as unknown as PassThrough, input, events, onReadable };
}

describe('PacedInput', () => {
  it('hands Ink one key per read, each in its own readable event, in order', async () => {
    const { source, input, events, onReadable } = pacedReader();
    input.addListener('readable', onReadable);
    source.write('jk\t\u001B[A');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual([['j'], ['k'], ['\t'], ['\u001B[A']]);
    expect(input.pending()).toBe(0);
    input.removeListener('readable', onReadable);
    expect(source.listenerCount('readable')).toBe(0);
  });

  it('hands a key out only once the work React has queued is done (a render, its effects)', async () => {
    const { source, input, events, onReadable } = pacedReader();
    input.addListener('readable', onReadable);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const order: string[] = [];
    // A render queued by a snapshot or a promise, as React queues it: a task of normal priority.
    scheduleCallback(NormalPriority, () => void order.push(`render, with ${events.length} keys handed out`));
    source.write('j');
    await new Promise((resolve) => setTimeout(resolve, 20));
    order.push(`then ${events.length} key`);
    expect(order).toEqual(['render, with 0 keys handed out', 'then 1 key']);
  });

  it('hands keys held while no one read to the next reader after it subscribed, never during', async () => {
    const { source, input, onReadable } = pacedReader();
    input.addListener('readable', onReadable);
    source.write('abc');
    await new Promise((resolve) => setImmediate(resolve));
    // The screen goes before the keys were handed out (Ink unsubscribes as it unmounts) ...
    input.removeListener('readable', onReadable);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // ... and the next one subscribes as Ink does: stdin first, its handlers later in the same effects.
    let handlersAttached = false;
    const handled: string[] = [];
    const lost: string[] = [];
    input.addListener('readable', () => {
      let key: string | null;
      while ((key = input.read()) !== null) (handlersAttached ? handled : lost).push(key);
    });
    handlersAttached = true;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect({ handled, lost }).toEqual({ handled: ['a', 'b', 'c'], lost: [] });
  });
});
