/**
 * The Claude Code adapter's command line and environment. That the CLI reads them as
 * meant is proven against the real CLI in test/integration/claude-adapter.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ClaudeCodeAdapter, MAX_MESSAGE_BYTES } from '../../src/agents/claude/claude-adapter.js';
import { ClaudeStreamParser } from '../../src/agents/claude/stream-parser.js';
import { AGENT_IDS, agentAdapter } from '../../src/agents/registry.js';
import type { AgentTurnRequest } from '../../src/agents/types.js';
import { BerthError } from '../../src/domain/errors.js';

const SESSION = '5c591b6a-7d14-49d6-ba93-b4655c2f6c62';
const adapter = new ClaudeCodeAdapter();

function request(overrides: Partial<AgentTurnRequest> = {}): AgentTurnRequest {
  return { message: 'Hello', sessionId: null, mode: 'workspace', permissionMode: 'acceptEdits', ...overrides };
}

/** The BerthError a call throws, so its message can be checked to be one line. */
function refusal(call: () => unknown): BerthError {
  try {
    call();
  } catch (error) {
    if (error instanceof BerthError) return error;
    throw error;
  }
  throw new Error('expected a BerthError, but nothing was thrown');
}

describe('ClaudeCodeAdapter.commandLine', () => {
  it('runs claude in print mode with stream-json output, the message last after --', () => {
    expect(adapter.commandLine(request())).toEqual([
      'claude',
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--permission-mode',
      'acceptEdits',
      '--',
      'Hello',
    ]);
  });

  it('adds --resume, --model and the tool lists, one argument per rule, when the request has them', () => {
    const argv = adapter.commandLine(
      request({
        sessionId: SESSION,
        model: 'sonnet',
        permissionMode: 'plan',
        allowedTools: ['Bash(git *)', 'Edit'],
        disallowedTools: ['WebFetch'],
      }),
    );

    expect(argv).toEqual([
      'claude',
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--resume',
      SESSION,
      '--model',
      'sonnet',
      '--permission-mode',
      'plan',
      '--allowedTools',
      'Bash(git *)',
      'Edit',
      '--disallowedTools',
      'WebFetch',
      '--',
      'Hello',
    ]);
  });

  it('leaves out an empty model and empty tool lists', () => {
    expect(adapter.commandLine(request({ model: '', allowedTools: [], disallowedTools: [] }))).toEqual(adapter.commandLine(request()));
  });

  it('runs the binary it was given', () => {
    expect(new ClaudeCodeAdapter({ binary: '/opt/claude/bin/claude' }).commandLine(request())[0]).toBe('/opt/claude/bin/claude');
  });

  it.each([
    '-rf',
    '--help',
    '--resume abc',
    'line one\nline two',
    `"double" 'single' \\ $(rm -rf ~) \`id\` ; | && > <`,
  ])('passes the message %j as one argument, unchanged, after --', (message) => {
    const argv = adapter.commandLine(request({ message, allowedTools: ['Read'] }));

    expect(argv.slice(-2)).toEqual(['--', message]);
    expect(argv.filter((argument) => argument === message)).toHaveLength(1);
  });

  it('refuses bypassPermissions outside a container, with a one-line BerthError', () => {
    const error = refusal(() => adapter.commandLine(request({ permissionMode: 'bypassPermissions', mode: 'workspace' })));

    expect(error.message).toMatch(/bypassPermissions .*only in container mode/);
    expect(error.message).not.toContain('\n');
    expect(adapter.commandLine(request({ permissionMode: 'bypassPermissions', mode: 'container' }))).toContain('bypassPermissions');
  });

  it('refuses a permission mode the CLI does not know', () => {
    expect(refusal(() => adapter.commandLine(request({ permissionMode: 'yolo' }))).message).toBe(
      'unknown permission mode "yolo": use one of acceptEdits, auto, bypassPermissions, default, dontAsk, plan',
    );
    expect(() => adapter.commandLine(request({ permissionMode: '' }))).toThrow(BerthError);
  });

  it('refuses a session id that is not a UUID: --resume would search session titles with it', () => {
    expect(() => adapter.commandLine(request({ sessionId: 'my session' }))).toThrow(BerthError);
    expect(() => adapter.commandLine(request({ sessionId: '-rf' }))).toThrow(BerthError);
    expect(adapter.commandLine(request({ sessionId: SESSION.toUpperCase() }))).toContain(SESSION.toUpperCase());
  });

  it('refuses a model or a tool rule that would read as an option, or an empty rule', () => {
    expect(() => adapter.commandLine(request({ model: '--dangerously-skip-permissions' }))).toThrow(BerthError);
    expect(() => adapter.commandLine(request({ allowedTools: ['Read', '--help'] }))).toThrow(BerthError);
    expect(() => adapter.commandLine(request({ disallowedTools: [' '] }))).toThrow(BerthError);
  });

  it('refuses an empty message and one a command line cannot carry', () => {
    expect(refusal(() => adapter.commandLine(request({ message: ' \n ' }))).message).toMatch(/empty/);
    expect(refusal(() => adapter.commandLine(request({ message: 'a\0b' }))).message).toMatch(/NUL/);
    // Two bytes a character: the limit is in UTF-8 bytes, not in characters.
    const longest = 'é'.repeat(Math.floor(MAX_MESSAGE_BYTES / 2)) + 'x';
    expect(Buffer.byteLength(longest)).toBe(MAX_MESSAGE_BYTES);
    expect(adapter.commandLine(request({ message: longest })).at(-1)).toBe(longest);
    expect(refusal(() => adapter.commandLine(request({ message: `${longest}x` }))).message).toBe(
      'the message is too long for a command line (131072 bytes, at most 131071): put the rest in a file and point the agent to it',
    );
  });
});

describe('ClaudeCodeAdapter.interactiveCommandLine', () => {
  const session = (overrides: Partial<AgentTurnRequest> = {}) => {
    const { message: _message, ...rest } = request({ sessionId: SESSION, ...overrides });
    return { ...rest, sessionId: SESSION };
  };

  it('resumes the conversation in the TUI, or starts it with its id', () => {
    expect(adapter.interactiveCommandLine(session(), false)).toEqual(['claude', '--resume', SESSION, '--permission-mode', 'acceptEdits']);
    expect(adapter.interactiveCommandLine(session(), true)).toEqual(['claude', '--session-id', SESSION, '--permission-mode', 'acceptEdits']);
  });

  it("accepts the TUI's bypassPermissions warning by flag settings only for a container project that chose the mode", () => {
    const boxed = adapter.interactiveCommandLine(session({ mode: 'container', permissionMode: 'bypassPermissions' }), false);
    expect(boxed.slice(0, 4)).toEqual(['claude', '--allow-dangerously-skip-permissions', '--settings', '{"skipDangerousModePermissionPrompt":true}']);
    expect(adapter.interactiveCommandLine(session({ mode: 'container' }), false)).not.toContain('--settings');
    expect(() => adapter.interactiveCommandLine(session({ permissionMode: 'bypassPermissions' }), false)).toThrow(BerthError);
  });
});

describe('ClaudeCodeAdapter.environment', () => {
  it('passes the key and the base URL, and keeps the CLI from calling home or updating itself', () => {
    expect(adapter.environment({ apiKey: 'sk-ant-test', baseUrl: 'http://127.0.0.1:9' })).toEqual({
      ANTHROPIC_API_KEY: 'sk-ant-test',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
    });
  });

  it('sets no key or base URL that was not given, so the CLI uses its own login and the real API', () => {
    expect(adapter.environment({})).toEqual({ CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1' });
    expect(adapter.environment({ apiKey: '', baseUrl: '' })).toEqual(adapter.environment({}));
  });
});

describe('ClaudeCodeAdapter.createParser and the registry', () => {
  it('gives a fresh parser for each turn', () => {
    const first = adapter.createParser();
    first.push('{"type":"system","subtype":"init","session_id":"s1","model":"m","tools":[]}\n');

    expect(first).toBeInstanceOf(ClaudeStreamParser);
    expect(first.sessionId()).toBe('s1');
    expect(adapter.createParser().sessionId()).toBeNull();
  });

  it('finds the Claude Code adapter by its id, with the binary it is given', () => {
    const claude = agentAdapter('claude', { binary: '/usr/local/bin/claude' });

    expect(AGENT_IDS).toEqual(['claude']);
    expect(claude).toBeInstanceOf(ClaudeCodeAdapter);
    expect(claude.id).toBe('claude');
    expect(claude.commandLine(request())[0]).toBe('/usr/local/bin/claude');
  });

  it('refuses an agent it does not know, even one named like an object property', () => {
    expect(refusal(() => agentAdapter('codex')).message).toBe('unknown agent "codex": berth knows claude');
    expect(() => agentAdapter('toString')).toThrow(BerthError);
    expect(() => agentAdapter('__proto__')).toThrow(BerthError);
  });
});
