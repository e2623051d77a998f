import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { ObservedContainer } from '../../src/domain/container.js';
import type { Project } from '../../src/domain/project.js';
import type { WorkClaim } from '../../src/domain/work.js';
import { currentProcess } from '../../src/runtime/process/process-identity.js';
import { defaultSettings } from '../../src/domain/settings.js';
import { diskUseOf, policySnapshot } from '../../src/services/policy-facts.js';
import type { StatsSnapshot } from '../../src/services/stats-sampler.js';

const NOW = Date.parse('2026-11-24T12:00:00Z');

const project = (name: string, change: Partial<Project> = {}): Project => ({
  name,
  path: `/w/${name}`,
  mode: 'container',
  ownsWorkspace: true,
  createdAt: '2026-11-01T00:00:00.000Z',
  lastActive: '2026-11-24T11:00:00.000Z',
  state: 'running',
  ...change,
});

const container = (id: string, name: string): ObservedContainer => ({
  id,
  name: `berth-${name}`,
  project: name,
  workspace: `/w/${name}`,
  image: 'berth-workspace:latest',
  status: 'running',
  health: 'healthy',
  failingStreak: 0,
  createdAt: '2026-11-24T10:00:00.000Z',
  startedAt: '2026-11-24T10:00:01.000Z',
  finishedAt: null,
  limits: { memoryBytes: 1000, cpus: 1, pids: 100 },
});

/** A pid that was alive a moment ago and is not now. */
function claim(owner: WorkClaim['owner']): WorkClaim {
  return { kind: 'turn', marker: '0123456789abcdef', owner, since: '2026-11-24T11:59:00.000Z', mode: 'workspace' };
}

function deadPid(): number {
  return spawnSync('true').pid!;
}

describe('policy facts', () => {
  it('is busy where this process works, or where a live berth process marked it; a dead one does not count', () => {
    const snapshot = policySnapshot({
      projects: [
        project('here'),
        // The test runner's parent stands for another berth process that runs.
        project('live', { work: [claim({ pid: process.ppid, start: '' })] }),
        project('stale', { work: [claim({ pid: deadPid(), start: '' })] }),
        project('reused', { work: [claim({ pid: process.ppid, start: 'another boot:1' })] }),
        // This process's own claim, released though its removal was not written: stale.
        project('released', { work: [claim(currentProcess())] }),
        project('free'),
      ],
      containers: new Map(),
      settings: defaultSettings(),
      now: NOW,
      busyHere: new Set(['here']),
      lastImagePrune: null,
    });
    expect(snapshot.projects.map((facts) => [facts.name, facts.busy])).toEqual([['here', true], ['live', true], ['stale', false], ['reused', false], ['released', false], ['free', false]]);
  });

  it("takes a project's own idle timeout, and memory ratios only from its current container's samples", () => {
    const stats: StatsSnapshot = new Map([
      ['a', { project: 'a', containerId: 'new', latest: sample(950), history: [sample(500), sample(950)] }],
      ['b', { project: 'b', containerId: 'old', latest: sample(990), history: [sample(990)] }],
    ]);
    const snapshot = policySnapshot({
      projects: [project('a', { settings: { 'policies.idleTimeout': '5m' } }), project('b')],
      containers: new Map([['a', container('new', 'a')], ['b', container('current', 'b')]]),
      settings: defaultSettings(),
      now: NOW,
      busyHere: new Set(),
      stats,
      lastImagePrune: null,
      diskUse: new Map([['/w/a', 0.5]]),
    });
    const [a, b] = snapshot.projects;
    expect(a).toMatchObject({ idleTimeoutMs: 300_000, container: { memoryRatios: [0.5, 0.95], diskUsedRatio: 0.5, memoryLimit: 1000 } });
    expect(b).toMatchObject({ idleTimeoutMs: 3_600_000, container: { memoryRatios: [] } });
    expect(b!.container!.diskUsedRatio).toBeUndefined();
  });

  it('reads how full a real filesystem is, and leaves out a path that is gone', async () => {
    const use = await diskUseOf(['/tmp', '/no/such/folder']);
    expect(use.get('/tmp')).toBeGreaterThan(0);
    expect(use.get('/tmp')).toBeLessThan(1);
    expect(use.has('/no/such/folder')).toBe(false);
  });
});

function sample(memoryUsed: number) {
  return { containerId: 'x', time: 0, cpuPercent: 0, memoryUsed, memoryLimit: 1000, pids: 1, network: { rxBytes: 0, txBytes: 0 }, block: { readBytes: 0, writeBytes: 0 } };
}
