/**
 * The agent's own TUI on this terminal, where the agent runs: on the host in
 * the project's workspace, or in its container (as the agent user, with the
 * egress proxy), with the environment the chat service gave (AttachedAgent).
 */
import { BerthError } from '../domain/errors.js';
import type { Project } from '../domain/project.js';
import type { AttachedAgent } from './chat-service.js';
import { runOnTerminal } from '../runtime/workspace-shell.js';
import type { RuntimeService } from './runtime-service.js';

export type Attached = Omit<AttachedAgent, 'release'>;

/** The agent's TUI where the agent runs, on this terminal. */
export async function runAttached(attached: Attached, project: Project, runtime: () => Promise<RuntimeService>): Promise<number> {
  const [program, ...args] = attached.argv;
  if (program === undefined) throw new BerthError('the agent has no interactive TUI');
  if (attached.mode === 'container') return (await runtime()).shell(project.name, { argv: attached.argv, env: attached.env });
  return runOnTerminal(program, args, { cwd: project.path, env: { ...process.env, ...attached.env } });
}
