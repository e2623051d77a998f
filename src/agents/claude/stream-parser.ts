/**
 * Reads Claude Code's `--output-format stream-json --verbose` output (one JSON
 * object per line) into berth's chat events. Shapes as Claude Code 2.1.197
 * prints them (see test/fixtures/claude-streams/):
 *   {"type":"system","subtype":"init","session_id","model","tools",...}
 *   {"type":"system","subtype":"api_retry","attempt","max_retries","retry_delay_ms","error_status","error"}
 *   {"type":"assistant","message":{"content":[one text or tool_use block]},"parent_tool_use_id","error"?}
 *   {"type":"user","message":{"content":[{"type":"tool_result","tool_use_id","content","is_error"?}]}}
 *   {"type":"result","subtype","is_error","result"?,"errors"?,"duration_ms","num_turns","total_cost_usd","usage","modelUsage"}
 * Anything else (sub-agent task notices, hooks, status lines) is not berth's business and is skipped.
 *
 * A live session (`--input-format stream-json`, see live-session.ts) reads the same lines
 * with the `live` option: a turn begins with beginTurn() and ends with its result, after
 * which the parser goes on for the next one (each turn repeats the init line); with
 * --include-partial-messages the main agent's text also streams as
 *   {"type":"stream_event","event":{"type":"content_block_delta","delta":{"type":"text_delta","text"}},"parent_tool_use_id":null}
 * and the control protocol's lines (control_request, control_response,
 * control_cancel_request) go to the session. Without `live`, stream events are skipped.
 */
import type { ChatEvent } from '../../domain/chat.js';
import type { AgentStreamParser } from '../types.js';

/** A tool result longer than this is cut: the event is for showing, and a Read of a big file would flood the transcript. */
export const TOOL_RESULT_LIMIT = 4096;
/** A line longer than this is dropped rather than buffered without end (a base64 image is a few MB). */
export const MAX_LINE_LENGTH = 64 * 1024 * 1024;
/** How much of a malformed line or of stderr an error message quotes. */
const QUOTE_LENGTH = 120;

export type Json = Record<string, unknown>;

/** How the CLI's process ended, as the runtime reports it. */
export type CliExit = Parameters<AgentStreamParser['end']>[0];

export interface ClaudeStreamParserOptions {
  maxLineLength?: number;
  /** Reads a live session's stream: its control lines go to onControl, whose events join the stream's. */
  live?: { onControl(line: Json): ChatEvent[] };
}

export class ClaudeStreamParser implements AgentStreamParser {
  private readonly maxLineLength: number;
  private readonly live: ClaudeStreamParserOptions['live'];
  /** The start of a line whose newline has not arrived yet. */
  private partial = '';
  /** Set while skipping the rest of a line that grew past MAX_LINE_LENGTH. */
  private skippingLongLine = false;
  private announcedSession: string | null = null;
  /** A turn has begun and its result has not come: an exit now cuts it short. One-shot, the process is the turn. */
  private turnOpen: boolean;
  private sessionNotFound = false;
  private ended = false;

  constructor(options: ClaudeStreamParserOptions = {}) {
    this.maxLineLength = options.maxLineLength ?? MAX_LINE_LENGTH;
    this.live = options.live;
    this.turnOpen = this.live === undefined;
  }

  /** A live session sent a message: the stream owes a result. */
  beginTurn(): void {
    this.turnOpen = true;
  }

  turnRunning(): boolean {
    return this.turnOpen && !this.ended;
  }

  push(chunk: string): ChatEvent[] {
    if (this.ended) return [];
    const events: ChatEvent[] = [];
    let start = 0;
    for (let newline = chunk.indexOf('\n'); newline !== -1; newline = chunk.indexOf('\n', start)) {
      const tail = chunk.slice(start, newline);
      start = newline + 1;
      if (this.skippingLongLine) {
        this.skippingLongLine = false;
        continue;
      }
      const line = this.partial + tail;
      this.partial = '';
      events.push(...this.readLine(line));
    }
    if (!this.skippingLongLine) {
      this.partial += chunk.slice(start);
      if (this.partial.length > this.maxLineLength) {
        events.push({ type: 'error', message: `claude printed a line longer than ${describeLength(this.maxLineLength)}; berth skipped it` });
        this.partial = '';
        this.skippingLongLine = true;
      }
    }
    return events;
  }

  end(exit: CliExit): ChatEvent[] {
    if (this.ended) return [];
    const events = this.skippingLongLine ? [] : this.readLine(this.partial);
    this.partial = '';
    this.ended = true;
    if (this.turnOpen) events.push({ type: 'error', message: describeMissingResult(exit) });
    return events;
  }

  sessionId(): string | null {
    return this.announcedSession;
  }

  unknownSession(): boolean {
    return this.sessionNotFound;
  }

  private readLine(raw: string): ChatEvent[] {
    // CRLF and blank lines: JSON ignores the whitespace around a value anyway.
    const line = raw.trim();
    if (line === '') return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    if (!isObject(parsed)) return [{ type: 'error', message: `claude printed a line berth cannot read: ${quote(line)}` }];
    switch (parsed.type) {
      case 'system':
        return this.readSystem(parsed);
      case 'assistant':
        return readAssistant(parsed);
      case 'user':
        return readToolResults(parsed);
      case 'result':
        this.turnOpen = false;
        // Not a failure of the turn: the caller starts a new conversation instead (see unknownSession).
        if (isUnknownSession(parsed)) {
          this.sessionNotFound = true;
          return [];
        }
        return [readResult(parsed)];
      case 'stream_event':
        return this.live === undefined ? [] : readTextDelta(parsed);
      case 'control_request':
      case 'control_response':
      case 'control_cancel_request':
        return this.live?.onControl(parsed) ?? [];
      default:
        return [];
    }
  }

  private readSystem(line: Json): ChatEvent[] {
    if (line.subtype === 'init') {
      const sessionId = text(line.session_id);
      // Without an id there is no session to continue: better none than an empty one kept with the project.
      if (sessionId === '') return [];
      this.announcedSession = sessionId;
      const tools = Array.isArray(line.tools) ? line.tools.filter((tool): tool is string => typeof tool === 'string') : [];
      return [{ type: 'session', sessionId, model: text(line.model), tools }];
    }
    if (line.subtype === 'api_retry') return [{ type: 'status', text: describeRetry(line) }];
    return [];
  }
}

function readAssistant(line: Json): ChatEvent[] {
  // An API error comes as a synthetic assistant message whose text the result repeats: show it once, as the error.
  if (line.error !== undefined && line.error !== null) return [];
  // A sub-agent's narration is not the agent talking to the user; its tool calls are real work and are shown.
  const fromSubAgent = typeof line.parent_tool_use_id === 'string';
  const events: ChatEvent[] = [];
  for (const block of contentBlocks(line)) {
    if (block.type === 'text' && !fromSubAgent && text(block.text) !== '') events.push({ type: 'text', text: text(block.text) });
    if (block.type === 'tool_use') events.push({ type: 'tool_call', id: text(block.id), name: text(block.name), input: block.input ?? {} });
  }
  return events;
}

/** Only the main agent's text: a sub-agent's narration is not shown (see readAssistant). */
function readTextDelta(line: Json): ChatEvent[] {
  if (typeof line.parent_tool_use_id === 'string') return [];
  const event = isObject(line.event) ? line.event : {};
  const delta = isObject(event.delta) ? event.delta : {};
  if (event.type !== 'content_block_delta' || delta.type !== 'text_delta' || text(delta.text) === '') return [];
  return [{ type: 'text_delta', text: text(delta.text) }];
}

function readToolResults(line: Json): ChatEvent[] {
  return contentBlocks(line)
    .filter((block) => block.type === 'tool_result')
    .map((block): ChatEvent => ({
      type: 'tool_result',
      id: text(block.tool_use_id),
      ok: block.is_error !== true,
      content: truncate(flatten(block.content), TOOL_RESULT_LIMIT),
    }));
}

/** `--resume` of a session this CLI (its ~/.claude) does not have: it ends at once, having done nothing. */
function isUnknownSession(line: Json): boolean {
  const errors = Array.isArray(line.errors) ? line.errors : [];
  return count(line.num_turns) === 0 && errors.some((error) => typeof error === 'string' && error.startsWith('No conversation found with session ID'));
}

function readResult(line: Json): ChatEvent {
  const ok = line.is_error !== true && !text(line.subtype).startsWith('error');
  const tokens = tokenCounts(line);
  return {
    type: 'result',
    ok,
    ...(ok ? {} : { error: resultError(line) }),
    durationMs: count(line.duration_ms),
    turns: count(line.num_turns),
    tokensIn: tokens.in,
    tokensOut: tokens.out,
    costUsd: count(line.total_cost_usd),
  };
}

/**
 * `modelUsage` counts every model the turn used, sub-agents included, and matches
 * total_cost_usd; `usage` counts the main thread only and reads 0 after a budget stop.
 */
function tokenCounts(line: Json): { in: number; out: number } {
  const perModel = isObject(line.modelUsage) ? Object.values(line.modelUsage).filter(isObject) : [];
  if (perModel.length > 0) {
    return perModel.reduce<{ in: number; out: number }>(
      (sum, model) => ({
        in: sum.in + count(model.inputTokens) + count(model.cacheReadInputTokens) + count(model.cacheCreationInputTokens),
        out: sum.out + count(model.outputTokens),
      }),
      { in: 0, out: 0 },
    );
  }
  const usage = isObject(line.usage) ? line.usage : {};
  return {
    in: count(usage.input_tokens) + count(usage.cache_read_input_tokens) + count(usage.cache_creation_input_tokens),
    out: count(usage.output_tokens),
  };
}

/**
 * API errors arrive with subtype "success", is_error and the message in `result`; stops
 * (max turns, budget, a missing session, an interrupt) with an error_* subtype and `errors`.
 */
function resultError(line: Json): string {
  const message = text(line.result).trim();
  if (message !== '') return message;
  const errors = Array.isArray(line.errors)
    ? line.errors.filter((error): error is string => typeof error === 'string' && error.trim() !== '' && !error.startsWith('[ede_diagnostic]'))
    : [];
  if (errors.length > 0) return errors.join('; ');
  const reason = text(line.terminal_reason);
  const subtype = text(line.subtype) || 'an error';
  return `claude ended the turn with ${subtype}${reason === '' ? '' : ` (${reason})`}`;
}

function describeRetry(line: Json): string {
  const status = typeof line.error_status === 'number' ? `the API answered ${line.error_status}` : 'the API request failed';
  const kind = text(line.error);
  const seconds = Math.round(count(line.retry_delay_ms) / 100) / 10;
  return `${status}${kind === '' ? '' : ` (${kind})`}; retry ${count(line.attempt)} of ${count(line.max_retries)} in ${seconds} s`;
}

/** Shell-style exit codes the CLI or its runtime produce, in words. */
const EXIT_CODE_MEANINGS: Record<number, string> = {
  126: 'cannot be executed',
  127: 'command not found: is Claude Code installed where the agent runs?',
  130: 'interrupted',
  137: 'killed with SIGKILL: out of memory, or from outside',
  143: 'terminated',
};

function describeMissingResult(exit: CliExit): string {
  let what: string;
  if (exit.cancelled) what = 'the turn was cancelled';
  else if (exit.timedOut) what = 'the turn timed out';
  else if (exit.exitCode === null) what = 'claude was killed by a signal';
  else {
    const meaning = EXIT_CODE_MEANINGS[exit.exitCode];
    what = `claude exited with code ${exit.exitCode}${meaning === undefined ? '' : ` (${meaning})`}`;
  }
  const lastStderrLine = lastLine(exit.stderr);
  return `${what} before it reported a result${lastStderrLine === '' ? '' : `: ${quote(lastStderrLine)}`}`;
}

function describeLength(chars: number): string {
  return chars >= 1024 * 1024 ? `${Math.round(chars / 1024 / 1024)} MB` : `${chars} characters`;
}

function lastLine(output: string): string {
  // eslint-disable-next-line no-control-regex -- colours and cursor moves are noise in a one-line message
  const plain = output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  return plain.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '').at(-1) ?? '';
}

/** Tool results are a string, or blocks (text, images) when a tool returns more than text. */
function flatten(content: unknown): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return JSON.stringify(content);
  return content
    .map((block: unknown) => {
      if (!isObject(block)) return String(block);
      if (block.type === 'text') return text(block.text);
      return `[${text(block.type) || 'content'}]`;
    })
    .join('\n');
}

export function truncate(value: string, limit: number): string {
  if (value.length <= limit) return value;
  // Do not cut a surrogate pair in two.
  const end = /[\uD800-\uDBFF]/.test(value.charAt(limit - 1)) ? limit - 1 : limit;
  return `${value.slice(0, end)}… (${value.length - end} more characters)`;
}

function quote(value: string): string {
  return JSON.stringify(truncate(value, QUOTE_LENGTH));
}

function contentBlocks(line: Json): Json[] {
  const content = isObject(line.message) ? line.message.content : undefined;
  return Array.isArray(content) ? content.filter(isObject) : [];
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
