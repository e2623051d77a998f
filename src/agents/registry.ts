/** The agent CLIs berth can drive, by the id a project's settings name. */
import { BerthError } from '../domain/errors.js';
import { ClaudeCodeAdapter } from './claude/claude-adapter.js';
import type { AgentAdapter } from './types.js';

export interface AgentAdapterOptions {
  /** The CLI's program, when it is not on the PATH under its usual name (tests pass the devDependency's). */
  binary?: string;
}

const ADAPTERS: Record<string, (options: AgentAdapterOptions) => AgentAdapter> = {
  claude: (options) => new ClaudeCodeAdapter(options),
};

export const AGENT_IDS: readonly string[] = Object.keys(ADAPTERS);

export function agentAdapter(id: string, options: AgentAdapterOptions = {}): AgentAdapter {
  const create = Object.hasOwn(ADAPTERS, id) ? ADAPTERS[id] : undefined;
  if (create === undefined) throw new BerthError(`unknown agent "${id}": berth knows ${AGENT_IDS.join(', ')}`);
  return create(options);
}
