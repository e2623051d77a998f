import { createInterface } from 'node:readline';
import type { TranscriptEntry } from '../domain/chat.js';
import { createContext } from '../services/context.js';
import { formatChatEvent } from './chat-format.js';
import type { CommandHandler } from './command-table.js';
import { printJson, printLine } from './output.js';

/**
 * `berth chat <name> "<message>"`: one turn, printed as it streams (or as JSON
 * lines with --json); exit code 1 when the turn fails. Without a message, each
 * line read from stdin is one turn. Ctrl-C cancels the running turn.
 */
export const chat: CommandHandler = async (input) => {
  const [name, message] = input.args as [string, string | undefined];
  const service = await createContext().chat(input.global);
  const json = input.options.json === true;
  const width = process.stdout.columns || 100;
  const show = (entry: TranscriptEntry) => {
    if (json) return printLine(JSON.stringify(entry));
    const line = formatChatEvent(entry, width);
    if (line !== undefined) printLine(line);
  };
  const turn = async (text: string): Promise<boolean> => {
    const controller = new AbortController();
    const cancel = () => controller.abort();
    // `on`, not `once`: signal-exit (loaded with the registry's lock) re-raises
    // a signal that no other listener is left to handle, killing berth mid-cancel.
    process.on('SIGINT', cancel);
    try {
      const summary = await service.send(name, text, { signal: controller.signal, onEvent: show });
      return summary.outcome === 'success';
    } finally {
      process.off('SIGINT', cancel);
    }
  };
  if (message !== undefined) return (await turn(message)) ? 0 : 1;
  let allSucceeded = true;
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    allSucceeded = (await turn(line)) && allSucceeded;
  }
  return allSucceeded ? 0 : 1;
};

export const history: CommandHandler = async (input) => {
  const [name] = input.args as [string];
  const context = createContext();
  await context.projects.require(name);
  const entries = await (await context.chat(input.global)).history(name);
  if (input.options.json) {
    for (const entry of entries) printLine(JSON.stringify(entry));
    return;
  }
  if (entries.length === 0) {
    printLine(`no conversation with ${name} yet: berth chat ${name} "<message>" starts one`);
    return;
  }
  const width = process.stdout.columns || 100;
  for (const entry of entries) {
    const line = formatChatEvent(entry, width);
    if (line !== undefined) printLine(line);
  }
};

export const diff: CommandHandler = async (input) => {
  const [name] = input.args as [string];
  const project = await createContext().projects.require(name);
  const { workspaceDiff } = await import('../runtime/git.js');
  const text = await workspaceDiff(project.path, { color: process.stdout.isTTY === true && !process.env.NO_COLOR });
  if (input.options.json) printJson({ project: name, path: project.path, diff: text });
  else if (text === '') printLine(`no changes in ${project.path}`);
  else process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};
