/**
 * What berth needs of an agent CLI: how to call it for one turn, and how to
 * read its stream. Claude Code is the first; Codex CLI and Gemini CLI get their
 * own adapters behind the same interface.
 */
import type { ChatEvent } from '../domain/chat.js';

export interface AgentTurnRequest {
  message: string;
  /** The CLI's session id from an earlier turn: this turn continues that conversation. */
  sessionId: string | null;
  /** Where the CLI runs: some permissions are safe only in a container, where the agent is not root. */
  mode: 'workspace' | 'container';
  model?: string;
  permissionMode: string;
  allowedTools?: string[];
  disallowedTools?: string[];
}

/** How the agent reaches its model API, from the host's environment or settings. */
export interface AgentCredentials {
  apiKey?: string;
  baseUrl?: string;
}

export interface AgentAdapter {
  readonly id: string;
  /** Throws a one-line BerthError for a message this CLI cannot take (empty, a NUL, too long); checked before a turn starts. */
  checkMessage(message: string): void;
  /** The argv of one turn; the message is one argument, never through a shell. */
  commandLine(request: AgentTurnRequest): string[];
  /** Variables the CLI needs for one turn (never written into a container's configuration). */
  environment(credentials: AgentCredentials): Record<string, string>;
  createParser(): AgentStreamParser;
  /** The argv of a live session: a long-lived process that takes one message after another on its stdin. */
  sessionCommandLine(request: AgentSessionRequest): string[];
  /** The argv of the agent's own interactive TUI on the conversation `sessionId` (a new one of that id when `newConversation`). */
  interactiveCommandLine(request: AgentSessionRequest & { sessionId: string }, newConversation: boolean): string[];
  /**
   * Readies the agent's config in `hostDir` (where berth keeps it, mounted
   * at `start.configDir` in the container) so that its interactive TUI opens
   * on the conversation without first-run prompts; `workspace` is the folder
   * as the agent sees it. Resolves with what the TUI's environment needs to
   * read that config.
   */
  prepareInteractive(hostDir: string, start: { workspace: string; configDir: string; apiKey?: string }): Promise<Record<string, string>>;
  /** berth's side of a live session's protocol, spoken over the process's stdio. */
  createSession(input: AgentInput, options: AgentSessionOptions): AgentSession;
}

/** What a live session is started with: the conversation it continues and the rules it runs under. */
export type AgentSessionRequest = Omit<AgentTurnRequest, 'message'>;

/** The process's stdin, as the session writes to it. */
export interface AgentInput {
  write(text: string): void;
}

/** A tool call that the permission mode and the tool rules do not allow by themselves. */
export interface PermissionRequest {
  /** The agent's own id of the request. */
  id: string;
  tool: string;
  input: unknown;
}

/** Allowed with the call's own input, or with `input` in its place (a question's, with its answers). */
export type PermissionDecision = { allow: true; input?: unknown } | { allow: false; message: string };

export interface AgentSessionOptions {
  mode: 'workspace' | 'container';
  /**
   * Decides a permission request; without it, every such call is denied with
   * a message the agent sees. `withdrawn` aborts, its reason saying why, when
   * the agent no longer needs the answer (an interrupt, or its exit).
   */
  decide?: Decide;
}

export type Decide = (request: PermissionRequest, withdrawn: AbortSignal) => Promise<PermissionDecision>;

/**
 * A live agent process, spoken to over its stdio. One turn at a time: send()
 * starts one, and the turn ends with the `result` event that push() returns
 * (its caller queues the messages that come meanwhile). The process may stay
 * for the next turn.
 */
export interface AgentSession {
  /** Starts a turn with the user's message. */
  send(message: string): void;
  /** Asks the agent to stop the running turn; it ends, with its `result`, soon after. Rejects when the agent does not answer. */
  interrupt(): Promise<void>;
  /** Changes the permission mode of the live session (refused as commandLine refuses it). */
  setPermissionMode(mode: string): Promise<void>;
  setModel(model: string | null): Promise<void>;
  /** The process's stdout, in chunks of any size: the running turn's events (text deltas among them). */
  push(chunk: string): ChatEvent[];
  /** The process exited: what is left, and an error for a turn it did not finish. */
  end(exit: { exitCode: number | null; stderr: string; cancelled: boolean; timedOut: boolean }): ChatEvent[];
  sessionId(): string | null;
  /** The agent did not know the conversation it was asked to resume (it did nothing). */
  unknownSession(): boolean;
}

/** Turns the CLI's stdout, in chunks of any size, into events. */
export interface AgentStreamParser {
  push(chunk: string): ChatEvent[];
  /** The CLI exited: flushes what is left and reports a crash or a missing result. */
  end(exit: { exitCode: number | null; stderr: string; cancelled: boolean; timedOut: boolean }): ChatEvent[];
  /** The session id the stream announced, once it has. */
  sessionId(): string | null;
  /** The CLI does not know the session the turn asked to continue (it did nothing): the turn may start a new conversation. */
  unknownSession(): boolean;
}
