import { spawn } from 'node:child_process';

/** The user's shell in a workspace folder, on this terminal; resolves with its exit code. */
export function workspaceShell(folder: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.SHELL || '/bin/sh', [], { cwd: folder, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1));
  });
}
