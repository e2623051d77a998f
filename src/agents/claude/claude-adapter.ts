/**
 * Claude Code in print mode: a live session (one long-lived process whose stdin takes one
 * message after another, see live-session.ts) or one process per turn, its stream as JSON lines.
 *
 * How 2.1.197 parses its command line, which shapes the argv below:
 * - `-p` is a flag and the prompt a positional argument, so a message starting with `-`
 *   would be read as options (`-rf` is `-r f`, i.e. --resume f). Everything after `--` is
 *   the prompt, even `--help`, `--bare` or a subcommand's name (checked: none of them acts).
 * - `--allowedTools`/`--disallowedTools` take several values (one argv element per rule,
 *   spaces inside a rule such as `Bash(git *)` are fine) and would swallow a prompt that
 *   follows them: another reason for `--` before the message. They come last.
 * - The prompt travels as one argv element, which Linux caps at 128 KiB.
 * Spawn a one-shot turn with stdin closed or ignored: with an open pipe it waits 3 s for
 * piped input. A live session has no prompt on its command line, and its stdin open.
 */
import type {
  AgentAdapter,
  AgentCredentials,
  AgentInput,
  AgentSession,
  AgentSessionOptions,
  AgentSessionRequest,
  AgentStreamParser,
  AgentTurnRequest,
} from '../types.js';
import { checkedMessage, checkedPermissionMode, checkedSessionId, checkedValue } from './arguments.js';
import { answerFirstRunPrompts, type InteractiveStart } from './interactive-config.js';
import { ClaudeLiveSession } from './live-session.js';
import { ClaudeStreamParser } from './stream-parser.js';

export { CLAUDE_PERMISSION_MODES, MAX_LIVE_MESSAGE_BYTES, MAX_MESSAGE_BYTES } from './arguments.js';

/**
 * Keeps the CLI from calling home: CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC alone stops its
 * telemetry and error reports (measured, see test/fixtures/claude-env.ts); the updater
 * must not replace the binary in the middle of a project's work.
 */
export const CLAUDE_QUIET_ENV: Readonly<Record<string, string>> = {
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  DISABLE_AUTOUPDATER: '1',
};

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
    return [this.binary, '-p', '--output-format', 'stream-json', '--verbose', ...conversationOptions(request), '--', checkedMessage(request.message)];
  }

  /**
   * Control requests and permission requests travel on stdio (`--permission-prompt-tool
   * stdio`), stream events carry the text deltas. In a container, where the agent is not
   * root, bypassPermissions is made possible (not chosen): without the flag the CLI refuses
   * a later set_permission_mode to it, and as root the CLI refuses the flag and exits.
   */
  sessionCommandLine(request: AgentSessionRequest): string[] {
    const argv = [this.binary, '-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--include-partial-messages'];
    argv.push('--permission-prompt-tool', 'stdio');
    if (request.mode === 'container') argv.push('--allow-dangerously-skip-permissions');
    return [...argv, ...conversationOptions(request)];
  }

  /**
   * The argv of the CLI's own interactive TUI on the project's conversation
   * (`claude --resume <id>`), or on a new one of that id (`--session-id`), so
   * that berth's next message continues what was said in it.
   */
  interactiveCommandLine(request: AgentSessionRequest & { sessionId: string }, newConversation: boolean): string[] {
    const argv = [this.binary];
    if (request.mode === 'container') argv.push('--allow-dangerously-skip-permissions');
    // The user chose bypassPermissions in berth (which allows it only in a container): the TUI does not ask again.
    if (request.mode === 'container' && request.permissionMode === 'bypassPermissions') argv.push('--settings', BYPASS_ACCEPTED);
    if (newConversation) argv.push('--session-id', checkedSessionId(request.sessionId));
    return [...argv, ...conversationOptions(newConversation ? { ...request, sessionId: null } : request)];
  }

  async prepareInteractive(hostDir: string, start: InteractiveStart & { configDir: string }): Promise<Record<string, string>> {
    await answerFirstRunPrompts(hostDir, start);
    // A container made before its spec set it would keep the CLI's config on its tmpfs home.
    return { CLAUDE_CONFIG_DIR: start.configDir };
  }

  createSession(input: AgentInput, options: AgentSessionOptions): AgentSession {
    return new ClaudeLiveSession(input, options);
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

/** Settings given on the command line (the CLI's flag settings): its warning about bypassPermissions already accepted. */
const BYPASS_ACCEPTED = JSON.stringify({ skipDangerousModePermissionPrompt: true });

/** The conversation and the rules a turn or a live session runs under; tool rules last (they take several values). */
function conversationOptions(request: AgentSessionRequest): string[] {
  const options: string[] = [];
  if (request.sessionId !== null) options.push('--resume', checkedSessionId(request.sessionId));
  if (request.model !== undefined && request.model !== '') options.push('--model', checkedValue('model', request.model));
  options.push('--permission-mode', checkedPermissionMode(request.permissionMode, request.mode));
  if (request.allowedTools !== undefined && request.allowedTools.length > 0) {
    options.push('--allowedTools', ...request.allowedTools.map((rule) => checkedValue('allowed tool', rule)));
  }
  if (request.disallowedTools !== undefined && request.disallowedTools.length > 0) {
    options.push('--disallowedTools', ...request.disallowedTools.map((rule) => checkedValue('disallowed tool', rule)));
  }
  return options;
}
