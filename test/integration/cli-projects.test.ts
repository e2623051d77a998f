import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBerth } from '../helpers/berth-cli.js';
import { snapshotTree, useTempDirs } from '../helpers/temp.js';

interface ListedProject {
  name: string;
  path: string;
  mode: string;
  state: string;
  lastActive: string | null;
}

async function listJson(home: string): Promise<ListedProject[]> {
  const result = await runBerth(['project', 'ls', '--json'], { home });
  expect(result.exitCode).toBe(0);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as ListedProject[];
}

async function auditActions(home: string): Promise<string[]> {
  const text = await readFile(path.join(home, 'audit.jsonl'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { action: string; project: string })
    .map((event) => `${event.action} ${event.project}`);
}

describe('berth project', () => {
  const tempDir = useTempDirs();

  it('adds a project with a workspace it creates and git-inits, lists it, and removes it with --purge', async () => {
    const home = await tempDir();
    const added = await runBerth(['project', 'add', 'web'], { home });
    expect(added).toMatchObject({ exitCode: 0, stderr: '' });
    const workspace = path.join(home, 'workspaces', 'web');
    expect(existsSync(path.join(workspace, '.git'))).toBe(true);

    const [listed] = await listJson(home);
    expect(listed).toMatchObject({ name: 'web', path: workspace, mode: 'workspace', state: 'ready', lastActive: null });

    const table = await runBerth(['project', 'ls'], { home });
    expect(table.stdout).toMatch(/NAME\s+MODE\s+STATE\s+LAST ACTIVE\s+PATH/);
    expect(table.stdout).toMatch(/web\s+workspace\s+ready\s+never\s+/);

    const removed = await runBerth(['project', 'rm', 'web', '--purge'], { home });
    expect(removed.exitCode).toBe(0);
    expect(existsSync(workspace)).toBe(false);
    expect(await listJson(home)).toEqual([]);
    expect(await auditActions(home)).toEqual(['add web', 'remove web', 'purge web']);
  });

  it('uses an existing folder with --path, making it a git repository, and never deletes it', async () => {
    const home = await tempDir();
    const folder = await tempDir('berth-existing-');
    await writeFile(path.join(folder, 'notes.txt'), 'keep me');
    const added = await runBerth(['project', 'add', 'api', '--path', folder, '--mode', 'container'], { home });
    expect(added.exitCode).toBe(0);
    expect(added.stdout).toContain(`initialised a git repository in ${folder}`);
    expect(existsSync(path.join(folder, '.git'))).toBe(true);
    expect(await listJson(home)).toMatchObject([{ name: 'api', path: folder, mode: 'container', state: 'none' }]);

    const removed = await runBerth(['project', 'rm', 'api', '--purge'], { home });
    expect(removed.exitCode).toBe(0);
    expect(removed.stdout).toContain(`kept ${folder}: berth did not create it`);
    expect(await readFile(path.join(folder, 'notes.txt'), 'utf8')).toBe('keep me');
  });

  it('keeps a workspace without --purge, and takes it back with --path, as the refusal to create it over itself says', async () => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'keep'], { home });
    expect((await runBerth(['project', 'rm', 'keep'], { home })).exitCode).toBe(0);
    const workspace = path.join(home, 'workspaces', 'keep');
    expect(existsSync(path.join(workspace, '.git'))).toBe(true);
    expect((await runBerth(['project', 'add', 'keep'], { home })).stderr).toBe(`berth: ${workspace} exists already: add it with --path, or move it away\n`);
    const again = await runBerth(['project', 'add', 'keep', '--path', workspace], { home });
    expect(again, again.stderr).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await listJson(home)).toMatchObject([{ name: 'keep', path: workspace }]);
  });

  it('changes the mode with project set', async () => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'svc'], { home });
    const set = await runBerth(['project', 'set', 'svc', 'mode', 'container'], { home });
    expect(set).toMatchObject({ exitCode: 0, stdout: 'project svc now runs in container mode\n' });
    expect(await listJson(home)).toMatchObject([{ name: 'svc', mode: 'container', state: 'none' }]);
    expect(await auditActions(home)).toEqual(['add svc', 'mode svc']);
  });

  it('overrides settings per project, validated like berth-wide ones, and drops an override with unset', async () => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'big'], { home });
    const set = await runBerth(['project', 'set', 'big', 'container.memory', '4g'], { home });
    expect(set).toMatchObject({ exitCode: 0, stdout: 'big: container.memory = 4g\n' });
    expect(await listJson(home)).toMatchObject([{ name: 'big', settings: { 'container.memory': '4g' } }]);

    const before = await snapshotTree(home);
    const refusals: Array<[string[], RegExp]> = [
      [['project', 'set', 'big', 'container.memory', '1k'], /^berth: setting container\.memory: must be between 256m and 1024g, got "1k"\n$/],
      [['project', 'set', 'big', 'container.memory', 'lots'], /^berth: setting container\.memory: expected a size such as 512m or 2g/],
      [['project', 'set', 'big', 'container.pids', '1'], /^berth: setting container\.pids: must be between 64/],
      [['project', 'set', 'big', 'colour', 'red'], /^berth: unknown setting "colour": see berth config list\n$/],
      [['project', 'set', 'big', 'policies.maxRunning', '3'], /^berth: setting policies\.maxRunning applies to all projects: use berth config set\n$/],
      [['project', 'set', 'ghost', 'container.memory', '4g'], /^berth: no project named "ghost"/],
    ];
    for (const [args, message] of refusals) {
      const result = await runBerth(args, { home });
      expect(result.exitCode, args.join(' ')).toBe(1);
      expect(result.stderr).toMatch(message);
    }
    expect(await snapshotTree(home)).toEqual(before);

    expect((await runBerth(['project', 'unset', 'big', 'container.memory'], { home })).exitCode).toBe(0);
    expect(await listJson(home)).toMatchObject([{ name: 'big', settings: {} }]);
  });

  it('takes the default mode from the settings', async () => {
    const home = await tempDir();
    expect((await runBerth(['config', 'set', 'defaults.mode', 'container'], { home })).exitCode).toBe(0);
    await runBerth(['project', 'add', 'boxed'], { home });
    expect(await listJson(home)).toMatchObject([{ name: 'boxed', mode: 'container' }]);
  });

  const hostileNames = [
    '',
    '../escape',
    '..',
    'a/b',
    'my app',
    'x;touch pwned',
    '$(touch pwned)',
    '`id`',
    'UPPER',
    '-rf',
    'a'.repeat(64),
    'nul\0byte',
    'look‐alike',
    'ａｐｐ',
  ];

  it.each(hostileNames)('refuses the name %j with a one-line error and changes nothing', async (name) => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'existing'], { home });
    const before = await snapshotTree(home);
    // A NUL byte cannot cross exec: the OS refuses it before berth runs.
    if (name.includes('\0')) return expect(() => runBerth(['project', 'add', name], { home })).rejects.toThrow();
    const result = await runBerth(['project', 'add', '--', name], { home });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^berth: invalid project name .*\n$/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(await snapshotTree(home)).toEqual(before);
    expect(existsSync(path.join(home, 'pwned'))).toBe(false);
  });

  it('refuses a duplicate name, a missing --path folder, a file as --path and a bad mode, changing nothing', async () => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'dup'], { home });
    const file = path.join(home, 'a-file');
    await writeFile(file, '');
    const before = await snapshotTree(home);
    const cases: Array<[string[], RegExp]> = [
      [['project', 'add', 'dup'], /^berth: a project named dup exists already\n$/],
      [['project', 'add', 'new', '--path', path.join(home, 'missing')], /^berth: no folder at .*--path takes an existing folder\n$/],
      [['project', 'add', 'new', '--path', file], /is not a folder\n$/],
      [['project', 'add', 'new', '--mode', 'vm'], /^berth: invalid mode "vm": use workspace or container\n$/],
      [['project', 'add', 'new', '--path', path.join(home, 'workspaces', 'dup')], /cannot be a workspace: .*workspaces\/dup is inside berth's data folder /],
      [['project', 'add', 'dup', '--path', path.join(home, 'workspaces', 'dup')], /^berth: a project named dup exists already\n$/],
      [['project', 'rm', 'ghost'], /^berth: no project named "ghost": see berth project ls\n$/],
      [['project', 'set', 'ghost', 'mode', 'container'], /^berth: no project named "ghost"/],
      [['project', 'set', 'dup', 'mode', 'vm'], /^berth: invalid mode "vm"/],
    ];
    for (const [args, message] of cases) {
      const result = await runBerth(args, { home });
      expect(result.exitCode, args.join(' ')).toBe(1);
      expect(result.stderr).toMatch(message);
    }
    expect(await snapshotTree(home)).toEqual(before);
  });

  it('reports a corrupted registry with its path and leaves it untouched', async () => {
    const home = await tempDir();
    const registry = path.join(home, 'projects.json');
    await writeFile(registry, '{"version": 1, "projects": [ {');
    for (const args of [['project', 'ls'], ['project', 'add', 'x'], ['project', 'ls', '--json']]) {
      const result = await runBerth(args, { home });
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(new RegExp(`^berth: project registry ${registry} is corrupted .*\\n$`));
    }
    expect(await readFile(registry, 'utf8')).toBe('{"version": 1, "projects": [ {');
    expect(existsSync(path.join(home, 'workspaces', 'x'))).toBe(false);
  });

  it('refuses to create a workspace over an existing folder', async () => {
    const home = await tempDir();
    await mkdir(path.join(home, 'workspaces', 'old'), { recursive: true });
    await writeFile(path.join(home, 'workspaces', 'old', 'data'), 'x');
    const result = await runBerth(['project', 'add', 'old'], { home });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('exists already: add it with --path');
    expect(await readFile(path.join(home, 'workspaces', 'old', 'data'), 'utf8')).toBe('x');
    expect(await listJson(home)).toEqual([]);
  });
});
