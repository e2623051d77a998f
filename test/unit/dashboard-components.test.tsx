import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import type { ObservedContainer } from '../../src/domain/container.js';
import type { Project } from '../../src/domain/project.js';
import type { StatsSample } from '../../src/runtime/types.js';
import type { EngineView, HostStats, ProjectView } from '../../src/services/control-center-state.js';
import { DetailsPane, detailLines, detailsTitle } from '../../src/ui/components/dashboard/details-pane.js';
import { Header } from '../../src/ui/components/dashboard/header.js';
import { listColumns, ProjectList } from '../../src/ui/components/dashboard/project-list.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const flush = () => new Promise((resolve) => setTimeout(resolve, 20));
/** Ink's frames as lines, without trailing blanks a terminal would not show. */
const linesOf = (frame: string | undefined) => (frame ?? '').split('\n');
const widest = (frame: string | undefined) => Math.max(...linesOf(frame).map((line) => [...line].length));

function project(name: string, overrides: Partial<Project> = {}): Project {
  return {
    name,
    path: `/home/dev/src/${name}`,
    mode: 'workspace',
    ownsWorkspace: false,
    createdAt: '2025-05-01T00:00:00Z',
    lastActive: null,
    state: 'ready',
    ...overrides,
  };
}

function container(name: string, overrides: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id: '3f2a1b4c5d6e7f8091a2b3c4d5e6f708',
    name: `berth-${name}-abcdef012345`,
    project: name,
    workspace: `/home/dev/src/${name}`,
    image: 'berth-workspace:latest',
    status: 'running',
    health: 'healthy',
    failingStreak: 0,
    createdAt: '2025-06-01T08:00:00Z',
    startedAt: '2025-06-01T08:48:00Z',
    finishedAt: null,
    limits: { memoryBytes: 2 * GiB, cpus: 2, pids: 512 },
    ...overrides,
  };
}

function sample(time: number, cpuPercent: number): StatsSample {
  return {
    containerId: '3f2a1b4c5d6e',
    time,
    cpuPercent,
    memoryUsed: 412 * MiB,
    memoryLimit: 2 * GiB,
    pids: 12,
    network: { rxBytes: 0, txBytes: 0 },
    block: { readBytes: 0, writeBytes: 0 },
  };
}

/** A container project, running for a while, with three minutes of rising CPU. */
function runningView(name: string, overrides: Partial<ProjectView> = {}): ProjectView {
  const history = Array.from({ length: 90 }, (_, index) => sample(NOW - (89 - index) * 2_000, (index / 89) * 200));
  return {
    project: project(name, { mode: 'container', state: 'healthy', lastActive: new Date(NOW - 3 * 60_000).toISOString() }),
    state: 'healthy',
    container: container(name),
    stats: { project: name, containerId: '3f2a1b4c5d6e', latest: history.at(-1)!, history },
    ...overrides,
  };
}

function workspaceView(name: string): ProjectView {
  return { project: project(name), state: 'ready' };
}

function manyViews(count: number): ProjectView[] {
  return Array.from({ length: count }, (_, index) =>
    index % 3 === 0 ? runningView(`project-${String(index).padStart(3, '0')}`) : workspaceView(`project-${String(index).padStart(3, '0')}`),
  );
}

const engine: EngineView = { address: 'unix:///var/run/docker.sock', status: { state: 'connected' } };
const host: HostStats = { cpuPercent: 12.4, memoryUsed: 6.1 * GiB, memoryTotal: 16 * GiB, diskUsed: 120 * GiB, diskTotal: 500 * GiB, time: NOW };

describe('Header', () => {
  it('shows the version, the engine and its state, and the host', () => {
    const { lastFrame } = render(<Header width={100} version="1.2.3" engine={engine} host={host} />);
    const frame = lastFrame() ?? '';
    expect(frame).toMatch(/^berth 1\.2\.3 +● unix:\/\/\/var\/run\/docker\.sock connected/);
    expect(frame).toMatch(/cpu 12% +mem 6\.1G\/16G +disk 120G\/500G$/);
    expect(linesOf(frame)).toHaveLength(1);
    expect(widest(frame)).toBeLessThanOrEqual(100);
  });

  it('counts the requests that wait for you, right after the version', () => {
    const { lastFrame } = render(<Header width={100} version="1.2.3" engine={engine} host={host} waiting={2} />);
    const frame = lastFrame() ?? '';
    expect(frame).toMatch(/^berth 1\.2\.3 {2}\? 2 waiting for you {2}● /);
    expect(widest(frame)).toBeLessThanOrEqual(100);
    expect(render(<Header width={100} version="1.2.3" engine={engine} host={host} waiting={0} />).lastFrame()).not.toContain('waiting');
  });

  it('at 80 columns cuts the address before anything else', () => {
    const long: EngineView = { address: 'ssh://developer@build-server.example.internal', status: { state: 'connected' } };
    const { lastFrame } = render(<Header width={80} version="1.2.3" engine={long} host={host} />);
    const frame = lastFrame() ?? '';
    expect(frame).toContain('ssh://dev');
    expect(frame).toContain('…');
    expect(frame).toContain('connected');
    expect(frame).toContain('disk 120G/500G');
    expect(widest(frame)).toBeLessThanOrEqual(80);
  });

  it('shortens the reason of an unreachable engine to one line', () => {
    const down: EngineView = {
      address: 'unix:///var/run/docker.sock',
      status: { state: 'unreachable', error: 'connect ENOENT /var/run/docker.sock\n    at PipeConnectWrap.afterConnect' },
    };
    const { lastFrame } = render(<Header width={100} version="1.2.3" engine={down} host={host} />);
    const frame = lastFrame() ?? '';
    expect(frame).toContain('✗');
    expect(frame).toContain('unreachable: connect ENOENT');
    expect(frame).not.toContain('PipeConnectWrap');
    expect(linesOf(frame)).toHaveLength(1);
    expect(widest(frame)).toBeLessThanOrEqual(100);
  });

  it('says when no engine is needed, and drops host figures before the state when narrow', () => {
    const unused: EngineView = { address: 'unix:///var/run/docker.sock', status: { state: 'unused' } };
    const { lastFrame } = render(<Header width={40} version="1.2.3" engine={unused} host={host} />);
    const frame = lastFrame() ?? '';
    expect(frame).toContain('no engine needed');
    expect(frame).not.toContain('docker.sock');
    expect(frame).not.toContain('disk');
    expect(widest(frame)).toBeLessThanOrEqual(40);
  });
});

describe('ProjectList', () => {
  const mixed = [runningView('webapp'), workspaceView('notes'), runningView('api', { turn: { running: true, cancelling: false, startedAt: NOW - 5_000 } })];

  it('reads without colour: state symbols and words, CPU with a sparkline, memory, last active, the turn marker', () => {
    const { lastFrame } = render(<ProjectList projects={mixed} selected="webapp" width={100} height={10} focused now={NOW} />);
    const lines = linesOf(lastFrame());
    expect(lines[0]).toMatch(/NAME +MODE +STATE +CPU +MEM +ACTIVE +AGENT/);
    const webapp = lines.find((line) => line.includes('webapp'))!;
    expect(webapp).toMatch(/^› webapp +container +● healthy +200%/);
    // Rising CPU over the history: the chart climbs to a full bar.
    expect(webapp).toMatch(/[▁▂▃▄▅▆▇]+█/);
    expect(webapp).toContain('412M/2.0G');
    expect(webapp).toContain('3m ago');
    const notes = lines.find((line) => line.includes('notes'))!;
    expect(notes).toMatch(/^ {2}notes +workspace +● ready +—/);
    expect(notes).not.toMatch(/[▁▂▃▄▅▆▇█%]/);
    expect(lines.find((line) => line.includes('api'))).toContain('⟳ working');
  });

  it('says cancelling, and shows long work on a project', () => {
    const views = [
      runningView('api', { turn: { running: true, cancelling: true, startedAt: NOW - 5_000 } }),
      { ...workspaceView('fresh'), project: project('fresh', { mode: 'container', state: 'none' }), state: 'none' as const, progress: 'creating the container…' },
    ];
    const { lastFrame } = render(<ProjectList projects={views} selected="api" width={120} height={5} focused now={NOW} />);
    const lines = linesOf(lastFrame());
    expect(lines.find((line) => line.includes('api'))).toContain('cancelling');
    const fresh = lines.find((line) => line.includes('fresh'))!;
    expect(fresh).toContain('○ none');
    expect(fresh).toContain('⟳ creating the container…');
  });

  it("shows each agent's state as a symbol and a word: waiting for you, working, done or failed since last seen, idle", () => {
    const ended = (name: string, outcome: 'success' | 'error', endedAt: number) => ({ ...workspaceView(name), turn: { running: false, cancelling: false, startedAt: endedAt - 1_000, outcome, endedAt } });
    const views = [
      { ...workspaceView('asks'), turn: { running: true, cancelling: false, startedAt: NOW - 5_000 } },
      { ...workspaceView('toils'), turn: { running: true, cancelling: false, startedAt: NOW - 5_000 } },
      ended('finished', 'success', NOW - 2_000),
      ended('broke', 'error', NOW - 2_000),
      ended('looked', 'success', NOW - 2_000),
      workspaceView('quiet'),
    ];
    const { lastFrame } = render(
      <ProjectList projects={views} selected="asks" width={120} height={8} focused now={NOW} waiting={new Set(['asks'])} seen={{ looked: NOW - 1_000, finished: NOW - 3_000 }} />,
    );
    const row = (name: string) => linesOf(lastFrame()).find((line) => line.includes(name))!;
    expect(row('asks')).toMatch(/\? waiting for you$/);
    expect(row('toils')).toMatch(/⟳ working$/);
    expect(row('finished')).toMatch(/✓ done$/);
    expect(row('broke')).toMatch(/✗ failed$/);
    expect(row('looked')).toMatch(/· idle$/);
    expect(row('quiet')).toMatch(/· idle$/);
  });

  it('adds the health when the state word does not say it', () => {
    const idle = runningView('quiet', { state: 'idle', container: container('quiet', { health: 'unhealthy', failingStreak: 2 }) });
    const { lastFrame } = render(<ProjectList projects={[idle]} selected="quiet" width={120} height={3} focused now={NOW} />);
    expect(lastFrame()).toContain('◌ idle, unhealthy');
  });

  it.each([80, 100, 120])('fits %i columns and the height, with 300 projects', (width) => {
    const views = manyViews(300);
    const { lastFrame } = render(<ProjectList projects={views} selected="project-150" width={width} height={13} focused now={NOW} />);
    const lines = linesOf(lastFrame());
    expect(lines.length).toBeLessThanOrEqual(13);
    expect(widest(lastFrame())).toBeLessThanOrEqual(width);
    expect(lines.filter((line) => line.includes('project-'))).toHaveLength(12);
    expect(lines.find((line) => line.startsWith('›'))).toContain('project-150');
    expect(lines[0]).toMatch(/151 of 300$/);
  });

  it('at 80 columns keeps every column, with a narrower sparkline', () => {
    expect(listColumns(80)).toMatchObject({ spark: 6, mode: 9, memory: 9, active: 8 });
    expect(listColumns(120).spark).toBe(10);
    expect(listColumns(50)).toMatchObject({ spark: 0, mode: 0 });
    const { lastFrame } = render(<ProjectList projects={[runningView('webapp')]} selected="webapp" width={80} height={3} focused now={NOW} />);
    const row = linesOf(lastFrame())[1]!;
    expect(row).toMatch(/container +● healthy +200% [▁▂▃▄▅▆▇█]{6} 412M\/2\.0G +3m ago/);
    expect([...row].length).toBeLessThanOrEqual(80);
  });

  it('drops columns in order when narrower, never the state', () => {
    const { lastFrame } = render(<ProjectList projects={[runningView('webapp')]} selected="webapp" width={44} height={3} focused now={NOW} />);
    const row = linesOf(lastFrame())[1]!;
    expect(row).toContain('● healthy');
    expect(row).not.toContain('container');
    expect([...row].length).toBeLessThanOrEqual(44);
  });

  it('keeps the selection visible while it moves through 300 projects, scrolling minimally', () => {
    const views = manyViews(300);
    const names = views.map((view) => view.project.name);
    const list = (selected: string) => <ProjectList projects={views} selected={selected} width={80} height={11} focused={false} now={NOW} />;
    const app = render(list(names[0]!));
    const firstShown = () => linesOf(app.lastFrame())[1]!;
    for (const index of [5, 9, 10, 11, 4, 200, 299, 150]) {
      app.rerender(list(names[index]!));
      const lines = linesOf(app.lastFrame());
      expect(lines.length).toBeLessThanOrEqual(11);
      expect(lines.find((line) => line.startsWith('›'))).toContain(names[index]);
    }
    // From the top edge (150 first): one past the bottom edge scrolls by one row, not by a page; back inside, nothing moves.
    expect(firstShown()).toContain('project-150');
    app.rerender(list(names[160]!));
    expect(firstShown()).toContain('project-151');
    app.rerender(list(names[155]!));
    expect(firstShown()).toContain('project-151');
  });

  it('says how to start when there are no projects', () => {
    const { lastFrame } = render(<ProjectList projects={[]} selected={undefined} width={80} height={5} focused now={NOW} />);
    expect(lastFrame()).toContain('No projects yet — press n to add one');
    expect(linesOf(lastFrame()).length).toBeLessThanOrEqual(5);
  });

  it('marks the selected row with › even when the list is not focused', () => {
    const { lastFrame } = render(<ProjectList projects={mixed} selected="notes" width={80} height={5} focused={false} now={NOW} />);
    const marked = linesOf(lastFrame()).filter((line) => line.includes('›'));
    expect(marked).toHaveLength(1);
    expect(marked[0]).toContain('notes');
  });
});

describe('DetailsPane', () => {
  const view = runningView('webapp', {
    project: {
      ...project('webapp', { mode: 'container', state: 'healthy', sessionId: 'sess-1234', lastActive: new Date(NOW - 60_000).toISOString() }),
      usage: { turns: 12, tokensIn: 120_000, tokensOut: 30_400, costUsd: 1.234, agentMs: 60_000 },
    },
    container: container('webapp', {
      health: 'healthy',
      failingStreak: 1,
      healthLog: [
        { time: new Date(NOW - 70_000).toISOString(), exitCode: 1, output: 'claude: not found' },
        { time: new Date(NOW - 10_000).toISOString(), exitCode: 0, output: '' },
      ],
    }),
    turn: {
      running: false,
      cancelling: false,
      startedAt: NOW - 20_000,
      outcome: 'error',
      usage: { durationMs: 12_300, turns: 3, tokensIn: 1_200, tokensOut: 3_400, costUsd: 0.0123 },
      error: 'the agent stopped: rate limited\nretry later',
    },
  });

  it('lists what there is to know about the project', () => {
    const text = detailLines(view, NOW)
      .map((line) => `${line.label}: ${line.value}`)
      .join('\n');
    expect(text).toContain('workspace: /home/dev/src/webapp');
    expect(detailsTitle(view)).toBe('webapp — container');
    expect(text).toContain('container: 3f2a1b4c5d6e  berth-workspace:latest');
    expect(text).not.toContain('3f2a1b4c5d6e7');
    expect(text).toContain('limits: 2.0G memory · 2 CPUs · 512 pids');
    expect(text).toContain('uptime: 3h12m');
    expect(text).toContain('health: healthy · 1 failed check in a row');
    expect(text).toContain('last turn: ✗ error · $0.0123 · 1.2k in / 3.4k out · 12.3s');
    expect(text).toContain('error: the agent stopped: rate limited');
    expect(text).not.toContain('retry later');
    expect(text).toContain('usage: 12 turns · 120k in · 30k out · $1.23');
    expect(text).toContain('session: sess-1234');
    // The engine's healthchecks, the newest first.
    expect(text).toContain('checks: ✓ 10s ago, exit 0\n: ✗ 1m ago, exit 1: claude: not found');
  });

  it('shows a running turn and a workspace project plainly', () => {
    const running = detailLines({ ...workspaceView('notes'), turn: { running: true, cancelling: true, startedAt: NOW - 45_000 } }, NOW);
    const text = running.map((line) => `${line.label}: ${line.value}`).join('\n');
    expect(text).toContain('turn: ⟳ running for 45.0s, cancelling…');
    expect(detailsTitle({ ...workspaceView('notes') })).toBe('notes — workspace, on the host');
    expect(text).not.toContain('container:');
    expect(text).toContain('usage: no turns yet');
  });

  it.each([
    [80, 8],
    [60, 4],
  ])('is clipped to %i×%i, and scrolls', (width, height) => {
    const all = detailLines(view, NOW);
    const top = render(<DetailsPane view={view} width={width} height={height} now={NOW} focused />);
    const lines = linesOf(top.lastFrame());
    expect(lines.length).toBeLessThanOrEqual(height);
    expect(widest(top.lastFrame())).toBeLessThanOrEqual(width);
    expect(lines[0]).toMatch(/^webapp — container +↓$/);
    expect(lines[1]).toContain('workspace');
    // Scrolled as far as it goes (and further): the last line shows, the first does not.
    const bottom = render(<DetailsPane view={view} width={width} height={height} now={NOW} focused scroll={99} />);
    const scrolled = linesOf(bottom.lastFrame());
    expect(scrolled.length).toBeLessThanOrEqual(height);
    expect(scrolled.at(-1)).toContain(all.at(-1)!.value);
    expect(scrolled[0]).toMatch(/↑$/);
    expect(scrolled.join('\n')).not.toContain('/home/dev/src/webapp');
  });

  it('says when nothing is selected', async () => {
    const { lastFrame } = render(<DetailsPane view={undefined} width={80} height={8} now={NOW} focused={false} />);
    await flush();
    expect(lastFrame()).toContain('No project selected');
  });
});
