import { createInterface } from 'node:readline';
import type { TranscriptEntry } from '../domain/chat.js';
import { formatChatEvent } from './chat-format.js';
import type { CommandHandler } from './command-table.js';
import { printJson, printJsonLine, printLine, writeOut } from './output.js';
import { visibleText } from '../domain/visible-text.js';
import { stopOnSignals } from './signals.js';
import { BerthError } from '../domain/errors.js';
import type { TurnSummary } from '../services/chat-service.js';
import type { DaemonClient } from '../client/daemon-client.js';
import { connectToDaemon } from './daemon-connection.js';
import { askInTerminal } from './request-prompt.js';
import { resolvePaths } from '../store/paths.js';
import { ProjectRegistry, requireProject } from '../store/project-registry.js';

/**
 * `berth chat <name> "<message>"`: one turn, sent to the project's live agent
 * in the berth daemon (started if none runs) and printed as it streams (or as
 * JSON lines with --json); exit code 1 when the turn fails. Without a
 * message, each line read from stdin is one turn. While a turn of the
 * project runs, the message is queued (saying so) unless --no-wait; --new
 * starts a new conversation. Ctrl-C and SIGTERM stop the turn, record it as
 * cancelled, and exit with the signal's code; the terminal going away
 * (SIGHUP, kill -9) leaves the turn to finish in the daemon.
 */
export const chat: CommandHandler = async (input) => {
  const [name, message] = input.args as [string, string | undefined];
  // The registry alone: the daemon does the work, this client loads little.
  const paths = resolvePaths();
  await requireProject(new ProjectRegistry(paths.registry), name);
  const { agentAdapter } = await import('../agents/registry.js');
  const adapter = agentAdapter('claude');
  let connected: DaemonClient | undefined;
  const daemon = async () => (connected ??= await connectToDaemon(paths.home, input.global.engine));
  const json = input.options.json === true;
  const printer = new TurnPrinter(json, outputWidth());
  const stop = stopOnSignals();
  let newConversation = input.options.new === true;
  // A person is there to answer the agent: on a terminal (asked inline when the message is an argument), or a
  // script that reads the --json events and answers with berth approve/deny. Otherwise chat.unattended decides.
  const attended = json || process.stdin.isTTY === true;
  const inline = !json && message !== undefined && process.stdin.isTTY === true && process.stderr.isTTY === true;
  const prompts = new Map<string, AbortController>();
  // One prompt at a time on the terminal: requests that come together are asked in turn.
  let prompting: Promise<unknown> = Promise.resolve();
  const turn = async (text: string): Promise<boolean> => {
    // Refused here, before a daemon is started for it: a message the agent cannot take changes nothing.
    adapter.checkMessage(text);
    const client = await daemon();
    // Stopped while the daemon started: the message is not sent.
    if (stop.signal.aborted) return false;
    const route = `/v1/projects/${encodeURIComponent(name)}/messages?follow=1`;
    let summary: TurnSummary | undefined;
    let refused: string | undefined;
    let queuedId: string | undefined;
    let running = false;
    // Ctrl-C, SIGTERM: the turn is stopped (or the queued message taken back), and its end still read.
    const onStop = () => {
      if (stop.received() === 'SIGHUP') return;
      const call = running || queuedId === undefined
        ? client.call('POST', `/v1/projects/${encodeURIComponent(name)}/interrupt`)
        : client.call('DELETE', `/v1/projects/${encodeURIComponent(name)}/messages/${queuedId}`);
      call.catch(() => undefined);
    };
    stop.signal.addEventListener('abort', onStop, { once: true });
    const hangUp = new AbortController();
    stop.signal.addEventListener('abort', () => stop.received() === 'SIGHUP' && hangUp.abort(), { once: true });
    try {
      await client.stream('POST', route, { text, wait: input.options['no-wait'] !== true, newConversation, attended }, (event, data) => {
        if (event === 'queued') {
          const { id, position } = data as { id: string; position: number };
          queuedId = id;
          // Not queued behind another: it is the running turn from now, which an interrupt stops.
          running = position === 0;
          if (position > 0) process.stderr.write(`berth: a turn is running in ${name}: this message is queued (${ordinal(position)} in line)…\n`);
        } else if (event === 'chat') {
          const entry = (data as { entry: TranscriptEntry }).entry;
          running = true;
          printer.entry(entry);
          if (entry.type === 'permission_request') answerRequest(entry);
          // Answered (here, by another client, by a rule): its prompt goes.
          if (entry.type === 'permission_decision') prompts.get(entry.id)?.abort();
        } else if (event === 'delta') {
          running = true;
          printer.delta((data as { text: string }).text);
        } else if (event === 'summary') summary = data as TurnSummary;
        else if (event === 'refused') refused = (data as { error: string }).error;
      }, hangUp.signal);
    } finally {
      stop.signal.removeEventListener('abort', onStop);
      // The turn is over (or its stream cut): nothing it asked waits for this terminal any more.
      for (const controller of prompts.values()) controller.abort();
    }
    newConversation = false;
    if (hangUp.signal.aborted) return false;
    if (refused !== undefined) throw new BerthError(refused);
    if (!summary) throw new BerthError('the berth daemon went away during the turn (it stopped, or was killed)');
    return summary.outcome === 'success';
  };
  const answerRequest = (request: Extract<TranscriptEntry, { type: 'permission_request' }>): void => {
    if (!request.waiting) return;
    const answerWith = `berth approve ${name} ${request.id}${request.questions ? ' --answer TEXT' : ' [--always]'} or berth deny ${name} ${request.id} [--message TEXT]`;
    if (!inline) {
      if (!json) process.stderr.write(`berth: the agent waits for an answer: ${visibleText(answerWith, 'line')}\n`);
      return;
    }
    const controller = new AbortController();
    prompts.set(request.id, controller);
    prompting = prompting
      .then(() => (controller.signal.aborted ? undefined : askInTerminal(request, controller.signal)))
      .then(async (answer) => {
        if (answer === undefined) return;
        const route = `/v1/projects/${encodeURIComponent(name)}/requests/${encodeURIComponent(request.id)}`;
        await (await daemon()).call('POST', route, { ...answer, by: `berth chat (pid ${process.pid})` });
      })
      .catch((error: unknown) => process.stderr.write(`berth: ${error instanceof Error ? error.message : String(error)}\n`))
      .finally(() => prompts.delete(request.id));
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
    if (stop.received() === undefined) throw error;
    process.stderr.write(`berth: ${error instanceof Error ? error.message : String(error)}\n`);
    return stop.exitCode();
  } finally {
    stop.dispose();
  }
};

/** A turn's events as `berth chat` prints them: the model's text as it streams, the rest a line each. */
class TurnPrinter {
  /** The text streamed so far of the assistant's message being written. */
  private streamed = '';

  constructor(
    private readonly json: boolean,
    private readonly width: number,
  ) {}

  delta(text: string): void {
    if (this.json) return printJsonLine({ type: 'text_delta', text });
    this.streamed += text;
    writeOut(visibleText(text));
  }

  entry(entry: TranscriptEntry): void {
    if (this.json) return printJsonLine(entry);
    if (entry.type === 'text' && this.streamed !== '') {
      // Streamed already: the line is ended; what the deltas missed, if anything, follows.
      const rest = entry.text.startsWith(this.streamed) ? entry.text.slice(this.streamed.length) : `\n${entry.text}`;
      this.streamed = '';
      writeOut(`${visibleText(rest)}\n`);
      return;
    }
    if (this.streamed !== '') {
      this.streamed = '';
      writeOut('\n');
    }
    const line = formatChatEvent(entry, this.width);
    if (line !== undefined) printLine(line);
  }
}

function ordinal(position: number): string {
  if (position === 1) return 'next';
  const suffix = position % 100 >= 11 && position % 100 <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][position % 10] ?? 'th';
  return `${position}${suffix}`;
}

export const history: CommandHandler = async (input) => {
  const [name] = input.args as [string];
  // The services load here, not for berth chat (whose client loads only the registry).
  const { createContext } = await import('../services/context.js');
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
  const project = await requireProject(new ProjectRegistry(resolvePaths().registry), name);
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
