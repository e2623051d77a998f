/**
 * `berth attach <name>`: the project's conversation in the agent's own TUI
 * (`claude --resume <id>`), on this terminal, where the agent runs; the
 * daemon's live session steps aside until it exits, and the next message in
 * berth continues the conversation.
 */
import { BerthError } from '../domain/errors.js';
import { createContext } from '../services/context.js';
import type { CommandHandler } from './command-table.js';
import { connectToDaemon } from './daemon-connection.js';

export const attach: CommandHandler = async (input) => {
  const [name] = input.args as [string];
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new BerthError("the agent's own TUI needs a terminal; from a script use berth chat");
  const context = createContext();
  const project = await context.projects.require(name);
  const client = await connectToDaemon(context.paths.home, input.global.engine);
  const { attachThroughDaemon } = await import('../client/attached-agent.js');
  const code = await attachThroughDaemon(client, project, () => context.runtime(input.global));
  process.stderr.write(`berth: back from the agent's own TUI; berth chat ${name} continues the conversation\n`);
  return code;
};
