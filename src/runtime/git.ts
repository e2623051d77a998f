import { realpath } from 'node:fs/promises';
import { execa } from 'execa';
import { BerthError } from '../domain/errors.js';
import { quote } from '../domain/project.js';
import { placeProblem } from './workspace-guard.js';

/** The top folder of the git work tree that holds `dir`, or undefined when none does. */
export async function gitTopLevel(dir: string): Promise<string | undefined> {
  const result = await git(['rev-parse', '--show-toplevel'], dir, { reject: false });
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

/** The URL of the workspace's `origin` remote (or its first remote), or undefined when it has none. */
export async function gitRemoteUrl(dir: string): Promise<string | undefined> {
  const origin = await git(['remote', 'get-url', 'origin'], dir, { reject: false });
  if (origin.exitCode === 0 && origin.stdout.trim()) return origin.stdout.trim();
  const first = (await git(['remote'], dir, { reject: false })).stdout.split('\n')[0]?.trim();
  if (!first) return undefined;
  const url = await git(['remote', 'get-url', first], dir, { reject: false });
  return url.exitCode === 0 && url.stdout.trim() ? url.stdout.trim() : undefined;
}

/** Makes `dir` a repository; never a system folder or the user's home, whatever let it through to here. */
export async function gitInit(dir: string): Promise<void> {
  const problem = await placeProblem(await realpath(dir));
  if (problem) throw new BerthError(`berth will not git init ${quote(dir)}: ${problem}`);
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

/**
 * The workspace's changes as one unified diff: tracked files against HEAD
 * (or the index in a repository with no commit yet), then each untracked,
 * not ignored file as a new one. Reads only: the index is never touched.
 */
export async function workspaceDiff(dir: string): Promise<string> {
  // Plain: the caller shows it (its controls made visible) and colours it itself.
  const color = '--no-color';
  const hasHead = (await git(['rev-parse', '--verify', '--quiet', 'HEAD'], dir, { reject: false })).exitCode === 0;
  const tracked = hasHead
    ? [(await git(['diff', color, 'HEAD'], dir)).stdout]
    : [(await git(['diff', color, '--cached'], dir)).stdout, (await git(['diff', color], dir)).stdout];
  const untracked = (await git(['ls-files', '--others', '--exclude-standard', '-z'], dir)).stdout.split('\0').filter(Boolean);
  const added: string[] = [];
  for (const file of untracked) {
    // --no-index exits 1 when the files differ, which they always do here.
    added.push((await git(['diff', color, '--no-index', '--', '/dev/null', file], dir, { reject: false })).stdout);
  }
  return [...tracked, ...added].filter((part) => part.length > 0).join('\n');
}
