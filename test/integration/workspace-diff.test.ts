import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitInit, workspaceDiff } from '../../src/runtime/git.js';
import { useTempDirs } from '../helpers/temp.js';

const git = (dir: string, ...args: string[]) =>
  execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir });

describe('workspaceDiff', () => {
  const tempDir = useTempDirs();

  it('shows edits to tracked files and new untracked files, and leaves the index alone', async () => {
    const dir = await tempDir();
    await gitInit(dir);
    await writeFile(path.join(dir, 'kept.txt'), 'one\n');
    await git(dir, 'add', 'kept.txt');
    await git(dir, 'commit', '-qm', 'first');
    await writeFile(path.join(dir, 'kept.txt'), 'one\ntwo\n');
    await writeFile(path.join(dir, 'new file.txt'), 'fresh\n');
    await writeFile(path.join(dir, '.gitignore'), 'ignored.log\n');
    await writeFile(path.join(dir, 'ignored.log'), 'noise\n');
    const indexBefore = await readFile(path.join(dir, '.git', 'index'));

    const diff = await workspaceDiff(dir);
    expect(diff).toContain('+two');
    expect(diff).toContain('b/new file.txt');
    expect(diff).toContain('+fresh');
    expect(diff).toContain('+ignored.log');
    expect(diff).not.toContain('+noise');
    expect(diff).not.toContain('\u001B[');
    expect(await readFile(path.join(dir, '.git', 'index'))).toEqual(indexBefore);
  });

  it('works in a repository with no commit yet, and is empty when nothing changed', async () => {
    const dir = await tempDir();
    await gitInit(dir);
    expect(await workspaceDiff(dir)).toBe('');
    await writeFile(path.join(dir, 'a.txt'), 'hello\n');
    expect(await workspaceDiff(dir)).toContain('+hello');
  });
});
