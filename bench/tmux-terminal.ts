// A real terminal for the TUI benches: a tmux server of its own (its socket
// in a temporary folder, no config file), so nothing of the user's tmux or of
// parallel test runs leaks in, and killing it cleans up everything it ran.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

const SESSION = 'bench';

export interface ScreenMatch {
  screen: string;
  /** performance.now() of the capture that matched. */
  at: number;
}

export class TmuxTerminal {
  private constructor(private readonly socketDir: string) {}

  /**
   * A detached session of `columns` x `rows` whose pane waits for launch().
   * The pane stays after its program exits (remain-on-exit), so a crash
   * leaves its message on screen for the error report.
   */
  static async start(options: { columns: number; rows: number; cwd: string }): Promise<TmuxTerminal> {
    const terminal = new TmuxTerminal(await mkdtemp(path.join(tmpdir(), 'berth-bench-tmux-')));
    await terminal.tmux(
      ['new-session', '-d', '-s', SESSION, '-x', String(options.columns), '-y', String(options.rows), '-c', options.cwd, 'sleep 86400'],
      // The server keeps the environment it starts with: leave out what would change how berth draws.
      { env: serverEnvironment() },
    );
    await terminal.tmux(['set-option', '-t', SESSION, 'remain-on-exit', 'on']);
    return terminal;
  }

  /**
   * Replaces the pane's program with `command` (exec'd, so the pane's pid is
   * the program's own), and resolves with performance.now() of just before
   * tmux was asked to spawn it.
   */
  async launch(command: readonly string[], env: Record<string, string>): Promise<number> {
    const variables = Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
    const startedAt = performance.now();
    await this.tmux(['respawn-pane', '-k', '-t', SESSION, ...variables, `exec ${command.map(shellQuote).join(' ')}`]);
    return startedAt;
  }

  async screen(): Promise<string> {
    return (await this.tmux(['capture-pane', '-p', '-t', SESSION])).stdout;
  }

  /**
   * Polls the screen every `pollMs` until `check` passes. Throws with the last
   * screen after `timeoutMs`, or as soon as the program has exited.
   */
  async waitFor(check: (screen: string) => boolean, options: { timeoutMs: number; pollMs: number }): Promise<ScreenMatch> {
    const deadline = performance.now() + options.timeoutMs;
    let screen = '';
    let nextLivenessCheck = performance.now() + 500;
    while (performance.now() < deadline) {
      screen = await this.screen();
      const at = performance.now();
      if (check(screen)) return { screen, at };
      if (at > nextLivenessCheck) {
        nextLivenessCheck = at + 500;
        if (await this.exited()) throw new Error(`the program exited before the screen matched; its screen:\n${await this.screen()}`);
      }
      await sleep(options.pollMs);
    }
    throw new Error(`the screen never matched within ${options.timeoutMs} ms; last screen:\n${screen}`);
  }

  /** Waits until the screen has not changed for `quietMs`, and returns it (the last one after `timeoutMs`). */
  async settle(options: { quietMs: number; timeoutMs: number }): Promise<string> {
    const deadline = performance.now() + options.timeoutMs;
    let screen = await this.screen();
    let since = performance.now();
    while (performance.now() < deadline) {
      await sleep(100);
      const next = await this.screen();
      if (next !== screen) {
        screen = next;
        since = performance.now();
      } else if (performance.now() - since >= options.quietMs) {
        break;
      }
    }
    return screen;
  }

  async press(...keys: string[]): Promise<void> {
    await this.tmux(['send-keys', '-t', SESSION, ...keys]);
  }

  async panePid(): Promise<number> {
    return Number((await this.tmux(['display-message', '-p', '-t', SESSION, '#{pane_pid}'])).stdout.trim());
  }

  async exited(): Promise<boolean> {
    return (await this.tmux(['display-message', '-p', '-t', SESSION, '#{pane_dead}'])).stdout.trim() === '1';
  }

  /** Waits up to `timeoutMs` for the program to exit; true when it did. */
  async waitForExit(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (await this.exited()) return true;
      await sleep(50);
    }
    return false;
  }

  /** Appends every byte the program writes to the terminal to `file`, from now on. */
  async pipeOutputTo(file: string): Promise<void> {
    await this.tmux(['pipe-pane', '-o', '-t', SESSION, `cat >> ${shellQuote(file)}`]);
  }

  async stopPipe(): Promise<void> {
    await this.tmux(['pipe-pane', '-t', SESSION]);
  }

  /** Ends the server, the session and whatever still runs in it; tmux leaves its socket file behind, the folder goes with it. */
  async kill(): Promise<void> {
    await execa('tmux', ['-S', this.socket, 'kill-server'], { reject: false });
    await rm(this.socketDir, { recursive: true, force: true });
  }

  private get socket(): string {
    return path.join(this.socketDir, 'tmux');
  }

  private tmux(args: string[], options: { env?: NodeJS.ProcessEnv } = {}) {
    // -u: UTF-8 whatever the locale says, so the TUI's symbols are captured as drawn.
    return execa('tmux', ['-u', '-S', this.socket, '-f', '/dev/null', ...args], {
      ...(options.env && { env: options.env, extendEnv: false }),
    });
  }
}

function serverEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // Ink renders only the last frame in CI and would not draw at all here.
  delete env.CI;
  delete env.CONTINUOUS_INTEGRATION;
  for (const key of Object.keys(env)) if (key.startsWith('BERTH_') || key.startsWith('TMUX')) delete env[key];
  return env;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
