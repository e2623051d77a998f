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
