/**
 * Claude Code in print mode: one process per turn, its stream as JSON lines.
 *
 * How 2.1.197 parses its command line, which shapes the argv below:
 * - `-p` is a flag and the prompt a positional argument, so a message starting with `-`
 *   would be read as options (`-rf` is `-r f`, i.e. --resume f). Everything after `--` is
 *   the prompt, even `--help`, `--bare` or a subcommand's name (checked: none of them acts).
 * - `--allowedTools`/`--disallowedTools` take several values (one argv element per rule,
 *   spaces inside a rule such as `Bash(git *)` are fine) and would swallow a prompt that
 *   follows them: another reason for `--` before the message.
 * - The prompt travels as one argv element, which Linux caps at 128 KiB.
 * Spawn it with stdin closed or ignored: with an open pipe it waits 3 s for piped input.
 */
import { BerthError } from '../../domain/errors.js';
import type { AgentAdapter, AgentCredentials, AgentStreamParser, AgentTurnRequest } from '../types.js';
import { ClaudeStreamParser } from './stream-parser.js';

/** The choices of `--permission-mode` in 2.1.197. */
export const CLAUDE_PERMISSION_MODES: readonly string[] = ['acceptEdits', 'auto', 'bypassPermissions', 'default', 'dontAsk', 'plan'];

/** Linux's MAX_ARG_STRLEN (32 pages) counts the terminating NUL: a longer argument fails with E2BIG. */
export const MAX_MESSAGE_BYTES = 128 * 1024 - 1;

/**
 * Keeps the CLI from calling home: CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC alone stops its
 * telemetry and error reports (measured, see test/fixtures/claude-env.ts); the updater
 * must not replace the binary in the middle of a project's work.
 */
export const CLAUDE_QUIET_ENV: Readonly<Record<string, string>> = {
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  DISABLE_AUTOUPDATER: '1',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ClaudeCodeAdapterOptions {
  /** The program to run: `claude` on the PATH where the agent runs, unless told otherwise. */
  binary?: string;
}

export class ClaudeCodeAdapter implements AgentAdapter {
  readonly id = 'claude';
  private readonly binary: string;

  constructor(options: ClaudeCodeAdapterOptions = {}) {
    this.binary = options.binary ?? 'claude';
  }

  commandLine(request: AgentTurnRequest): string[] {
    const argv = [this.binary, '-p', '--output-format', 'stream-json', '--verbose'];
    if (request.sessionId !== null) argv.push('--resume', checkedSessionId(request.sessionId));
    if (request.model !== undefined && request.model !== '') argv.push('--model', checkedValue('model', request.model));
    argv.push('--permission-mode', checkedPermissionMode(request));
    if (request.allowedTools !== undefined && request.allowedTools.length > 0) {
      argv.push('--allowedTools', ...request.allowedTools.map((rule) => checkedValue('allowed tool', rule)));
    }
    if (request.disallowedTools !== undefined && request.disallowedTools.length > 0) {
      argv.push('--disallowedTools', ...request.disallowedTools.map((rule) => checkedValue('disallowed tool', rule)));
    }
    argv.push('--', checkedMessage(request.message));
    return argv;
  }

  environment(credentials: AgentCredentials): Record<string, string> {
    const env: Record<string, string> = { ...CLAUDE_QUIET_ENV };
    // Without a key the CLI uses its own login (a subscription), which is fine on the host.
    if (credentials.apiKey !== undefined && credentials.apiKey !== '') env.ANTHROPIC_API_KEY = credentials.apiKey;
    if (credentials.baseUrl !== undefined && credentials.baseUrl !== '') env.ANTHROPIC_BASE_URL = credentials.baseUrl;
    return env;
  }

  createParser(): AgentStreamParser {
    return new ClaudeStreamParser();
  }

  checkMessage(message: string): void {
    checkedMessage(message);
  }
}

function checkedMessage(message: string): string {
  if (message.trim() === '') throw new BerthError('the message is empty: type something for the agent');
  if (message.includes('\0')) throw new BerthError('the message contains a NUL character, which a command line cannot carry');
  const bytes = Buffer.byteLength(message, 'utf8');
  if (bytes > MAX_MESSAGE_BYTES) {
    throw new BerthError(
      `the message is too long for a command line (${bytes} bytes, at most ${MAX_MESSAGE_BYTES}): put the rest in a file and point the agent to it`,
    );
  }
  return message;
}

function checkedSessionId(sessionId: string): string {
  // --resume also takes a session *title* and searches for it: only an exact id may get through.
  if (!UUID.test(sessionId)) throw new BerthError(`"${sessionId}" is not a Claude Code session id: start a new session`);
  return sessionId;
}

function checkedPermissionMode(request: AgentTurnRequest): string {
  const mode = request.permissionMode;
  if (!CLAUDE_PERMISSION_MODES.includes(mode)) {
    throw new BerthError(`unknown permission mode "${mode}": use one of ${CLAUDE_PERMISSION_MODES.join(', ')}`);
  }
  if (mode === 'bypassPermissions' && request.mode !== 'container') {
    throw new BerthError('permission mode bypassPermissions is allowed only in container mode, where the agent is not root');
  }
  return mode;
}

/** A value that starts with `-` would be read as an option (and an empty one as none). */
function checkedValue(what: string, value: string): string {
  if (value.trim() === '' || value.startsWith('-')) throw new BerthError(`invalid ${what} "${value}": it must not be empty or start with "-"`);
  return value;
}
