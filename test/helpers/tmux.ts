import { execa } from 'execa';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';

/**
 * A real terminal for end-to-end tests: a detached tmux session of a given
 * size running a plain shell (prompt `$ `), driven with send-keys and read with capture-pane.
 */
export class TmuxSession {
  private constructor(readonly name: string) {}

  static async start(options: { columns: number; rows: number; env: Record<string, string>; cwd: string }): Promise<TmuxSession> {
    const name = `berth-test-${randomUUID().slice(0, 8)}`;
    // TMPDIR as the test's: the tmux server, and so each session's environment, may come from another run (see helpers/leftovers.ts).
    const env = Object.entries({ TMPDIR: tmpdir(), ...options.env }).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
    await execa('tmux', [
      'new-session', '-d', '-s', name, '-x', String(options.columns), '-y', String(options.rows), '-c', options.cwd,
      ...env, 'bash --norc --noprofile',
    ]);
    const session = new TmuxSession(name);
    // A known prompt, `$ `, so that tests can tell when the shell has the terminal back.
    await session.type("PS1='$ '; clear");
    await session.press('Enter');
    await session.waitFor((screen) => screen.trim() === '$');
    return session;
  }

  /** Types text; `keys` are tmux key names such as Enter, Escape, C-c. */
  async type(text: string): Promise<void> {
    await execa('tmux', ['send-keys', '-t', this.name, '-l', text]);
  }

  async press(...keys: string[]): Promise<void> {
    await execa('tmux', ['send-keys', '-t', this.name, ...keys]);
  }

  async screen(): Promise<string> {
    return (await execa('tmux', ['capture-pane', '-p', '-t', this.name])).stdout;
  }

  /** The screen with its colours and styles, as escape sequences. */
  async styledScreen(): Promise<string> {
    return (await execa('tmux', ['capture-pane', '-p', '-e', '-t', this.name])).stdout;
  }

  async resize(columns: number, rows: number): Promise<void> {
    await execa('tmux', ['resize-window', '-t', this.name, '-x', String(columns), '-y', String(rows)]);
  }

  /** Waits until the screen satisfies `check`, and returns it; throws with the last screen after `timeoutMs`. */
  async waitFor(check: (screen: string) => boolean, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    while (Date.now() < deadline) {
      screen = await this.screen();
      if (check(screen)) return screen;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`screen never matched within ${timeoutMs} ms; last screen:\n${screen}`);
  }

  /** Whether the program in the session has switched to the alternate screen (as a full-screen program does first). */
  async alternateScreenOn(): Promise<boolean> {
    return (await execa('tmux', ['display-message', '-p', '-t', this.name, '#{alternate_on}'])).stdout.trim() === '1';
  }

  /** The pids of the programs the session's shell runs. */
  async foregroundPids(): Promise<number[]> {
    const shellPid = (await execa('tmux', ['list-panes', '-t', this.name, '-F', '#{pane_pid}'])).stdout.trim();
    return (await execa('pgrep', ['-P', shellPid])).stdout.trim().split('\n').map(Number);
  }

  /** Sends a signal to the program running in the foreground of the session's shell. */
  async signalForeground(signal: NodeJS.Signals): Promise<void> {
    for (const pid of await this.foregroundPids()) process.kill(pid, signal);
  }

  async kill(): Promise<void> {
    await execa('tmux', ['kill-session', '-t', this.name], { reject: false });
  }
}
