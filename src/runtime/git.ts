import { execa } from 'execa';
import { BerthError } from '../domain/errors.js';

/** The top folder of the git work tree that holds `dir`, or undefined when none does. */
export async function gitTopLevel(dir: string): Promise<string | undefined> {
  const result = await git(['rev-parse', '--show-toplevel'], dir, { reject: false });
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

export async function gitInit(dir: string): Promise<void> {
  await git(['init', '--quiet'], dir);
}

async function git(args: string[], cwd: string, options: { reject?: boolean } = {}) {
  try {
    return await execa('git', args, {
      cwd,
      reject: options.reject ?? true,
      stdin: 'ignore',
      // Hooks and templates of the user's global config do not belong in a check.
      env: { GIT_TERMINAL_PROMPT: '0' },
    });
  } catch (error) {
    const failure = error as { code?: string; stderr?: string; shortMessage?: string };
    if (failure.code === 'ENOENT') throw new BerthError('git is not installed: berth keeps every workspace in a git repository');
    const detail = failure.stderr?.trim().split('\n')[0] || failure.shortMessage || String(error);
    throw new BerthError(`git ${args[0]} failed in ${cwd}: ${detail}`);
  }
}
