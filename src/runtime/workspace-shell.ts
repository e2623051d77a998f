import { spawn } from 'node:child_process';
import { BerthError } from '../domain/errors.js';

/**
 * A program on this terminal, given the terminal until it exits: the user's
 * shell in a workspace, or the agent's own TUI. berth stops reading stdin
 * meanwhile (its screen had it), so that every key goes to the program; the
 * screen reads again once it is drawn anew. Resolves with the exit code.
 */
export function runOnTerminal(program: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<number> {
  process.stdin.pause();
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: 'inherit' });
    child.once('error', (error) => reject(new BerthError(`${program} could not start: ${error.message}`)));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** The user's shell in a workspace folder, on this terminal; resolves with its exit code. */
export function workspaceShell(folder: string): Promise<number> {
  return runOnTerminal(process.env.SHELL || '/bin/sh', [], { cwd: folder });
}
