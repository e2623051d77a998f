/**
 * A chat with a project's agent, in berth's own words: whatever CLI runs the
 * agent (Claude Code now; Codex, Gemini later), its stream becomes these events,
 * which the TUI shows, the CLI prints and the transcript keeps, one JSON line each.
 */

import type { AgentQuestion } from './approvals.js';

/** A change in a workspace between two points in time. */
export interface ChangedFile {
  /** Relative to the workspace, never escaping it. */
  path: string;
  kind: 'created' | 'modified' | 'deleted' | 'renamed';
  /** For a rename, the path before. */
  from?: string;
}

export interface TurnUsage {
  durationMs: number;
  /** Model round trips within the turn, as the CLI counts them. */
  turns: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
}

/** `interrupted`: the berth process that ran the turn ended before it (kill -9, a crash); a later berth recorded it. */
export type TurnOutcome = 'success' | 'error' | 'cancelled' | 'timeout' | 'interrupted';

export type ChatEvent =
  /** The user's message, as sent. */
  | { type: 'user'; text: string }
  /** berth's own progress, e.g. "starting the container". */
  | { type: 'status'; text: string }
  | { type: 'session'; sessionId: string; model: string; tools: string[] }
  | { type: 'text'; text: string }
  /**
   * A piece of the text the model is writing, as it streams. Live only: never
   * written to the transcript, where the whole `text` that follows it stands.
   */
  | { type: 'text_delta'; text: string }
  | { type: 'tool_call'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; id: string; ok: boolean; content: string }
  /**
   * The agent asks to use a tool, or puts a question (see domain/approvals).
   * `waiting`: the turn waits for a person's answer; false when chat.unattended denies it at once.
   */
  | { type: 'permission_request'; id: string; tool: string; input: unknown; detail: string; rule?: string; questions?: AgentQuestion[]; waiting: boolean }
  /** How a request was answered, and by whom: a client, a kept rule, or chat.unattended. */
  | { type: 'permission_decision'; id: string; allow: boolean; by: string; kept?: string; message?: string; answers?: Record<string, string> }
  /** The CLI's own account of the turn. */
  | ({ type: 'result'; ok: boolean; error?: string } & TurnUsage)
  /** Something went wrong that the CLI did not report itself: a malformed line, a crash, a timeout. */
  | { type: 'error'; message: string }
  | { type: 'changed_files'; files: ChangedFile[] }
  /** Always the last event of a turn. */
  | { type: 'turn_end'; outcome: TurnOutcome; sessionId: string | null };

/** An event as a transcript keeps it: with the time it arrived and the turn it belongs to. */
export type TranscriptEntry = ChatEvent & { time: string; turn: number };

/** Usage added up over a project's turns, kept with the project. */
export interface ProjectUsage {
  turns: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  agentMs: number;
}

export const NO_USAGE: ProjectUsage = { turns: 0, tokensIn: 0, tokensOut: 0, costUsd: 0, agentMs: 0 };

export function addUsage(total: ProjectUsage, turn: TurnUsage): ProjectUsage {
  return {
    turns: total.turns + 1,
    tokensIn: total.tokensIn + turn.tokensIn,
    tokensOut: total.tokensOut + turn.tokensOut,
    costUsd: total.costUsd + turn.costUsd,
    agentMs: total.agentMs + turn.durationMs,
  };
}

/**
 * `Read, Bash(git add, commit)` → [`Read`, `Bash(git add, commit)`]: a comma
 * inside a rule's parentheses belongs to the rule.
 */
export function splitToolRules(text: string): string[] {
  const rules: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth += 1;
    if (char === ')') depth = Math.max(0, depth - 1);
    if (char === ',' && depth === 0) {
      rules.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  rules.push(current);
  return rules.map((rule) => rule.trim()).filter((rule) => rule.length > 0);
}
