/**
 * The checks made right before berth acts on a path, on real folders: which
 * folder is one berth created (and so may be handed to the agent or deleted),
 * and git init's own refusal of a system folder.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitInit } from '../../src/runtime/git.js';
import { isBerthWorkspace, isMountPoint, workspaceProblem } from '../../src/runtime/workspace-guard.js';
import { useTempDirs } from '../helpers/temp.js';

const tempDir = useTempDirs();

describe('a workspace berth created', () => {
  it('is exactly <home>/workspaces/<name>, a folder itself', async () => {
    const home = await tempDir();
    const elsewhere = await tempDir('berth-elsewhere-');
    const workspaces = path.join(home, 'workspaces');
    await mkdir(path.join(workspaces, 'app'), { recursive: true });
    await symlink(elsewhere, path.join(workspaces, 'link'));
    expect(await isBerthWorkspace(path.join(workspaces, 'app'), 'app', home)).toBe(true);
    expect(await isBerthWorkspace(path.join(workspaces, 'app'), 'other', home)).toBe(false);
    expect(await isBerthWorkspace(path.join(workspaces, 'link'), 'link', home)).toBe(false);
    expect(await isBerthWorkspace(elsewhere, 'app', home)).toBe(false);
    expect(await isBerthWorkspace(path.join(workspaces, 'missing'), 'missing', home)).toBe(false);
    expect(await isBerthWorkspace(workspaces, '..', home)).toBe(false);
  });

  it('is not one whose workspaces folder is a link to another tree', async () => {
    const home = await tempDir();
    const elsewhere = await tempDir('berth-elsewhere-');
    await mkdir(path.join(elsewhere, 'app'));
    await symlink(elsewhere, path.join(home, 'workspaces'));
    expect(await isBerthWorkspace(path.join(home, 'workspaces', 'app'), 'app', home)).toBe(false);
    expect(await workspaceProblem(path.join(home, 'workspaces', 'app'), 'app', { home })).toBeUndefined();
  });

  it.skipIf(process.getuid?.() !== 0)('is not one on which another tree is mounted', async () => {
    const home = await tempDir();
    const tree = await tempDir('berth-tree-');
    const workspace = path.join(home, 'workspaces', 'app');
    await mkdir(workspace, { recursive: true });
    expect(await isMountPoint(workspace)).toBe(false);
    await execa('mount', ['--bind', tree, workspace]);
    try {
      expect(await isMountPoint(workspace)).toBe(true);
      expect(await isBerthWorkspace(workspace, 'app', home)).toBe(false);
    } finally {
      await execa('umount', [workspace]);
    }
  });

  it("is the one folder inside berth's data folder that may be a workspace", async () => {
    const home = await tempDir();
    await mkdir(path.join(home, 'workspaces', 'app'), { recursive: true });
    expect(await workspaceProblem(path.join(home, 'workspaces', 'app'), 'app', { home })).toBeUndefined();
    expect(await workspaceProblem(path.join(home, 'workspaces', 'app'), 'other', { home })).toMatch(/is inside berth's data folder/);
    expect(await workspaceProblem(path.join(home, 'workspaces'), 'app', { home })).toMatch(/is inside berth's data folder/);
    expect(await workspaceProblem('/etc', 'app', { home })).toBe('/etc is a system folder');
    expect(await workspaceProblem(`${home}/a\nb`, 'app', { home })).toBe('the path has control characters');
  });
});

describe('git init', () => {
  it('refuses a system folder itself, in one line, whatever let it through', async () => {
    const hadGit = ['/etc', '/bin'].map((folder) => existsSync(path.join(folder, '.git')));
    try {
      await expect(gitInit('/etc')).rejects.toThrow(/^berth will not git init "\/etc": \/etc is a system folder$/);
      await expect(gitInit('/bin')).rejects.toThrow(/^berth will not git init "\/bin": \/usr\/bin is inside \/usr, a system folder$/);
      expect(existsSync('/etc/.git')).toBe(hadGit[0]);
    } finally {
      // Were they made a repository by a broken berth, this machine is put back as it was.
      for (const [index, folder] of ['/etc', '/bin'].entries()) if (!hadGit[index]) await rm(path.join(folder, '.git'), { recursive: true, force: true });
    }
  });

  it('makes a repository of an ordinary folder', async () => {
    const folder = await tempDir();
    await gitInit(folder);
    expect(existsSync(path.join(folder, '.git'))).toBe(true);
  });
});
