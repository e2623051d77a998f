/**
 * berth's side of a live Claude Code session: one `claude -p --input-format stream-json`
 * process (see ClaudeCodeAdapter.sessionCommandLine) that takes one message after another
 * on its stdin and answers on its stdout, spoken to as Claude Code 2.1.197 does (checked
 * against the real CLI, see test/integration/claude-live-cli.test.ts). Every line is JSON:
 *
 * berth writes
 *   {"type":"user","session_id":"","message":{"role":"user","content":[{"type":"text","text"}]},"parent_tool_use_id":null}
 *   {"type":"control_request","request_id","request":{"subtype":"interrupt"|"set_permission_mode","mode"|"set_model","model"}}
 *   {"type":"control_response","response":{"subtype":"success","request_id","response":{"behavior":"allow","updatedInput"}|{"behavior":"deny","message"}}}
 *   {"type":"control_response","response":{"subtype":"error","request_id","error"}}
 * the CLI writes, besides a turn's stream (stream-parser.ts), which ends with its result
 *   {"type":"control_response","response":{"subtype":"success","request_id","response"?}} (or "error", with "error")
 *   {"type":"control_request","request_id","request":{"subtype":"can_use_tool","tool_name","input","tool_use_id",...}}
 *   {"type":"control_cancel_request","request_id"}: it no longer needs that answer (an interrupt came)
 *
 * What the CLI does, and the choices made on it:
 * - It needs no `initialize` request (the SDK sends one for hooks and MCP servers, which
 *   berth has none of): messages, control requests and permission requests all work
 *   without it, before and between turns, and the first turn starts no later.
 * - An interrupt is answered within milliseconds, the turn then ends with an
 *   error_during_execution result, and the process takes the next message in the same
 *   conversation. While no turn runs there is nothing to interrupt and nothing is sent
 *   (a CLI keeps an interrupt that comes before a turn for the turn that follows).
 * - set_permission_mode takes any string: the mode is checked here, as on the command line.
 * - A permission answer that allows must carry `updatedInput`, or the CLI fails the tool call.
 * - A --resume of a conversation it does not have: it prints a result naming it and exits
 *   at once, without waiting for a message.
 */
import type { ChatEvent } from '../../domain/chat.js';
import { BerthError, messageOf } from '../../domain/errors.js';
import type { AgentInput, AgentSession, AgentSessionOptions, PermissionDecision } from '../types.js';
import { checkedMessage, checkedPermissionMode, checkedValue } from './arguments.js';
import { ClaudeStreamParser, isObject, text, type CliExit, type Json } from './stream-parser.js';

/** How long berth waits for the answer to a control request: the CLI answers within milliseconds, even mid-stream. */
export const CONTROL_TIMEOUT_MS = 5_000;

export interface ClaudeLiveSessionOptions extends AgentSessionOptions {
  controlTimeoutMs?: number;
}

/** What the agent reads when a tool call is denied without asking anyone. */
export function deniedMessage(tool: string): string {
  return `berth denied ${tool}: not allowed by the permission mode (claude.permissionMode) or the tool rules (claude.allowedTools)`;
}

type PermissionAnswer = { behavior: 'allow'; updatedInput: Json } | { behavior: 'deny'; message: string };

interface PendingControl {
  subtype: string;
  resolve: (response: Json) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class ClaudeLiveSession implements AgentSession {
  private readonly parser = new ClaudeStreamParser({ live: { onControl: (line) => this.readControl(line) } });
  private readonly controlTimeoutMs: number;
  /** berth's control requests that wait for their answer, by request_id. */
  private readonly pending = new Map<string, PendingControl>();
  /** The CLI's permission requests that wait for options.decide. */
  private readonly deciding = new Map<string, AbortController>();
  private requestCount = 0;
  /** The running turn was asked to stop: its result reads as interrupted. */
  private interrupting = false;
  private ended = false;

  constructor(
    private readonly input: AgentInput,
    private readonly options: ClaudeLiveSessionOptions,
  ) {
    this.controlTimeoutMs = options.controlTimeoutMs ?? CONTROL_TIMEOUT_MS;
  }

  send(message: string): void {
    checkedMessage(message, true);
    if (this.ended) throw new BerthError('claude has exited: the message was not sent');
    // Sent while a turn runs, the CLI would fold the message into that turn: one result for two messages.
    if (this.parser.turnRunning()) throw new BerthError('a turn is running: send the message once it has ended');
    this.parser.beginTurn();
    this.interrupting = false;
    this.write({ type: 'user', session_id: '', message: { role: 'user', content: [{ type: 'text', text: message }] }, parent_tool_use_id: null });
  }

  async interrupt(): Promise<void> {
    if (!this.parser.turnRunning()) return;
    this.interrupting = true;
    await this.request({ subtype: 'interrupt' });
  }

  async setPermissionMode(mode: string): Promise<void> {
    await this.request({ subtype: 'set_permission_mode', mode: checkedPermissionMode(mode, this.options.mode) });
  }

  /** null (or '') goes back to the model the session started with. */
  async setModel(model: string | null): Promise<void> {
    await this.request({ subtype: 'set_model', model: model === null || model === '' ? null : checkedValue('model', model) });
  }

  push(chunk: string): ChatEvent[] {
    if (this.ended) return [];
    return this.parser.push(chunk).map((event) => this.interrupted(event));
  }

  end(exit: CliExit): ChatEvent[] {
    if (this.ended) return [];
    const events = this.parser.end(exit).map((event) => this.interrupted(event));
    this.ended = true;
    for (const withdrawn of this.deciding.values()) withdrawn.abort('the agent exited');
    this.deciding.clear();
    for (const [id, control] of this.pending) this.settle(id)?.reject(new BerthError(`claude exited before it answered the ${control.subtype} request`));
    return events;
  }

  sessionId(): string | null {
    return this.parser.sessionId();
  }

  unknownSession(): boolean {
    return this.parser.unknownSession();
  }

  /** The CLI words an interrupted turn's end as an error of its own (error_during_execution, aborted_streaming). */
  private interrupted(event: ChatEvent): ChatEvent {
    return event.type === 'result' && !event.ok && this.interrupting ? { ...event, error: 'the turn was interrupted' } : event;
  }

  private request(request: Json & { subtype: string }): Promise<Json> {
    if (this.ended) return Promise.reject(new BerthError(`claude has exited: the ${request.subtype} request was not sent`));
    this.requestCount += 1;
    const id = `berth-${this.requestCount}`;
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(id)?.reject(new BerthError(`claude did not answer the ${request.subtype} request within ${this.controlTimeoutMs / 1000} s`));
      }, this.controlTimeoutMs);
      this.pending.set(id, { subtype: request.subtype, resolve, reject, timer });
      this.write({ type: 'control_request', request_id: id, request });
    });
  }

  /** Takes a waiting request off the list: its answer, its timeout or the exit, whichever comes first. */
  private settle(id: string): PendingControl | undefined {
    const control = this.pending.get(id);
    if (control === undefined) return undefined;
    this.pending.delete(id);
    clearTimeout(control.timer);
    return control;
  }

  private readControl(line: Json): ChatEvent[] {
    const id = text(line.request_id);
    if (line.type === 'control_cancel_request') {
      this.deciding.get(id)?.abort('the agent withdrew it (interrupted)');
      this.deciding.delete(id);
      return [];
    }
    if (line.type === 'control_response') {
      const response = isObject(line.response) ? line.response : {};
      // An answer to nothing berth waits for (a late one, after its timeout) is dropped.
      const control = this.settle(text(response.request_id));
      if (response.subtype === 'success') control?.resolve(isObject(response.response) ? response.response : {});
      else control?.reject(new BerthError(`claude refused the ${control.subtype} request: ${text(response.error) || 'no reason given'}`));
      return [];
    }
    const request = isObject(line.request) ? line.request : {};
    if (request.subtype === 'can_use_tool') return this.askPermission(id, request);
    this.write({ type: 'control_response', response: { subtype: 'error', request_id: id, error: `berth does not handle ${text(request.subtype) || 'this'} request` } });
    return [];
  }

  private askPermission(id: string, request: Json): ChatEvent[] {
    const tool = text(request.tool_name) || 'a tool';
    const input = isObject(request.input) ? request.input : {};
    const decide = this.options.decide;
    if (decide === undefined) {
      const message = deniedMessage(tool);
      this.answerPermission(id, { behavior: 'deny', message });
      return [{ type: 'status', text: message }];
    }
    const withdrawn = new AbortController();
    this.deciding.set(id, withdrawn);
    Promise.resolve()
      .then(() => decide({ id, tool, input }, withdrawn.signal))
      .then(
        (decision: PermissionDecision): PermissionAnswer =>
          decision.allow ? { behavior: 'allow', updatedInput: (decision.input as Json | undefined) ?? input } : { behavior: 'deny', message: decision.message },
        (error: unknown): PermissionAnswer => ({ behavior: 'deny', message: `berth could not decide on ${tool}: ${messageOf(error)}` }),
      )
      .then((answer) => {
        // Withdrawn by the CLI (an interrupt) or gone with the process: nobody waits for the answer.
        if (this.deciding.delete(id)) this.answerPermission(id, answer);
      });
    // The decider shows the request to whoever answers it.
    return [];
  }

  private answerPermission(id: string, answer: PermissionAnswer): void {
    this.write({ type: 'control_response', response: { subtype: 'success', request_id: id, response: answer } });
  }

  /** A process that has died takes nothing, and says so through its exit (end()): a failed write is no error here. */
  private write(value: Json): void {
    if (this.ended) return;
    try {
      this.input.write(`${JSON.stringify(value)}\n`);
    } catch {
      // The pipe is closed: the exit follows.
    }
  }
}
