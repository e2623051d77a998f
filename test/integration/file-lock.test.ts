/**
 * The lock of the registry and the settings, with real processes: a holder
 * killed with SIGKILL, a lock whose time is in the future, a pid reused by
 * another process, a holder that runs (waited for, then named when it does
 * not let go).
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { currentProcess } from '../../src/runtime/process/process-identity.js';
import { runBerth } from '../helpers/berth-cli.js';
import { useTempDirs } from '../helpers/temp.js';

const FILE_LOCK = fileURLToPath(new URL('../../dist/store/file-lock.js', import.meta.url));
const tempDir = useTempDirs();
const holders: ResultPromise[] = [];

afterEach(async () => {
  for (const holder of holders.splice(0)) {
    holder.kill('SIGKILL');
    await holder.catch(() => undefined);
  }
});

/**
 * A `node` process that takes the lock on `file` as berth does, says so, and
 * holds it for `holdMs` (for ever by default), writing when it lets go to
 * `<file>.released`. In an object: a process is a promise, which an async
 * function would wait for.
 */
async function holdLock(file: string, holdMs?: number): Promise<{ holder: ResultPromise }> {
  const script = `
    const { withFileLock } = await import(${JSON.stringify(FILE_LOCK)});
    const { writeFileSync } = await import('node:fs');
    await withFileLock(${JSON.stringify(file)}, async () => {
      console.log('held');
      await new Promise((resolve) => setTimeout(resolve, ${holdMs ?? 3_600_000}));
      writeFileSync(${JSON.stringify(`${file}.released`)}, String(Date.now()));
    });`;
  const holder = execa('node', ['--input-type=module', '-e', script], { reject: false });
  holders.push(holder);
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('held') && resolve());
    void holder.then((result) => reject(new Error(`the holder exited: ${result.stderr}`)));
  });
  return { holder };
}

/** The two files berth locks, each with a command that changes it. */
const LOCKED = [
  { name: 'registry', file: 'projects.json', change: ['project', 'add', 'app'], changed: (home: string) => existsSync(path.join(home, 'workspaces', 'app')) },
  { name: 'settings', file: 'settings.json', change: ['config', 'set', 'policies.maxRunning', '3'], changed: (home: string) => existsSync(path.join(home, 'settings.json')) },
];

describe.each(LOCKED)('the $name lock', ({ file, change, changed }) => {
  it('is taken over at once when its holder was killed (SIGKILL)', async () => {
    const home = await tempDir();
    const { holder } = await holdLock(path.join(home, file));
    holder.kill('SIGKILL');
    await holder;
    expect(existsSync(path.join(home, `${file}.lock`))).toBe(true);
    const started = Date.now();
    const result = await runBerth(change, { home });
    expect(result, result.stderr).toMatchObject({ exitCode: 0, stderr: '' });
    // Not after the ten seconds a lock's time takes to grow old.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(changed(home)).toBe(true);
    expect(existsSync(path.join(home, `${file}.lock`))).toBe(false);
  });

  it('is taken over at once when its time is in the future', async () => {
    const home = await tempDir();
    const lock = path.join(home, `${file}.lock`);
    await mkdir(lock);
    const future = new Date(Date.now() + 3_600_000);
    await utimes(lock, future, future);
    const started = Date.now();
    const result = await runBerth(change, { home });
    expect(result, result.stderr).toMatchObject({ exitCode: 0, stderr: '' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(changed(home)).toBe(true);
  });

  it('is waited for while its holder runs', async () => {
    const home = await tempDir();
    await holdLock(path.join(home, file), 1_500);
    const result = await runBerth(change, { home });
    expect(result, result.stderr).toMatchObject({ exitCode: 0, stderr: '' });
    expect(changed(home)).toBe(true);
    // Written after the holder let go (give or take the file system's coarse clock), not a second before.
    const releasedAt = Number(await readFile(path.join(home, `${file}.released`), 'utf8'));
    expect((await stat(path.join(home, file))).mtimeMs).toBeGreaterThan(releasedAt - 50);
  });
});

describe('a lock of a pid that runs', () => {
  it('is taken over when that pid is another process than the one that took it (the pid was reused)', async () => {
    const home = await tempDir();
    const lock = path.join(home, 'projects.json.lock');
    await mkdir(lock);
    // This test's own pid, which runs, but as if it had started at another time.
    await writeFile(path.join(lock, 'owner.json'), JSON.stringify({ pid: process.pid, start: '1', host: hostname(), token: 'old' }));
    const result = await runBerth(['project', 'add', 'app'], { home });
    expect(result, result.stderr).toMatchObject({ exitCode: 0, stderr: '' });
  });

  it('is waited for, and in the end its holder is named in one line, nothing changed', async () => {
    const home = await tempDir();
    const lock = path.join(home, 'projects.json.lock');
    await mkdir(lock);
    await writeFile(path.join(lock, 'owner.json'), JSON.stringify({ ...currentProcess(), host: hostname(), token: 'live' }));
    const result = await runBerth(['project', 'add', 'app'], { home });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^berth: ${path.join(home, 'projects.json')} is locked by berth process ${process.pid} \\(since [^)]+\\); try again once it is done\\n$`));
    expect(existsSync(path.join(home, 'workspaces', 'app'))).toBe(false);
  }, 30_000);
});
