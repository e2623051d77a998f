/**
 * Keys for Ink, one per turn of the event loop. Ink hands every key of a
 * read to the input handlers at once, but a handler sees the state of the
 * last render whose effects have run: keys that arrive together (typed fast,
 * sent by a script, or queued while a frame was drawn) would each act on the
 * same old state, and `j j` would move once, or a Tab land in the field it
 * leaves. Delivered one at a time, once React has finished the work of the
 * previous key, every key sees the state the one before left.
 *
 * A bracketed paste (the terminal sends `ESC[200~ … ESC[201~` once berth has
 * turned mode 2004 on) is one unit, its line breaks as `\n`: a multi-line
 * paste into the chat is one message, not one per line.
 */
import { EventEmitter } from 'node:events';
import { unstable_IdlePriority as IdlePriority, unstable_scheduleCallback as scheduleCallback } from 'scheduler';
import { visibleText } from '../domain/visible-text.js';

/** Longer runs of printable characters are pastes: one unit, or a big paste would redraw once per character. */
const PASTE_RUN = 16;
const PASTE_START = '\u001B[200~';
const PASTE_END = '\u001B[201~';

export class PacedInput extends EventEmitter {
  readonly isTTY: boolean;
  private readonly queue: string[] = [];
  /** A paste whose end has not come yet: its start is kept until the rest arrives. */
  private unfinished = '';
  private ready: string | null = null;
  private scheduled = false;
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

  /** Keys read from the terminal and not handed to Ink yet (a test waits for 0). */
  pending(): number {
    return this.queue.length + (this.ready === null ? 0 : 1) + (this.unfinished === '' ? 0 : 1);
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
      // Keys that came while no one read (Ink re-subscribes as components mount, a
      // form was busy) go out once this round of effects is over (see schedule):
      // Ink subscribes here before the handlers are, and a key handed out now would reach none.
      this.pull();
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
    while ((chunk = this.source.read() as string | Buffer | null) !== null) {
      const { keys, unfinished } = splitInput(this.unfinished + String(chunk));
      this.unfinished = unfinished;
      this.queue.push(...keys);
    }
    this.schedule();
  };

  /**
   * A key goes out only once React is done: the handlers of the last key (or
   * a snapshot, or a promise) scheduled a render, whose effects (which
   * subscribe the new handlers) wait in React's scheduler, and a task of idle
   * priority there runs only after them. Scheduled from the check phase, after
   * that render was queued and after Ink's own timer for a lone Esc (which
   * must not merge with the next key).
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() =>
      scheduleCallback(IdlePriority, () => {
        this.scheduled = false;
        this.deliver();
      }),
    );
  }

  private deliver(): void {
    if (this.listenerCount('readable') === 0) return;
    // A key handed out but not read (its reader left meanwhile) goes again first.
    this.ready ??= this.queue.shift() ?? null;
    if (this.ready === null) return;
    this.emit('readable');
    this.schedule();
  }
}

/**
 * Terminal input as keys (see splitKeys), each bracketed paste one unit of
 * text; `unfinished` is a paste still open at the end, to be read again with
 * the next chunk.
 */
export function splitInput(text: string): { keys: string[]; unfinished: string } {
  const keys: string[] = [];
  let at = 0;
  for (;;) {
    const start = text.indexOf(PASTE_START, at);
    if (start === -1) {
      // A terminal's reply cut at the end of the read waits for its rest, as a paste does.
      const open = unterminatedString(text, at);
      return { keys: [...keys, ...splitKeys(text.slice(at, open))], unfinished: text.slice(open) };
    }
    keys.push(...splitKeys(text.slice(at, start)));
    const end = text.indexOf(PASTE_END, start + PASTE_START.length);
    if (end === -1) return { keys, unfinished: text.slice(start) };
    const pasted = pastedText(text.slice(start + PASTE_START.length, end));
    if (pasted !== '') keys.push(pasted);
    at = end + PASTE_END.length;
  }
}

/**
 * What a paste puts in a field: its line breaks (a terminal sends CR, or
 * CR LF) as `\n`; any other control shown, not acted on: an ESC in it would
 * otherwise split it into keys.
 */
function pastedText(text: string): string {
  return visibleText(text.replace(/\r\n?/g, '\n'));
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
    if (char === '\u001B' && STRING_INTRODUCERS.includes(text[index + 1] ?? '') && index + 2 < text.length) {
      // A terminal's reply (to a query of a program that had the terminal before, such as XTVERSION's
      // ESC P >|tmux 3.3a ESC \): no key sends one, and read as keys its letters would act.
      endRun();
      index = stringEnd(text, index + 2);
    } else if (char === '\u001B') {
      endRun();
      const length = escapeLength(text, index);
      units.push(text.slice(index, index + length));
      index += length;
    } else if (char < ' ' || char === '\u007F') {
      endRun();
      units.push(char);
      index += 1;
    } else if (char >= '\u0080' && char <= '\u009F') {
      // No key sends a C1 control (U+009B is CSI): one pasted in shows as text, in a field too.
      run += visibleText(char);
      index += 1;
    } else {
      run += char;
      index += 1;
    }
  }
  endRun();
  return units;
}

/** DCS, SOS, OSC, PM and APC: a string up to ST (ESC \\) or BEL. */
const STRING_INTRODUCERS = ['P', 'X', ']', '^', '_'];

/**
 * Where a control string that has begun but not ended starts, from `from` on
 * (with one character of its body at least: a lone ESC P is Alt-P); the
 * text's length when none is open.
 */
function unterminatedString(text: string, from: number): number {
  for (let index = from; index < text.length - 2; index += 1) {
    if (text[index] !== '\u001B' || !STRING_INTRODUCERS.includes(text[index + 1]!)) continue;
    const end = stringEnd(text, index + 2);
    if (end === text.length && !text.endsWith('\u0007') && !text.endsWith('\u001B\\')) return index;
    index = end - 1;
  }
  return text.length;
}

/** Where the control string whose body starts at `from` ends: after its ST or BEL, else at the end of the text. */
function stringEnd(text: string, from: number): number {
  for (let index = from; index < text.length; index += 1) {
    if (text[index] === '\u0007') return index + 1;
    if (text[index] === '\u001B' && text[index + 1] === '\\') return index + 2;
  }
  return text.length;
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
