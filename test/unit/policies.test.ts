import { describe, expect, it } from 'vitest';
import { planPass, planStart, type ContainerFacts, type PolicySnapshot, type ProjectFacts } from '../../src/domain/policies.js';

const NOW = Date.parse('2026-11-24T12:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const GIB = 1024 ** 3;

function container(change: Partial<ContainerFacts> = {}): ContainerFacts {
  return {
    id: 'c',
    status: 'running',
    failingStreak: 0,
    createdAt: NOW - 2 * HOUR,
    startedAt: NOW - 2 * HOUR,
    finishedAt: null,
    memoryLimit: 2 * GIB,
    memoryRatios: [],
    ...change,
  };
}

function project(name: string, change: Partial<ProjectFacts> = {}): ProjectFacts {
  return {
    name,
    mode: 'container',
    ownsWorkspace: true,
    workspace: `/data/workspaces/${name}`,
    createdAt: NOW - 10 * DAY,
    lastActive: NOW - MIN,
    idleTimeoutMs: 60 * MIN,
    busy: false,
    lastHealthRefresh: null,
    container: container(),
    ...change,
  };
}

function snapshot(projects: ProjectFacts[], change: Partial<PolicySnapshot['limits']> = {}, now = NOW): PolicySnapshot {
  return {
    now,
    limits: { maxRunning: 5, maxAgeMs: 72 * HOUR, removeStoppedAfterMs: 7 * DAY, workspaceMaxAgeMs: null, maxCommitPercent: 100, ...change },
    projects,
    lastImagePrune: now - HOUR,
  };
}

const kinds = (actions: ReturnType<typeof planPass>) => actions.map((action) => `${action.kind}${'project' in action ? ` ${action.project}` : ''}`);

describe('idle stop', () => {
  it('stops a running container idle for longer than its idle timeout, and says why', () => {
    const actions = planPass(snapshot([project('old', { lastActive: NOW - 61 * MIN }), project('fresh')]));
    expect(kinds(actions)).toEqual(['stop old']);
    expect(actions[0]).toMatchObject({ reason: 'idle for 1h1m (policies.idleTimeout 1h)' });
  });

  it('never stops a busy project, however idle it looks', () => {
    expect(planPass(snapshot([project('busy', { lastActive: NOW - 5 * HOUR, busy: true })]))).toEqual([]);
  });

  it("uses the project's own idle timeout, and the start time when it never had activity", () => {
    expect(kinds(planPass(snapshot([project('short', { idleTimeoutMs: 2_000, lastActive: NOW - 3_000 })])))).toEqual(['stop short']);
    const neverUsed = project('unused', { lastActive: null, container: container({ startedAt: NOW - 2 * HOUR }) });
    expect(kinds(planPass(snapshot([neverUsed])))).toEqual(['stop unused']);
  });

  it('reads a last activity ahead of the clock as now (clock skew), not as long ago', () => {
    expect(planPass(snapshot([project('skewed', { lastActive: NOW + 3 * HOUR })]))).toEqual([]);
  });

  it('leaves workspace projects and stopped containers alone', () => {
    expect(planPass(snapshot([project('ws', { mode: 'workspace', container: undefined, lastActive: NOW - DAY })]))).toEqual([]);
    expect(planPass(snapshot([project('off', { container: container({ status: 'exited', finishedAt: NOW - HOUR }), lastActive: NOW - DAY })]))).toEqual([]);
  });
});

describe('the LRU cap in a pass', () => {
  it('evicts the least recently used over the cap, never a busy one, ties by name', () => {
    const projects = [
      project('a', { lastActive: NOW - 30 * MIN }),
      project('b', { lastActive: NOW - 40 * MIN, busy: true }),
      project('c', { lastActive: NOW - 20 * MIN }),
      project('d', { lastActive: NOW - 30 * MIN }),
    ];
    expect(kinds(planPass(snapshot(projects, { maxRunning: 2 })))).toEqual(['evict a', 'evict d']);
  });

  it('counts an idle stop toward the cap', () => {
    const projects = [project('idle', { lastActive: NOW - 2 * HOUR }), project('x'), project('y')];
    expect(kinds(planPass(snapshot(projects, { maxRunning: 2 })))).toEqual(['stop idle']);
  });
});

describe('health refresh', () => {
  it('recreates after three failed checks, past the age limit, with a full disk, or with memory high over three samples', () => {
    const cases: Array<[ProjectFacts, RegExp]> = [
      [project('sick', { container: container({ failingStreak: 3 }) }), /healthcheck failed 3 times in a row/],
      [project('old', { container: container({ createdAt: NOW - 73 * HOUR }) }), /3d1h old \(policies.maxAge 3d\)/],
      [project('full', { container: container({ diskUsedRatio: 0.85 }) }), /workspace disk is 85% full/],
      [project('hungry', { container: container({ memoryRatios: [0.5, 0.95, 0.93, 0.99] }) }), /memory above 90% of its limit over 3 samples/],
    ];
    for (const [facts, reason] of cases) {
      const actions = planPass(snapshot([facts]));
      expect(kinds(actions), facts.name).toEqual([`refresh ${facts.name}`]);
      expect(actions[0]!.reason).toMatch(reason);
    }
  });

  it('does not refresh for two failures, one high sample, or during a turn (it waits for the turn to end)', () => {
    expect(planPass(snapshot([project('a', { container: container({ failingStreak: 2 }) })]))).toEqual([]);
    expect(planPass(snapshot([project('b', { container: container({ memoryRatios: [0.5, 0.95, 0.5] }) })]))).toEqual([]);
    expect(planPass(snapshot([project('c', { busy: true, container: container({ failingStreak: 5 }) })]))).toEqual([]);
  });

  it('does not recreate the same container again within the cool-down, so a broken image cannot loop', () => {
    const sick = (lastHealthRefresh: number) => project('sick', { lastHealthRefresh, container: container({ failingStreak: 3 }) });
    expect(planPass(snapshot([sick(NOW - 5 * MIN)]))).toEqual([]);
    expect(kinds(planPass(snapshot([sick(NOW - 11 * MIN)])))).toEqual(['refresh sick']);
  });
});

describe('clean-up', () => {
  it('removes containers stopped for longer than removeStoppedAfter', () => {
    const stopped = (name: string, ago: number) => project(name, { container: container({ status: 'exited', finishedAt: NOW - ago }) });
    const actions = planPass(snapshot([stopped('long', 8 * DAY), stopped('recent', DAY)]));
    expect(kinds(actions)).toEqual(['remove long']);
    expect(actions[0]!.reason).toBe('stopped for 8d (policies.removeStoppedAfter 7d)');
  });

  it('offers idle workspaces that berth created for removal, only when workspaceMaxAge is set', () => {
    const projects = [
      project('stale', { lastActive: NOW - 40 * DAY, container: undefined }),
      project('theirs', { lastActive: NOW - 40 * DAY, container: undefined, ownsWorkspace: false }),
      project('used', { lastActive: NOW - DAY, container: undefined }),
    ];
    expect(planPass(snapshot(projects))).toEqual([]);
    const actions = planPass(snapshot(projects, { workspaceMaxAgeMs: 30 * DAY }));
    expect(actions).toEqual([{ kind: 'remove-workspace', project: 'stale', path: '/data/workspaces/stale', reason: 'no activity for 40d (policies.workspaceMaxAge 30d)' }]);
  });

  it('prunes images when never pruned, or a week after the last time, once some project uses the engine', () => {
    const used = [project('box')];
    expect(kinds(planPass({ ...snapshot(used), lastImagePrune: null }))).toEqual(['prune-images']);
    expect(kinds(planPass({ ...snapshot(used), lastImagePrune: NOW - 8 * DAY }))).toEqual(['prune-images']);
    expect(planPass({ ...snapshot(used), lastImagePrune: NOW - 6 * DAY })).toEqual([]);
    expect(planPass({ ...snapshot([project('ws', { mode: 'workspace', container: undefined })]), lastImagePrune: null })).toEqual([]);
  });
});

describe('starting a container', () => {
  const host = { total: 24 * GIB };

  it('starts freely under the cap', () => {
    expect(planStart(snapshot([project('a')], { maxRunning: 2 }), { project: 'new', memoryLimit: 2 * GIB }, host)).toEqual({ allowed: true, evict: [] });
  });

  it('at the cap, stops the least recently used first, never a busy one', () => {
    const projects = [project('a', { lastActive: NOW - 5 * MIN, busy: true }), project('b', { lastActive: NOW - MIN })];
    const decision = planStart(snapshot(projects, { maxRunning: 2 }), { project: 'c', memoryLimit: GIB }, host);
    expect(decision).toEqual({ allowed: true, evict: [{ project: 'b', reason: expect.stringMatching(/making room for c/) }] });
  });

  it('refuses with a clear message when every running container is busy', () => {
    const projects = [project('a', { busy: true }), project('b', { busy: true })];
    const decision = planStart(snapshot(projects, { maxRunning: 2 }), { project: 'c', memoryLimit: GIB }, host);
    expect(decision).toEqual({ allowed: false, reason: expect.stringMatching(/cannot start c: 2 containers run \(policies.maxRunning is 2\) and a, b are busy/) });
  });

  it('does not count the project itself, when it runs already', () => {
    expect(planStart(snapshot([project('a')], { maxRunning: 1 }), { project: 'a', memoryLimit: GIB }, host)).toEqual({ allowed: true, evict: [] });
  });

  it('refuses a start that would overcommit memory, naming who holds the most', () => {
    const projects = [
      project('big', { container: container({ memoryLimit: 8 * GIB }) }),
      project('mid', { container: container({ memoryLimit: 4 * GIB }) }),
      project('off', { container: container({ status: 'exited', memoryLimit: 16 * GIB }) }),
    ];
    const decision = planStart(snapshot(projects, { maxCommitPercent: 50 }), { project: 'new', memoryLimit: 2 * GIB }, { ...host, available: 20 * GIB });
    expect(decision).toEqual({
      allowed: false,
      reason: 'cannot start new: its 2.0G would commit 14G of 12G (policies.maxCommit 50% of 24G, 20G available now); the most is held by big 8.0G, mid 4.0G',
    });
    expect(planStart(snapshot(projects, { maxCommitPercent: 60 }), { project: 'new', memoryLimit: 2 * GIB }, host)).toMatchObject({ allowed: true });
  });

  it('counts memory after the evictions it plans', () => {
    const projects = [project('big', { lastActive: NOW - HOUR + MIN, container: container({ memoryLimit: 10 * GIB }) })];
    const decision = planStart(snapshot(projects, { maxRunning: 1, maxCommitPercent: 50 }), { project: 'new', memoryLimit: 4 * GIB }, host);
    expect(decision).toEqual({ allowed: true, evict: [{ project: 'big', reason: expect.any(String) }] });
  });
});
