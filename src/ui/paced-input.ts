/**
 * Keys for Ink, one per turn of the event loop. Ink hands every key of a
 * read to the input handlers at once, but a handler sees the state of the
 * last render whose effects have run: keys that arrive together (typed fast,
 * sent by a script, or queued while a frame was drawn) would each act on the
 * same old state, and `j j` would move once, or a Tab land in the field it
 * leaves. Delivered one at a time, once React has finished the work of the
 * previous key, every key sees the state the one before left.
 */
import { EventEmitter } from 'node:events';
import { unstable_IdlePriority as IdlePriority, unstable_scheduleCallback as scheduleCallback } from 'scheduler';

/** Longer runs of printable characters are pastes: one unit, or a big paste would redraw once per character. */
const PASTE_RUN = 16;

export class PacedInput extends EventEmitter {
  readonly isTTY: boolean;
  private readonly queue: string[] = [];
  private ready: string | null = null;
  private waiting = false;
  private attached = false;

  constructor(private readonly source: NodeJS.ReadStream) {
    super();
    this.isTTY = source.isTTY === true;
  }

  setEncoding(encoding: BufferEncoding): this {
    this.source.setEncoding(encoding);
    return this;
  }

  setRawMode(mode: boolean): this {
    this.source.setRawMode(mode);
    return this;
  }

  ref(): this {
    this.source.ref();
    return this;
  }

  unref(): this {
    this.source.unref();
    return this;
  }

  /** Ink reads until null after each 'readable': one key, then null. */
  read(): string | null {
    const unit = this.ready;
    this.ready = null;
    return unit;
  }

  override addListener(event: string | symbol, listener: (...args: unknown[]) => void): this {
    super.addListener(event, listener);
    if (event === 'readable' && !this.attached) {
      this.attached = true;
      this.source.on('readable', this.pull);
      // Keys that came while no one read (Ink re-subscribes as components mount) are handed out now.
      this.deliver();
    }
    return this;
  }

  override on(event: string | symbol, listener: (...args: unknown[]) => void): this {
    return this.addListener(event, listener);
  }

  override removeListener(event: string | symbol, listener: (...args: unknown[]) => void): this {
    super.removeListener(event, listener);
    // Without a reader, stdin goes back to whoever needs it next (a shell, say).
    if (event === 'readable' && this.listenerCount('readable') === 0 && this.attached) {
      this.attached = false;
      this.source.off('readable', this.pull);
    }
    return this;
  }

  override off(event: string | symbol, listener: (...args: unknown[]) => void): this {
    return this.removeListener(event, listener);
  }

  private readonly pull = (): void => {
    let chunk: string | Buffer | null;
    while ((chunk = this.source.read() as string | Buffer | null) !== null) this.queue.push(...splitKeys(String(chunk)));
    this.deliver();
  };

  private deliver(): void {
    if (this.waiting || this.queue.length === 0 || this.listenerCount('readable') === 0) return;
    // A key handed out but not read (its reader left meanwhile) goes first.
    if (this.ready !== null) return void this.emit('readable');
    this.ready = this.queue.shift()!;
    this.waiting = true;
    this.emit('readable');
    // The handlers queued a render as a microtask; once it has run, its
    // effects (which subscribe the new handlers) wait in React's scheduler.
    // A task of idle priority there runs only after them, so the next key
    // goes out then. Queued from a microtask, behind that render.
    queueMicrotask(() =>
      scheduleCallback(IdlePriority, () => {
        this.waiting = false;
        this.deliver();
      }),
    );
  }
}

/**
 * A chunk of terminal input as keys: an escape sequence, a control
 * character, or a printable character; a long printable run (a paste) stays whole.
 */
export function splitKeys(text: string): string[] {
  const units: string[] = [];
  let run = '';
  const endRun = () => {
    if (run === '') return;
    if (run.length > PASTE_RUN) units.push(run);
    else units.push(...Array.from(run));
    run = '';
  };
  let index = 0;
  while (index < text.length) {
    const char = text[index]!;
    if (char === '\u001B') {
      endRun();
      const length = escapeLength(text, index);
      units.push(text.slice(index, index + length));
      index += length;
    } else if (char < ' ' || char === '\u007F') {
      endRun();
      units.push(char);
      index += 1;
    } else {
      run += char;
      index += 1;
    }
  }
  endRun();
  return units;
}

/** The length of the escape sequence at `start`: CSI (ESC [ … final), SS3 (ESC O x), or ESC with one more key (Alt). */
function escapeLength(text: string, start: number): number {
  const next = text[start + 1];
  if (next === undefined) return 1;
  if (next === '[') {
    let end = start + 2;
    while (end < text.length && /[\x20-\x3F]/.test(text[end]!)) end += 1;
    return Math.min(text.length, end + 1) - start;
  }
  if (next === 'O') return Math.min(3, text.length - start);
  if (next === '\u001B') return 1 + escapeLength(text, start + 1);
  return 2;
}
