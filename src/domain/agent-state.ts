/**
 * What a project's agent is doing, as the dashboard shows it at a glance:
 * working (a turn runs), waiting for you (a permission or a question),
 * done or failed (a turn ended since you last looked at its chat), idle.
 * Each has a symbol and a word, so it reads without colour.
 */
import type { TurnOutcome } from './chat.js';

export type AgentState = 'working' | 'waiting' | 'done' | 'failed' | 'idle';

export interface AgentStateFacts {
  /** A request of the project's agent waits for an answer. */
  waiting: boolean;
  turn?: { running: boolean; outcome?: TurnOutcome; endedAt?: number };
  /** When the user last had the project's chat open; undefined when never in this screen. */
  seenAt?: number;
}

export function agentStateOf({ waiting, turn, seenAt }: AgentStateFacts): AgentState {
  if (waiting) return 'waiting';
  if (turn?.running) return 'working';
  if (turn?.outcome === undefined || (seenAt !== undefined && (turn.endedAt ?? 0) <= seenAt)) return 'idle';
  return turn.outcome === 'success' ? 'done' : 'failed';
}

export const AGENT_STATE_LABELS: Record<AgentState, { symbol: string; word: string }> = {
  working: { symbol: '⟳', word: 'working' },
  waiting: { symbol: '?', word: 'waiting for you' },
  done: { symbol: '✓', word: 'done' },
  failed: { symbol: '✗', word: 'failed' },
  idle: { symbol: '·', word: 'idle' },
};
