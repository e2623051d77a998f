import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

export const BERTH_BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

export interface BerthResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `berth` as a user would, with its data under `home`. */
export async function runBerth(
  args: string[],
  options: { home: string; cwd?: string; env?: Record<string, string>; input?: string },
): Promise<BerthResult> {
  const result = await execa('node', [BERTH_BIN, ...args], {
    reject: false,
    cwd: options.cwd ?? options.home,
    env: { BERTH_HOME: options.home, NO_COLOR: '1', ...options.env },
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    stripFinalNewline: false,
  });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs berth commands one after another: a suite's set-up, which stops at the first that fails, with its stderr. */
export async function runBerthSteps(berth: (args: string[]) => Promise<BerthResult>, steps: string[][]): Promise<void> {
  for (const args of steps) {
    const result = await berth(args);
    if (result.exitCode !== 0) throw new Error(`berth ${args.join(' ')} exited ${result.exitCode}: ${result.stderr}`);
  }
}
