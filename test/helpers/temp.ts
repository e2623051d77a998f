import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { stopDaemonOf } from './daemon.js';

/** A fresh temporary folder for each test that asks, removed after the test. */
export function useTempDirs(): (prefix?: string) => Promise<string> {
  const made: string[] = [];
  afterEach(async () => {
    // A berth command run in the folder as a home may have started its daemon: it goes first.
    await Promise.all(made.splice(0).map(async (dir) => {
      await stopDaemonOf(dir);
      await rm(dir, { recursive: true, force: true });
    }));
  });
  return async (prefix = 'berth-test-') => {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}

/** Every file below `dir` with its content: compare two to prove nothing changed. */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const tree: Record<string, string> = {};
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      const relative = path.relative(dir, full);
      if (entry.isDirectory()) {
        tree[`${relative}/`] = '';
        await walk(full);
      } else {
        tree[relative] = (await stat(full)).isFile() ? await readFile(full, 'utf8') : '';
      }
    }
  };
  await walk(dir);
  return tree;
}
