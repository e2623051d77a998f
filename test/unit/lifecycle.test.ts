// A project's state and its container, each computed one way: the settings
// in force for the project (berth's, then its own), and the container named for it.
import { describe, expect, it } from 'vitest';
import { containerName, containerOf, type ObservedContainer } from '../../src/domain/container.js';
import { projectState } from '../../src/domain/lifecycle.js';
import type { Project } from '../../src/domain/project.js';
import { defaultSettings } from '../../src/domain/settings.js';

const NOW = Date.parse('2026-11-24T12:00:00Z');

const project = (change: Partial<Project> = {}): Project => ({
  name: 'boat',
  path: '/w/boat',
  mode: 'container',
  ownsWorkspace: true,
  createdAt: '2026-11-01T00:00:00.000Z',
  // Ten minutes ago.
  lastActive: '2026-11-24T11:50:00.000Z',
  state: 'running',
  ...change,
});

const container = (change: Partial<ObservedContainer> = {}): ObservedContainer => ({
  id: 'c1',
  name: containerName(project()),
  project: 'boat',
  workspace: '/w/boat',
  image: 'berth-workspace:latest',
  status: 'running',
  health: 'healthy',
  failingStreak: 0,
  createdAt: '2026-11-24T10:00:00.000Z',
  startedAt: '2026-11-24T10:00:01.000Z',
  finishedAt: null,
  limits: { memoryBytes: 1000, cpus: 1, pids: 100 },
  ...change,
});

describe('projectState', () => {
  it("is idle past the project's own idle timeout, berth's being longer, and the other way round", () => {
    const settings = defaultSettings();
    expect(projectState(project(), container(), settings, NOW)).toBe('healthy');
    expect(projectState(project({ settings: { 'policies.idleTimeout': '5m' } }), container(), settings, NOW)).toBe('idle');
    expect(projectState(project({ settings: { 'policies.idleTimeout': '2h' } }), container(), { ...settings, 'policies.idleTimeout': '5m' }, NOW)).toBe('healthy');
    expect(projectState(project(), container(), { ...settings, 'policies.idleTimeout': '5m' }, NOW)).toBe('idle');
  });

  it('follows the container first: none, stopped, starting and unhealthy are never idle', () => {
    const idle = project({ lastActive: '2026-11-01T00:00:00.000Z' });
    const settings = defaultSettings();
    expect(projectState(idle, undefined, settings, NOW)).toBe('none');
    expect(projectState(idle, container({ status: 'exited' }), settings, NOW)).toBe('stopped');
    expect(projectState(idle, container({ health: 'starting' }), settings, NOW)).toBe('starting');
    expect(projectState(idle, container({ health: 'unhealthy' }), settings, NOW)).toBe('unhealthy');
    expect(projectState(project({ mode: 'workspace', state: 'running' }), undefined, settings, NOW)).toBe('ready');
  });
});

describe('containerOf', () => {
  it('is the container named for the project, not another with its labels, running and newer', () => {
    const own = container({ id: 'own', status: 'exited' });
    const leftover = container({ id: 'leftover', name: 'berth-boat-leftover', createdAt: '2026-11-24T11:00:00.000Z' });
    expect(containerOf(project(), [leftover, own])?.id).toBe('own');
    expect(containerOf(project(), [leftover])).toBeUndefined();
    // The same name and another workspace is another project's container.
    expect(containerOf(project({ path: '/w/elsewhere' }), [own])).toBeUndefined();
  });
});
