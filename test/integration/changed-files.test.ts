import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BerthError } from '../../src/domain/errors.js';
import { changedSince, snapshotWorkspace } from '../../src/runtime/changed-files.js';
import { useTempDirs } from '../helpers/temp.js';

const identity = ['-c', 'user.name=berth test', '-c', 'user.email=test@berth.invalid', '-c', 'commit.gpgsign=false'];

async function git(dir: string, ...args: string[]): Promise<void> {
  await execa('git', [...identity, ...args], { cwd: dir });
}

async function write(dir: string, file: string, content: string): Promise<void> {
  await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
  await writeFile(path.join(dir, file), content);
}

/** Twenty distinct lines: enough for git to see a renamed file with one line changed as a rename. */
const longText = (tag: string): string => Array.from({ length: 20 }, (_, line) => `${tag} line ${line} of a file that is long enough\n`).join('');

describe('changed files', () => {
  const tempDir = useTempDirs();

  /** A repository with one commit holding `files`. */
  async function repoWith(files: Record<string, string>): Promise<string> {
    const dir = await tempDir('berth-changes-');
    await git(dir, 'init', '--quiet');
    for (const [file, content] of Object.entries(files)) await write(dir, file, content);
    await git(dir, 'add', '--all');
    await git(dir, 'commit', '--quiet', '--allow-empty', '-m', 'base');
    return dir;
  }

  /** What changed while `turn` ran. */
  async function during(dir: string, turn: () => Promise<void>) {
    const snapshot = await snapshotWorkspace(dir);
    await turn();
    return changedSince(dir, snapshot);
  }

  it('reports nothing when nothing changed, whatever was dirty before', async () => {
    const dir = await repoWith({ 'a.txt': 'a\n' });
    await write(dir, 'a.txt', 'dirty before the turn\n');
    await write(dir, 'untracked.txt', 'untracked before the turn\n');
    expect(await during(dir, async () => {})).toEqual([]);
  });

  it('reports created, modified and deleted files', async () => {
    const dir = await repoWith({ 'keep.txt': 'keep\n', 'edit.txt': 'edit\n', 'remove.txt': 'remove\n' });
    const changes = await during(dir, async () => {
      await write(dir, 'src/new.ts', 'export {};\n');
      await write(dir, 'edit.txt', 'edited\n');
      await rm(path.join(dir, 'remove.txt'));
    });
    expect(changes).toEqual([
      { path: 'edit.txt', kind: 'modified' },
      { path: 'remove.txt', kind: 'deleted' },
      { path: 'src/new.ts', kind: 'created' },
    ]);
  });

  it('reports files that were dirty or untracked before only when the turn changed them again', async () => {
    const dir = await repoWith({ 'dirty-edited.txt': 'v1\n', 'dirty-kept.txt': 'v1\n', 'dirty-reverted.txt': 'v1\n', 'staged.txt': 'v1\n' });
    await write(dir, 'dirty-edited.txt', 'v2\n');
    await write(dir, 'dirty-kept.txt', 'v2\n');
    await write(dir, 'dirty-reverted.txt', 'v2\n');
    await write(dir, 'staged.txt', 'v2\n');
    await git(dir, 'add', 'staged.txt');
    await write(dir, 'untracked-edited.txt', 'u1\n');
    await write(dir, 'untracked-kept.txt', 'u1\n');
    await write(dir, 'untracked-removed.txt', 'u1\n');
    const changes = await during(dir, async () => {
      await write(dir, 'dirty-edited.txt', 'v3\n');
      await write(dir, 'dirty-reverted.txt', 'v1\n');
      await write(dir, 'staged.txt', 'v3\n');
      await write(dir, 'untracked-edited.txt', 'u2\n');
      await rm(path.join(dir, 'untracked-removed.txt'));
    });
    expect(changes).toEqual([
      { path: 'dirty-edited.txt', kind: 'modified' },
      { path: 'dirty-reverted.txt', kind: 'modified' },
      { path: 'staged.txt', kind: 'modified' },
      { path: 'untracked-edited.txt', kind: 'modified' },
      { path: 'untracked-removed.txt', kind: 'deleted' },
    ]);
  });

  it('reports nothing for an edit undone within the turn', async () => {
    const dir = await repoWith({ 'a.txt': 'a\n' });
    const changes = await during(dir, async () => {
      await write(dir, 'a.txt', 'changed\n');
      await write(dir, 'a.txt', 'a\n');
      await write(dir, 'tmp.txt', 'scratch\n');
      await rm(path.join(dir, 'tmp.txt'));
    });
    expect(changes).toEqual([]);
  });

  it('reports renames: git mv, a plain mv, and a committed rename with an edit', async () => {
    const dir = await repoWith({ 'staged-old.txt': 'staged\n', 'moved-old.txt': 'moved\n', 'committed-old.txt': longText('c') });
    const changes = await during(dir, async () => {
      await git(dir, 'mv', 'staged-old.txt', 'staged-new.txt');
      await rename(path.join(dir, 'moved-old.txt'), path.join(dir, 'moved-new.txt'));
      await git(dir, 'mv', 'committed-old.txt', 'committed-new.txt');
      await write(dir, 'committed-new.txt', longText('c').replace('line 3 ', 'line three '));
      await git(dir, 'commit', '--quiet', '--all', '-m', 'rename');
    });
    expect(changes).toEqual([
      { path: 'committed-new.txt', kind: 'renamed', from: 'committed-old.txt' },
      { path: 'moved-new.txt', kind: 'renamed', from: 'moved-old.txt' },
      { path: 'staged-new.txt', kind: 'renamed', from: 'staged-old.txt' },
    ]);
  });

  it('reports what the agent committed during the turn, and edits made after its commit', async () => {
    const dir = await repoWith({ 'edit.txt': 'v1\n', 'remove.txt': 'remove\n', 'again.txt': 'v1\n', 'undone.txt': 'v1\n' });
    const changes = await during(dir, async () => {
      await write(dir, 'new.txt', 'new\n');
      await write(dir, 'edit.txt', 'v2\n');
      await write(dir, 'again.txt', 'v2\n');
      await write(dir, 'undone.txt', 'v2\n');
      await rm(path.join(dir, 'remove.txt'));
      await git(dir, 'add', '--all');
      await git(dir, 'commit', '--quiet', '-m', 'agent work');
      await write(dir, 'again.txt', 'v3\n');
      // Committed, then put back as it was before the turn: no change in the end.
      await write(dir, 'undone.txt', 'v1\n');
    });
    expect(changes).toEqual([
      { path: 'again.txt', kind: 'modified' },
      { path: 'edit.txt', kind: 'modified' },
      { path: 'new.txt', kind: 'created' },
      { path: 'remove.txt', kind: 'deleted' },
    ]);
  });

  it('keeps names with spaces, quotes, newlines, unicode and glob characters as they are', async () => {
    const names = ['with space.txt', '"quoted" \'both\'.txt', 'new\nline.txt', 'ünïcødé/日本語.md', '-dash.txt', 'star*[x]?.txt', 'tab\there'];
    const dir = await repoWith(Object.fromEntries(names.map((name) => [`old ${name}`, `${name} before\n`])));
    const changes = await during(dir, async () => {
      for (const name of names) {
        await write(dir, name, `${name} created\n`);
        await write(dir, `old ${name}`, `${name} after\n`);
      }
    });
    const expected = names.flatMap((name) => [
      { path: name, kind: 'created' },
      { path: `old ${name}`, kind: 'modified' },
    ]);
    expect(changes).toEqual(expect.arrayContaining(expected));
    expect(changes).toHaveLength(expected.length);
  });

  it('works in a repository with no commit yet, and across its first commit', async () => {
    const dir = await tempDir('berth-changes-');
    await git(dir, 'init', '--quiet');
    await write(dir, 'staged-before.txt', 'staged\n');
    await git(dir, 'add', 'staged-before.txt');
    await write(dir, 'untracked-before.txt', 'untracked\n');
    const snapshot = await snapshotWorkspace(dir);
    expect(snapshot.head).toBeNull();
    await write(dir, 'committed.txt', 'committed\n');
    await write(dir, 'left-untracked.txt', 'untracked\n');
    await write(dir, 'staged-before.txt', 'edited\n');
    await git(dir, 'add', 'committed.txt', 'staged-before.txt');
    await git(dir, 'commit', '--quiet', '-m', 'first');
    expect(await changedSince(dir, snapshot)).toEqual([
      { path: 'committed.txt', kind: 'created' },
      { path: 'left-untracked.txt', kind: 'created' },
      { path: 'staged-before.txt', kind: 'modified' },
    ]);
  });

  it('never follows a symbolic link out of the workspace', async () => {
    const outside = await tempDir('berth-outside-');
    await write(outside, 'secret.txt', 'secret v1\n');
    await write(outside, 'a.txt', 'a\n');
    const dir = await repoWith({ 'folder/a.txt': 'a\n' });
    await symlink(path.join(outside, 'secret.txt'), path.join(dir, 'link-to-secret'));
    const changes = await during(dir, async () => {
      // The link itself is unchanged: what it points to is not the workspace's business.
      await writeFile(path.join(outside, 'secret.txt'), 'secret v2\n');
      // A folder replaced by a link to an outside folder with the same content.
      await rm(path.join(dir, 'folder'), { recursive: true });
      await symlink(outside, path.join(dir, 'folder'));
    });
    expect(changes).toEqual([
      { path: 'folder', kind: 'created' },
      { path: 'folder/a.txt', kind: 'deleted' },
    ]);
  });

  it('reports a changed link target as a modification of the link', async () => {
    const dir = await repoWith({});
    await symlink('target-one', path.join(dir, 'link'));
    const changes = await during(dir, async () => {
      await rm(path.join(dir, 'link'));
      await symlink('target-two', path.join(dir, 'link'));
    });
    expect(changes).toEqual([{ path: 'link', kind: 'modified' }]);
  });

  it('in a workspace inside a larger repository, reports only its own files, relative to it', async () => {
    const top = await repoWith({ 'outer.txt': 'outer\n', 'project/inner.txt': 'inner\n' });
    const dir = path.join(top, 'project');
    const changes = await during(dir, async () => {
      await write(top, 'outer.txt', 'changed outside\n');
      await write(top, 'outer-new.txt', 'new outside\n');
      await write(dir, 'inner.txt', 'changed inside\n');
      await write(dir, 'deep/new.txt', 'new inside\n');
    });
    expect(changes).toEqual([
      { path: 'deep/new.txt', kind: 'created' },
      { path: 'inner.txt', kind: 'modified' },
    ]);
  });

  it('refuses a folder that is not in a git repository, with one line', async () => {
    const dir = await tempDir('berth-not-a-repo-');
    await expect(snapshotWorkspace(dir)).rejects.toThrow(BerthError);
    await expect(snapshotWorkspace(dir)).rejects.toThrow(/is not in a git repository$/);
  });
});
