/** The host's CPU figure from two readings of each core's counters (os.cpus()), hotplug included. */
import { describe, expect, it } from 'vitest';
import { loadBetween } from '../../src/services/host-stats.js';

describe('loadBetween', () => {
  it('is the busy share of the time between two readings, over all cores', () => {
    const before = [{ busy: 100, total: 1_000 }, { busy: 300, total: 1_000 }];
    const after = [{ busy: 150, total: 1_100 }, { busy: 400, total: 1_100 }];
    expect(loadBetween(before, after)).toBe(75);
  });

  it('is the load since boot without a first reading, and 0 when no time passed', () => {
    expect(loadBetween(undefined, [{ busy: 25, total: 100 }])).toBe(25);
    expect(loadBetween([{ busy: 25, total: 100 }], [{ busy: 25, total: 100 }])).toBe(0);
  });

  it('leaves out a core brought online or taken offline between the readings', () => {
    const before = [{ busy: 100, total: 1_000 }];
    // Core 1 came online with its history since boot: it would read as 90% busy at once.
    expect(loadBetween(before, [{ busy: 110, total: 1_100 }, { busy: 9_000, total: 10_000 }])).toBe(10);
    // Counters that went back (another core now at that index) are no interval; the other core still counts.
    expect(loadBetween([{ busy: 500, total: 5_000 }, { busy: 100, total: 1_000 }], [{ busy: 120, total: 1_200 }, { busy: 150, total: 1_100 }])).toBe(50);
  });
});
