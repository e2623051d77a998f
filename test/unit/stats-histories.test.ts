/**
 * The daemon sends a stream's first snapshot with every container's stats
 * history, later ones with the newest sample only; the client rebuilds the
 * history from them.
 */
import { describe, expect, it } from 'vitest';
import { StatsHistories } from '../../src/client/stats-histories.js';
import { wireSnapshot } from '../../src/daemon/daemon.js';
import type { WireProjectView } from '../../src/daemon/protocol.js';
import { STATS_HISTORY_MS } from '../../src/domain/stats.js';
import type { StatsSample } from '../../src/runtime/types.js';
import type { ControlCenterSnapshot, ProjectView } from '../../src/services/control-center-state.js';

const sample = (time: number, containerId = 'c1'): StatsSample => ({
  containerId,
  time,
  cpuPercent: time / 1000,
  memoryUsed: 1,
  memoryLimit: 2,
  pids: 1,
  network: { rxBytes: 0, txBytes: 0 },
  block: { readBytes: 0, writeBytes: 0 },
});

const project = (name: string) => ({ name, path: `/w/${name}`, mode: 'container' as const, ownsWorkspace: true, createdAt: '', lastActive: null, state: 'running' as const });

function view(name: string, samples: StatsSample[], containerId = 'c1'): ProjectView {
  return { project: project(name), state: 'running', stats: { project: name, containerId, latest: samples.at(-1)!, history: samples } };
}

const snapshot = (projects: ProjectView[]): ControlCenterSnapshot => ({ engine: { address: '', status: { state: 'connected' } }, projects, conversations: new Map(), requests: [] });
/** As the client receives it: through JSON. */
const overTheWire = (projects: ProjectView[], history: boolean) => (JSON.parse(JSON.stringify(wireSnapshot(snapshot(projects), { history: () => history }))) as { projects: WireProjectView[] }).projects;
const times = (view: ProjectView | undefined) => view?.stats?.history.map((one) => one.time);

describe('the stats history over the wire', () => {
  it('carries the history in a first snapshot only, the newest sample in the others', () => {
    const first = overTheWire([view('a', [sample(1000), sample(3000)])], true);
    expect(first[0]!.stats!.history).toHaveLength(2);
    const later = overTheWire([view('a', [sample(1000), sample(3000), sample(5000)])], false);
    expect(later[0]!.stats).not.toHaveProperty('history');
    expect(later[0]!.stats!.latest.time).toBe(5000);
    // A project with no stats goes as it is.
    expect(overTheWire([{ project: project('w'), state: 'ready' }], false)[0]).not.toHaveProperty('stats');
  });

  it('rebuilds the history the daemon keeps, each sample once', () => {
    const histories = new StatsHistories();
    expect(times(histories.fill(overTheWire([view('a', [sample(1000), sample(3000)])], true))[0])).toEqual([1000, 3000]);
    expect(times(histories.fill(overTheWire([view('a', [sample(1000), sample(3000), sample(5000)])], false))[0])).toEqual([1000, 3000, 5000]);
    // A snapshot sent for something else repeats the round's sample: it is not added twice, and the array is the same.
    const again = histories.fill(overTheWire([view('a', [sample(5000)])], false))[0]!;
    expect(times(again)).toEqual([1000, 3000, 5000]);
    expect(histories.fill(overTheWire([view('a', [sample(5000)])], false))[0]!.stats!.history).toBe(again.stats!.history);
  });

  it('keeps the last three minutes, starts afresh for a new container, and forgets a stopped one', () => {
    const histories = new StatsHistories();
    histories.fill(overTheWire([view('a', [sample(1000)])], true));
    const late = 1000 + STATS_HISTORY_MS + 2000;
    expect(times(histories.fill(overTheWire([view('a', [sample(3000), sample(late)])], false))[0])).toEqual([late]);
    expect(times(histories.fill(overTheWire([view('a', [sample(late + 2000, 'c2')], 'c2')], false))[0])).toEqual([late + 2000]);
    histories.fill(overTheWire([{ project: project('a'), state: 'stopped' }], false));
    expect(times(histories.fill(overTheWire([view('a', [sample(late + 4000, 'c2')], 'c2')], false))[0])).toEqual([late + 4000]);
  });
});
