import { createRequire } from 'node:module';
import type TableType from 'cli-table3';
import { visibleText } from '../domain/visible-text.js';

const closed = new AbortController();
let guarded = false;

/**
 * Set up once, by the CLI's entry: a reader that goes away (`berth ps | head -1`,
 * `| grep -q`) closes the pipe, and every write after that fails with EPIPE,
 * which unhandled would end berth with a stack in the middle of its work. The
 * output stops instead, quietly, and the command finishes what it does (a turn
 * is still recorded); a command that only produces output stops on `outputClosed()`.
 */
export function stopOutputWhenClosed(): void {
  if (guarded) return;
  guarded = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    // Another failure (a full disk under `> file`) is said once; a closed pipe is no news.
    if (!closed.signal.aborted && error.code !== 'EPIPE') process.stderr.write(`berth: the output could not be written: ${error.message}\n`);
    closed.abort();
  });
  // Nothing to tell when stderr's own reader is gone.
  process.stderr.on('error', () => {});
}

/** Aborts once stdout is closed: no one reads what berth writes any more. */
export function outputClosed(): AbortSignal {
  return closed.signal;
}

/** Every write to stdout goes here: nothing is written once the reader went away. */
export function writeOut(text: string): void {
  if (!closed.signal.aborted) process.stdout.write(text);
}

/**
 * JSON as berth prints it: JSON.stringify leaves DEL and the C1 controls raw,
 * and a terminal may act on C1 (U+009B starts a sequence like ESC [), so they
 * are escaped too; the value read back is the same.
 */
export function jsonText(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(/[\u007F-\u009F]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function printJson(value: unknown): void {
  writeOut(`${jsonText(value, 2)}\n`);
}

/** One JSON value on one line (a stream of events, a line each). */
export function printJsonLine(value: unknown): void {
  writeOut(`${jsonText(value)}\n`);
}

/** A line (or lines) of text: names, paths, a reply, an engine's words come from outside, so their controls are shown, never run. */
export function printLine(text: string): void {
  writeOut(`${visibleText(text)}\n`);
}

/** A plain table: no colours and no borders, so it reads the same when piped. */
export function printTable(head: string[], rows: string[][]): void {
  // Loaded on first use: --version and --help, which come through here too, start without it.
  const Table = createRequire(import.meta.url)('cli-table3') as typeof TableType;
  const table = new Table({
    head,
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '',
      right: '', 'right-mid': '', middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  table.push(...rows.map((row) => row.map((cell) => visibleText(cell, 'line'))));
  printLine(table.toString());
}

/** `3m ago`, `2h ago`, `5d ago`; `never` for null. */
export function formatAgo(iso: string | null, now = Date.now()): string {
  if (iso === null) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

/** 1536 → `1.5K`, 2147483648 → `2.0G`: binary units, as memory limits are set. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value}B` : `${value.toFixed(1)}${units[unit]}`;
}
