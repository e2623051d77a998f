/**
 * The set-up of suites that chat through the built berth in workspace mode:
 * before each test, a fresh berth home with project `web`, and the real
 * claude CLI (on PATH, as a user's shell has it) against a fresh fake API;
 * both removed after it.
 *
 *   const chat = useWorkspaceChat({ allowBash: true });
 *   chat.fake.reply(message(text('Hi.')));
 *   await runBerth(['chat', 'web', 'hello'], { home: chat.home, env: chat.env });
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect } from 'vitest';
import { prepareClaudeEnv, type ClaudeEnv } from '../fixtures/claude-env.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { runBerth } from './berth-cli.js';
import { stopDaemonOf } from './daemon.js';
import { useTempDirs } from './temp.js';

const CLI_BIN_DIR = fileURLToPath(new URL('../../node_modules/.bin', import.meta.url));

/** A transcript entry as `--json` prints it. */
export interface Entry {
  type: string;
  turn: number;
  [field: string]: unknown;
}

export interface WorkspaceChat {
  readonly fake: FakeAnthropic;
  readonly cli: ClaudeEnv;
  readonly home: string;
  /** The environment of a user's shell: the CLI on PATH, the key and the gateway. */
  readonly env: Record<string, string>;
  /** Project web's folder. */
  workspace(): string;
  /** `berth history web --json`, parsed. */
  history(): Promise<Entry[]>;
}

/** JSON lines, as `--json` prints them. */
export function parseEntries(stdout: string): Entry[] {
  return stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Entry);
}

export function useWorkspaceChat(options: { allowBash?: boolean; prefix?: string; trustWorkspace?: boolean } = {}): WorkspaceChat {
  const tempDir = useTempDirs();
  let fake: FakeAnthropic;
  let cli: ClaudeEnv;
  let home: string;
  let env: Record<string, string>;

  beforeEach(async () => {
    fake = await startFakeAnthropic();
    home = await tempDir(options.prefix);
    // The CLI's interactive TUI asks to trust a folder first, unless told it is trusted.
    cli = await prepareClaudeEnv({ baseUrl: fake.url, ...(options.trustWorkspace && { trustedDirs: [path.join(home, 'workspaces', 'web')] }) });
    env = { ...cli.env, PATH: `${CLI_BIN_DIR}:${cli.env.PATH}` };
    expect((await runBerth(['project', 'add', 'web'], { home })).exitCode).toBe(0);
    // The CLI's Bash tool runs without asking, as a user who allowed it would have it.
    if (options.allowBash) expect((await runBerth(['project', 'set', 'web', 'claude.allowedTools', 'Bash'], { home })).exitCode).toBe(0);
  });

  afterEach(async () => {
    // The daemon's live agent writes to the CLI's home until it ends: it goes before that home does.
    await stopDaemonOf(home);
    await fake.close();
    await cli.cleanup();
  });

  return {
    get fake() {
      return fake;
    },
    get cli() {
      return cli;
    },
    get home() {
      return home;
    },
    get env() {
      return env;
    },
    workspace: () => path.join(home, 'workspaces', 'web'),
    history: async () => parseEntries((await runBerth(['history', 'web', '--json'], { home, env })).stdout),
  };
}
