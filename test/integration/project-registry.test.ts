import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Project } from '../../src/domain/project.js';
import { ProjectRegistry } from '../../src/store/project-registry.js';
import { useTempDirs } from '../helpers/temp.js';

const project = (name: string): Project => ({
  name,
  path: `/srv/${name}`,
  mode: 'workspace',
  ownsWorkspace: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  lastActive: null,
  state: 'ready',
});

describe('project registry', () => {
  const tempDir = useTempDirs();

  it('starts empty and keeps what is saved', async () => {
    const file = path.join(await tempDir(), 'projects.json');
    const registry = new ProjectRegistry(file);
    expect(await registry.list()).toEqual([]);
    await registry.update((projects) => void projects.push(project('a')));
    expect(await new ProjectRegistry(file).list()).toEqual([project('a')]);
  });

  it('changes nothing when a change throws', async () => {
    const file = path.join(await tempDir(), 'projects.json');
    const registry = new ProjectRegistry(file);
    await registry.update((projects) => void projects.push(project('a')));
    const before = await readFile(file, 'utf8');
    await expect(
      registry.update((projects) => {
        projects.push(project('b'));
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('loses no change when many writers race', async () => {
    const file = path.join(await tempDir(), 'projects.json');
    const names = Array.from({ length: 12 }, (_, index) => `p${index}`);
    // Separate instances, as separate berth processes would be.
    await Promise.all(names.map((name) => new ProjectRegistry(file).update((projects) => void projects.push(project(name)))));
    expect((await new ProjectRegistry(file).list()).map((entry) => entry.name).sort()).toEqual([...names].sort());
  });

  it.each([
    ['not JSON', '{"version": 1, "projects": ['],
    ['the wrong shape', '{"projects": {}}'],
    ['an unknown version', '{"version": 99, "projects": []}'],
    ['an invalid name', JSON.stringify({ version: 1, projects: [{ ...project('a'), name: '../x' }] })],
    ['a relative path', JSON.stringify({ version: 1, projects: [{ ...project('a'), path: 'rel' }] })],
    ['a duplicate', JSON.stringify({ version: 1, projects: [project('a'), project('a')] })],
    ['the root as a path', JSON.stringify({ version: 1, projects: [{ ...project('a'), path: '/' }] })],
    ['a path with a newline', JSON.stringify({ version: 1, projects: [{ ...project('a'), path: '/srv/a\n/etc' }] })],
    ['a path with an escape', JSON.stringify({ version: 1, projects: [{ ...project('a'), path: '/srv/a\u001b[2J' }] })],
    ['a path with ..', JSON.stringify({ version: 1, projects: [{ ...project('a'), path: '/srv/a/../../etc' }] })],
    ['a path with a trailing /', JSON.stringify({ version: 1, projects: [{ ...project('a'), path: '/srv/a/' }] })],
  ])('reports a registry with %s, naming the file, and leaves it as it is', async (_what, content) => {
    const file = path.join(await tempDir(), 'projects.json');
    await writeFile(file, content);
    const registry = new ProjectRegistry(file);
    await expect(registry.list()).rejects.toThrow(`project registry ${file} is corrupted`);
    await expect(registry.list()).rejects.toThrow(/^[^\n]*$/);
    await expect(registry.update((projects) => void projects.push(project('b')))).rejects.toThrow(/corrupted/);
    expect(await readFile(file, 'utf8')).toBe(content);
  });

  it('keeps fields it does not know, written by a newer berth', async () => {
    const file = path.join(await tempDir(), 'projects.json');
    await writeFile(file, JSON.stringify({ version: 1, projects: [{ ...project('a'), futureField: 42 }] }));
    await new ProjectRegistry(file).update((projects) => void projects.push(project('b')));
    const saved = JSON.parse(await readFile(file, 'utf8')) as { projects: Array<Record<string, unknown>> };
    expect(saved.projects[0]!.futureField).toBe(42);
  });
});
