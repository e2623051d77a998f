import { createInterface } from 'node:readline';
import type { TranscriptEntry } from '../domain/chat.js';
import { createContext } from '../services/context.js';
import { formatChatEvent } from './chat-format.js';
import type { CommandHandler } from './command-table.js';
import { printJson, printJsonLine, printLine, writeOut } from './output.js';
import { visibleText } from '../domain/visible-text.js';
import { stopOnSignals } from './signals.js';
import { describeClaim } from '../domain/work.js';

/**
 * `berth chat <name> "<message>"`: one turn, printed as it streams (or as JSON
 * lines with --json); exit code 1 when the turn fails. Without a message, each
 * line read from stdin is one turn. While a turn of the project runs in
 * another berth, the turn waits (saying so) unless --no-wait; --new starts a
 * new conversation. Ctrl-C, SIGTERM and SIGHUP cancel the running turn,
 * record it as cancelled, and exit with the signal's code.
 */
export const chat: CommandHandler = async (input) => {
  const [name, message] = input.args as [string, string | undefined];
  const service = await createContext().chat(input.global);
  const json = input.options.json === true;
  const width = outputWidth();
  const show = (entry: TranscriptEntry) => {
    if (json) return printJsonLine(entry);
    const line = formatChatEvent(entry, width);
    if (line !== undefined) printLine(line);
  };
  const stop = stopOnSignals();
  let newConversation = input.options.new === true;
  const turn = async (text: string): Promise<boolean> => {
    const summary = await service.send(name, text, {
      signal: stop.signal,
      onEvent: show,
      wait: input.options['no-wait'] !== true,
      newConversation,
      onWait: (holder) => process.stderr.write(`berth: ${describeClaim(holder)} is running in ${name}: waiting for it to end…\n`),
    });
    newConversation = false;
    return summary.outcome === 'success';
  };
  const turns = async (): Promise<boolean> => {
    if (message !== undefined) return turn(message);
    let allSucceeded = true;
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    // A signal between two turns ends the reading too: no later line starts a turn.
    stop.signal.addEventListener('abort', () => lines.close(), { once: true });
    for await (const line of lines) {
      if (stop.received()) break;
      if (line.trim() === '') continue;
      allSucceeded = (await turn(line)) && allSucceeded;
    }
    return allSucceeded;
  };
  try {
    const succeeded = await turns();
    // After a signal, berth exits with its code, whatever the turn's outcome.
    return stop.exitCode() ?? (succeeded ? 0 : 1);
  } catch (error) {
    // Stopped while waiting for another berth's turn: the one line that says so, and the signal's code.
    if (stop.received() === undefined) throw error;
    process.stderr.write(`berth: ${error instanceof Error ? error.message : String(error)}\n`);
    return stop.exitCode();
  } finally {
    stop.dispose();
  }
};

export const history: CommandHandler = async (input) => {
  const [name] = input.args as [string];
  const context = createContext();
  await context.projects.require(name);
  const entries = await (await context.chat(input.global)).history(name);
  if (input.options.json) {
    for (const entry of entries) printJsonLine(entry);
    return;
  }
  if (entries.length === 0) {
    printLine(`no conversation with ${name} yet: berth chat ${name} "<message>" starts one`);
    return;
  }
  const width = outputWidth();
  for (const entry of entries) {
    const line = formatChatEvent(entry, width);
    if (line !== undefined) printLine(line);
  }
};

export const diff: CommandHandler = async (input) => {
  const [name] = input.args as [string];
  const project = await createContext().projects.require(name);
  const { workspaceDiff } = await import('../runtime/git.js');
  const text = await workspaceDiff(project.path);
  if (input.options.json) return printJson({ project: name, path: project.path, diff: text });
  if (text === '') return printLine(`no changes in ${project.path}`);
  // The files' contents are the agent's: shown, never run by the terminal; the colours are berth's.
  const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
  for (const line of text.replace(/\n$/, '').split('\n')) writeOut(`${colour ? coloured(visibleText(line)) : visibleText(line)}\n`);
};

const DIFF_COLOURS: Array<[RegExp, string]> = [
  [/^(\+\+\+|---|diff |index |new file|deleted file|similarity|rename )/, '1'],
  [/^@@/, '36'],
  [/^\+/, '32'],
  [/^-/, '31'],
];

function coloured(line: string): string {
  const code = DIFF_COLOURS.find(([pattern]) => pattern.test(line))?.[1];
  return code === undefined ? line : `\u001B[${code}m${line}\u001B[0m`;
}

/** The terminal's width; through a pipe, $COLUMNS as shells set it, else 100. */
function outputWidth(): number {
  return process.stdout.columns || Number(process.env.COLUMNS) || 100;
}
