/**
 * Renders an Ink tree as ink-testing-library does (frames as text, keys
 * written to a fake stdin), but with the keys going through berth's
 * PacedInput, as they do in the real app (src/ui/run.tsx): each key reaches
 * the handlers once React has finished with the one before, however loaded
 * the machine. Tests then need no pauses between keys.
 */
import { EventEmitter } from 'node:events';
import { render } from 'ink';
import type { ReactNode } from 'react';
import { unstable_IdlePriority as IdlePriority, unstable_scheduleCallback as scheduleCallback } from 'scheduler';
import { PacedInput } from '../../src/ui/paced-input.js';

/** Resolves once React's scheduler has nothing more urgent to do: renders and their effects are done. */
const reactIdle = () => new Promise<void>((resolve) => setImmediate(() => scheduleCallback(IdlePriority, () => resolve())));

class FakeStdout extends EventEmitter {
  readonly frames: string[] = [];
  readonly isTTY = true;
  get columns(): number {
    return 100;
  }
  write = (frame: string): boolean => {
    this.frames.push(frame);
    return true;
  };
}

/** A terminal's stdin in raw mode: what is written is one read; like a Node stream, a new reader hears of what waits. */
class FakeStdin extends EventEmitter {
  readonly isTTY = true;
  private readonly chunks: string[] = [];
  constructor() {
    super();
    this.on('newListener', (event) => {
      if (event === 'readable' && this.chunks.length > 0) process.nextTick(() => this.emit('readable'));
    });
  }
  write(data: string): void {
    this.chunks.push(data);
    this.emit('readable');
  }
  read(): string | null {
    return this.chunks.shift() ?? null;
  }
  setEncoding(): void {}
  setRawMode(): void {}
  ref(): void {}
  unref(): void {}
}

export interface PacedApp {
  /** Writes to the terminal's input, as typing or a paste does. */
  write(data: string): void;
  /** Resolves once every key written went to the handlers, and React has drawn what they did. */
  settled(): Promise<void>;
  lastFrame(): string;
  /** Everything written to stdout, frames included. */
  output(): string;
  unmount(): void;
}

export function renderPaced(tree: ReactNode): PacedApp {
  const stdout = new FakeStdout();
  const stdin = new FakeStdin();
  const input = new PacedInput(stdin as unknown as NodeJS.ReadStream);
  const instance = render(tree, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: new FakeStdout() as unknown as NodeJS.WriteStream,
    stdin: input as unknown as NodeJS.ReadStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  return {
    write: (data) => stdin.write(data),
    settled: async () => {
      while (input.pending() > 0) await reactIdle();
      await reactIdle();
    },
    lastFrame: () => stdout.frames.at(-1) ?? '',
    output: () => stdout.frames.join(''),
    unmount: () => instance.unmount(),
  };
}
