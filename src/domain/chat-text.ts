import type { ChangedFile, ChatEvent } from './chat.js';
import { visibleText } from './visible-text.js';

const CHANGE_MARK: Record<ChangedFile['kind'], string> = { created: '+', modified: '~', deleted: '-', renamed: '→' };

/**
 * One chat event as lines a person reads in a terminal: the assistant's text
 * as it is, one line per tool call and result, the changed files and the
 * cost at the end. Undefined for events that show nothing. Every text that
 * came from outside (the model, a tool, a file name) has its control
 * characters made visible: what a tool printed can never drive the terminal.
 */
export function formatChatEvent(event: ChatEvent, width = 100): string | undefined {
  switch (event.type) {
    case 'user':
      return `> ${visibleText(event.text).replace(/\n/g, '\n  ')}`;
    case 'status':
      return `… ${visibleText(event.text)}`;
    case 'session':
      return undefined;
    case 'text':
      return visibleText(event.text);
    case 'text_delta':
      // Shown as it streams by whoever follows it live; the whole text follows.
      return undefined;
    case 'tool_call':
      return clip(`● ${visibleText(event.name, 'line')}(${summarizeInput(event.input)})`, width);
    case 'tool_result':
      return clip(`  ⎿ ${event.ok ? 'ok' : `error: ${firstLine(event.content)}`}`, width);
    case 'permission_request':
      return requestLines(event);
    case 'permission_decision':
      return decisionLine(event);
    case 'result':
      return event.ok ? `✓ ${usageLine(event)}` : `✗ ${event.error ? firstLine(event.error) : 'the turn failed'} · ${usageLine(event)}`;
    case 'error':
      return `✗ ${visibleText(event.message)}`;
    case 'changed_files':
      if (event.files.length === 0) return 'no files changed';
      return `changed: ${event.files.map((file) => visibleText(`${CHANGE_MARK[file.kind]} ${file.from ? `${file.from} → ${file.path}` : file.path}`, 'line')).join(', ')}`;
    case 'turn_end':
      if (event.outcome === 'cancelled') return '✗ cancelled';
      if (event.outcome === 'timeout') return '✗ timed out';
      if (event.outcome === 'interrupted') return '✗ interrupted';
      return undefined;
  }
}

/** `? Bash wants to run:` and what it will do, indented; a question with its numbered options. */
function requestLines(event: Extract<ChatEvent, { type: 'permission_request' }>): string {
  if (event.questions && event.questions.length > 0) {
    return event.questions
      .map((question) => [`? ${visibleText(question.question, 'line')}${question.multiSelect ? ' (one or more)' : ''}`, ...question.options.map((option, index) => `  ${index + 1}. ${visibleText(option.label, 'line')}${option.description ? ` — ${visibleText(option.description, 'line')}` : ''}`)].join('\n'))
      .join('\n');
  }
  return [`? the agent asks to use ${visibleText(event.tool, 'line')}:`, ...visibleText(event.detail).split('\n').map((line) => `  ${line}`)].join('\n');
}

function decisionLine(event: Extract<ChatEvent, { type: 'permission_decision' }>): string {
  const by = `by ${visibleText(event.by, 'line')}`;
  if (!event.allow) return `✗ denied ${by}${event.message ? `: ${firstLine(event.message)}` : ''}`;
  if (event.answers) return `✓ answered ${by}: ${Object.values(event.answers).map((answer) => firstLine(answer)).join('; ')}`;
  return `✓ allowed ${by}${event.kept ? `, and from now on: ${visibleText(event.kept, 'line')}` : ''}`;
}

function usageLine(usage: { durationMs: number; turns: number; tokensIn: number; tokensOut: number; costUsd: number }): string {
  return [
    `${(usage.durationMs / 1000).toFixed(1)}s`,
    `${usage.turns} ${usage.turns === 1 ? 'turn' : 'turns'}`,
    `${compact(usage.tokensIn)} in / ${compact(usage.tokensOut)} out`,
    `$${usage.costUsd.toFixed(4)}`,
  ].join(' · ');
}

/** `{ file_path: 'a.txt', content: '…' }` → `file_path=a.txt, content=…`: short values first-line only. */
function summarizeInput(input: unknown): string {
  if (input === null || typeof input !== 'object') return firstLine(JSON.stringify(input) ?? '');
  return Object.entries(input as Record<string, unknown>)
    .map(([key, value]) => `${firstLine(key)}=${firstLine(typeof value === 'string' ? value : JSON.stringify(value) ?? '')}`)
    .join(', ');
}

function compact(count: number): string {
  return count >= 1000 ? `${(count / 1000).toFixed(1)}k` : String(count);
}

/** The first line, its controls visible (a tab a space): ` …` says more lines were left out. */
function firstLine(text: string): string {
  const [first = '', ...rest] = text.replace(/[\r\n]+$/, '').split('\n');
  const shown = visibleText(first.replace(/\r$/, ''), 'line');
  return rest.length > 0 ? `${shown} …` : shown;
}

function clip(line: string, width: number): string {
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}
