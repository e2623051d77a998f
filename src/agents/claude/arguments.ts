/**
 * What berth lets through to Claude Code, on its command line (claude-adapter.ts) or
 * on a live session's stdin (live-session.ts): each check throws a one-line BerthError.
 */
import { BerthError } from '../../domain/errors.js';

/** The choices of `--permission-mode` in 2.1.197 (its set_permission_mode takes any string: berth checks). */
export const CLAUDE_PERMISSION_MODES: readonly string[] = ['acceptEdits', 'auto', 'bypassPermissions', 'default', 'dontAsk', 'plan'];

/** Linux's MAX_ARG_STRLEN (32 pages) counts the terminating NUL: a longer argument fails with E2BIG. */
export const MAX_MESSAGE_BYTES = 128 * 1024 - 1;

/**
 * A live session's message travels on stdin, where the CLI took an 8 MiB line whole;
 * 4 MiB is about a million tokens, more than any model's context window, so a longer
 * message could only fail at the API, after the turn started.
 */
export const MAX_LIVE_MESSAGE_BYTES = 4 * 1024 * 1024;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A message as one argument (`live: false`) or as a line on a live session's stdin. */
export function checkedMessage(message: string, live = false): string {
  if (message.trim() === '') throw new BerthError('the message is empty: type something for the agent');
  if (message.includes('\0')) {
    throw new BerthError(`the message contains a NUL character${live ? ': remove it' : ', which a command line cannot carry'}`);
  }
  const bytes = Buffer.byteLength(message, 'utf8');
  const limit = live ? MAX_LIVE_MESSAGE_BYTES : MAX_MESSAGE_BYTES;
  if (bytes > limit) {
    throw new BerthError(
      `the message is too long${live ? '' : ' for a command line'} (${bytes} bytes, at most ${limit}): put the rest in a file and point the agent to it`,
    );
  }
  return message;
}

export function checkedSessionId(sessionId: string): string {
  // --resume also takes a session *title* and searches for it: only an exact id may get through.
  if (!UUID.test(sessionId)) throw new BerthError(`"${sessionId}" is not a Claude Code session id: start a new session`);
  return sessionId;
}

export function checkedPermissionMode(mode: string, where: 'workspace' | 'container'): string {
  if (!CLAUDE_PERMISSION_MODES.includes(mode)) {
    throw new BerthError(`unknown permission mode "${mode}": use one of ${CLAUDE_PERMISSION_MODES.join(', ')}`);
  }
  if (mode === 'bypassPermissions' && where !== 'container') {
    throw new BerthError('permission mode bypassPermissions is allowed only in container mode, where the agent is not root');
  }
  return mode;
}

/** A value that starts with `-` would be read as an option (and an empty one as none). */
export function checkedValue(what: string, value: string): string {
  if (value.trim() === '' || value.startsWith('-')) throw new BerthError(`invalid ${what} "${value}": it must not be empty or start with "-"`);
  return value;
}
