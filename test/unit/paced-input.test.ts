import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PacedInput, splitKeys } from '../../src/ui/paced-input.js';

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
  });

  it('keeps a paste whole', () => {
    const paste = 'a long line of pasted text, longer than a burst of typing';
    expect(splitKeys(`${paste}\r`)).toEqual([paste, '\r']);
  });
});

describe('PacedInput', () => {
  it('hands Ink one key per read, each in its own readable event, in order', async () => {
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
    input.addListener('readable', onReadable);
    (source as unknown as PassThrough).write('jk\t\u001B[A');
    await new Promise((resolve) => setImmediate(resolve));
    // The first key at once, the others each on a later turn of the loop.
    expect(events).toEqual([['j']]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual([['j'], ['k'], ['\t'], ['\u001B[A']]);
    input.removeListener('readable', onReadable);
    expect(source.listenerCount('readable')).toBe(0);
  });
});
