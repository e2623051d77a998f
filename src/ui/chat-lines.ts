/**
 * A conversation as the lines the chat screen draws, wrapped to its width.
 * Pure: the same entries and width always give the same lines, with stable
 * keys so that React keeps the rows it drew already.
 */
import type { ChatEvent, TranscriptEntry } from '../domain/chat.js';
import { formatChatEvent } from '../domain/chat-text.js';
import { visibleText } from '../domain/visible-text.js';
import type { Tone } from './theme.js';

export interface ChatLine {
  key: string;
  text: string;
  tone?: Tone;
  bold?: boolean;
  dim?: boolean;
}

type Look = Omit<ChatLine, 'key' | 'text'>;

function lookOf(entry: ChatEvent): Look {
  switch (entry.type) {
    case 'user':
      return { bold: true, tone: 'accent' };
    case 'status':
      return { dim: true };
    case 'tool_call':
      return { tone: 'busy' };
    case 'tool_result':
      return entry.ok ? { dim: true } : { tone: 'bad' };
    case 'error':
      return { tone: 'bad' };
    case 'result':
      return entry.ok ? { tone: 'good' } : { tone: 'bad' };
    case 'changed_files':
      return { tone: 'warn' };
    case 'permission_request':
      return { tone: 'warn', bold: true };
    case 'permission_decision':
      return entry.allow ? { tone: 'good' } : { tone: 'bad' };
    case 'turn_end':
      return { tone: 'bad' };
    default:
      return {};
  }
}

const usableWidth = (width: number) => Math.max(10, width);

function eventLines(event: ChatEvent, text: string, key: string, width: number): ChatLine[] {
  const look = lookOf(event);
  return wrap(text, width).map((line, part) => ({ key: `${key}-${part}`, text: line, ...look }));
}

export function chatLines(entries: readonly TranscriptEntry[], width: number): ChatLine[] {
  const lines: ChatLine[] = [];
  const usable = usableWidth(width);
  entries.forEach((entry, index) => {
    const text = formatChatEvent(entry, usable);
    if (text === undefined) return;
    if (entry.type === 'user' && lines.length > 0) lines.push({ key: `${index}-gap`, text: '' });
    lines.push(...eventLines(entry, text, String(index), usable));
  });
  return lines;
}

/** Follows the text the model is still writing. */
export const WRITING_MARK = '▍';

/** The text the model is writing now: drawn as its finished text will be, marked as still being written. */
export function streamingLines(text: string, width: number): ChatLine[] {
  const event: ChatEvent = { type: 'text', text };
  const usable = usableWidth(width);
  return eventLines(event, `${formatChatEvent(event, usable) ?? ''}${WRITING_MARK}`, 'streaming', usable);
}

/**
 * Messages waiting for the running turn, the next first, as at most `rows`
 * rows of `queued: <first line…>`. When they do not all fit, the last rows
 * say how many are left out and show the last one: the one a take-back takes.
 */
export function queuedLines(queued: readonly { text: string }[], rows: number): string[] {
  const line = (text: string) => {
    const [first = '', ...more] = text.split('\n').filter((part) => part.trim() !== '');
    return `queued: ${visibleText(first.replace(/^ +| +$/g, ''), 'line')}${more.length > 0 ? '…' : ''}`;
  };
  if (queued.length <= rows) return queued.map((message) => line(message.text));
  if (rows < 2) return rows === 1 ? [`queued: ${queued.length} messages`] : [];
  const head = queued.slice(0, rows - 2).map((message) => line(message.text));
  return [...head, `queued: … ${queued.length - head.length - 1} more`, line(queued.at(-1)!.text)];
}

/** Word-wraps text to `width` columns; words longer than a line are cut. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const paragraph of text.replace(/\t/g, '  ').split('\n')) {
    // The indent of a line (a tool result's, a code block's) is kept on its first row.
    const indent = /^ */.exec(paragraph)![0].slice(0, Math.floor(width / 2));
    let line = indent;
    for (const word of paragraph.slice(indent.length).split(' ')) {
      let rest = word;
      while (rest.length > width) {
        if (line !== '') {
          out.push(line);
          line = '';
        }
        out.push(rest.slice(0, width));
        rest = rest.slice(width);
      }
      if (line.trim() === '') line += rest;
      else if (line.length + 1 + rest.length <= width) line += ` ${rest}`;
      else {
        out.push(line);
        line = rest;
      }
    }
    out.push(line);
  }
  return out;
}

/** The lines to show of `total` in `height` rows, `offset` lines up from the bottom (0 follows the end). */
export function scrollWindow(total: number, height: number, offset: number): { start: number; end: number } {
  const rows = Math.max(0, height);
  const clamped = Math.max(0, Math.min(offset, Math.max(0, total - rows)));
  const end = total - clamped;
  return { start: Math.max(0, end - rows), end };
}
