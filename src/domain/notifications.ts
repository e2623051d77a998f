/**
 * What berth tells the user when they are not looking: a project's agent
 * started waiting for them, finished a turn, or failed one (`notify.on`).
 * The control center rings the terminal's bell and sends a desktop
 * notification (OSC 9 and OSC 777, passed through tmux); the daemon runs
 * `notify.command`, an argv, with the event in its environment.
 */
import type { TranscriptEntry } from './chat.js';

export const NOTIFY_EVENTS = ['waiting', 'done', 'failed'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export interface Notification {
  project: string;
  event: NotifyEvent;
  message: string;
}

/** The notification a transcript entry of `project` makes, if any: a request that waits for a person, a turn's end. */
export function notificationFor(project: string, entry: TranscriptEntry): Notification | undefined {
  if (entry.type === 'permission_request' && entry.waiting) {
    const what = entry.questions && entry.questions.length > 0 ? 'has a question for you' : `waits for you: ${entry.tool}`;
    return { project, event: 'waiting', message: `${project} ${what}` };
  }
  if (entry.type !== 'turn_end') return undefined;
  if (entry.outcome === 'success') return { project, event: 'done', message: `${project} finished its turn` };
  // Cancelled by the user: they know.
  if (entry.outcome === 'cancelled') return undefined;
  return { project, event: 'failed', message: `${project}'s turn ${entry.outcome === 'timeout' ? 'timed out' : entry.outcome === 'interrupted' ? 'was interrupted' : 'failed'}` };
}

/** `waiting,failed` → the events; throws a one-line message for a word that is none. */
export function parseNotifyOn(text: string): NotifyEvent[] {
  const words = text.split(',').map((word) => word.trim()).filter((word) => word !== '');
  const unknown = words.find((word) => !(NOTIFY_EVENTS as readonly string[]).includes(word));
  if (unknown !== undefined) throw new Error(`unknown event "${unknown}": use ${NOTIFY_EVENTS.join(', ')} (comma-separated), or nothing for none`);
  return [...new Set(words)] as NotifyEvent[];
}

/** Whether notify.on asks for `event`; a malformed value (the file edited by hand) asks for none. */
export function notifies(settings: Readonly<Record<string, unknown>>, event: NotifyEvent): boolean {
  try {
    return parseNotifyOn(String(settings['notify.on'] ?? '')).includes(event);
  } catch {
    return false;
  }
}

/** notify.command's text, a JSON array of strings (the program first), as the argv it names; [] for none. */
export function parseCommandArgv(text: string): string[] {
  if (text.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('expected a JSON array of strings, the program first, such as ["ntfy","publish","berth"]');
  }
  if (!Array.isArray(value) || value.length === 0 || value.some((part) => typeof part !== 'string' || part.includes('\0')) || (value[0] as string) === '') {
    throw new Error('expected a JSON array of strings, the program first, such as ["ntfy","publish","berth"]');
  }
  return value as string[];
}

const BEL = '\u0007';
const ESC = '\u001B';

/** Controls out of a message that goes inside an escape sequence: it must not end it early. */
function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001F\u007F-\u009F;]/g, ' ');
}

/**
 * What the control center writes to its terminal for a notification: the
 * bell, then OSC 9 (iTerm2, Windows Terminal, kitty…) and OSC 777 (VTE,
 * foot, urxvt…). Inside tmux the two OSCs are wrapped in its passthrough
 * (shown when tmux's allow-passthrough is on), the bell goes as it is.
 */
export function terminalNotification(message: string, insideTmux: boolean): string {
  const text = plain(message);
  const osc = `${ESC}]9;${text}${BEL}${ESC}]777;notify;berth;${text}${BEL}`;
  if (!insideTmux) return `${BEL}${osc}`;
  return `${BEL}${ESC}Ptmux;${osc.replaceAll(ESC, `${ESC}${ESC}`)}${ESC}\\`;
}
