/**
 * What `berth chat` on a terminal asks when the agent waits for the user: a
 * tool call to allow once, always, or deny (with a message to the agent), or
 * the agent's question, answered with an option's number or in the user's
 * own words. The prompt goes when another client answers first.
 */
import { createInterface } from 'node:readline/promises';
import { answerFromChoice } from '../domain/approvals.js';
import { visibleText } from '../domain/visible-text.js';
import type { ChatEvent } from '../domain/chat.js';

type Request = Extract<ChatEvent, { type: 'permission_request' }>;

/** The answer to send, or undefined once `signal` aborts (answered elsewhere, the turn ended). */
export async function askInTerminal(request: Request, signal: AbortSignal): Promise<Record<string, unknown> | undefined> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Ctrl-C at the prompt stops the turn, as it does anywhere else in berth chat.
  terminal.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
  const ask = (prompt: string) => terminal.question(prompt, { signal });
  try {
    if (request.questions && request.questions.length > 0) {
      const answers: Record<string, string> = {};
      for (const question of request.questions) {
        let typed = '';
        while (typed.trim() === '') typed = await ask(`answer${question.multiSelect ? ' (numbers, comma-separated)' : ''}, or your own words: `);
        answers[question.question] = answerFromChoice(question, typed);
      }
      return { allow: true, answers };
    }
    for (;;) {
      const always = request.rule === undefined ? '' : ` · a always (${visibleText(request.rule, 'line')})`;
      const choice = (await ask(`allow? y once${always} · n deny: `)).trim().toLowerCase();
      if (choice === 'y' || choice === 'yes') return { allow: true };
      if ((choice === 'a' || choice === 'always') && request.rule !== undefined) return { allow: true, always: true };
      if (choice === 'n' || choice === 'no') {
        const message = (await ask('a message to the agent (Enter for none): ')).trim();
        return { allow: false, ...(message !== '' && { message }) };
      }
    }
  } catch (error) {
    if (signal.aborted) return undefined;
    throw error;
  } finally {
    terminal.close();
  }
}
