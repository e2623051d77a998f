import { BerthError } from '../domain/errors.js';
import { createContext } from '../services/context.js';

export async function openControlCenter(version: string): Promise<number> {
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    throw new BerthError('the control center needs a terminal; in scripts use the subcommands (berth --help)');
  }
  // Read what the screen needs first, so that a broken registry is reported
  // as a one-line error instead of a half-drawn screen.
  const projects = await createContext().projects.list();
  const { runControlCenter } = await import('../ui/run.js');
  await runControlCenter(projects, version);
  return 0;
}
