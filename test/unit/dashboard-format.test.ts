import { describe, expect, it } from 'vitest';
import {
  fit,
  formatBytes,
  formatCount,
  formatElapsed,
  formatLastActive,
  formatMemory,
  formatPercent,
  formatUptime,
  formatUsd,
  oneLine,
  truncate,
} from '../../src/ui/format.js';
import { bucketPeaks, sparkline } from '../../src/ui/sparkline.js';
import { visibleWindow } from '../../src/ui/visible-window.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe('formatBytes', () => {
  it('uses binary units, one decimal only below 10', () => {
    expect(formatBytes(0)).toBe('0B');
    expect(formatBytes(900)).toBe('900B');
    expect(formatBytes(1536)).toBe('1.5K');
    expect(formatBytes(512 * MiB)).toBe('512M');
    expect(formatBytes(1.2 * GiB)).toBe('1.2G');
    expect(formatBytes(2 * GiB)).toBe('2.0G');
    expect(formatBytes(16 * GiB)).toBe('16G');
  });

  it('moves to the next unit rather than show 1024', () => {
    expect(formatBytes(1023.8 * MiB)).toBe('1.0G');
    expect(formatBytes(1000 * 1024)).toBe('1.0M');
    expect(formatBytes(1000 * MiB)).toBe('1.0G');
  });

  it('says — for nonsense', () => {
    expect(formatBytes(Number.NaN)).toBe('—');
    expect(formatBytes(-1)).toBe('—');
  });
});

describe('formatPercent and formatMemory', () => {
  it('keeps a decimal for small percentages only', () => {
    expect(formatPercent(3.44)).toBe('3.4%');
    expect(formatPercent(45.4)).toBe('45%');
    expect(formatPercent(180.2)).toBe('180%');
    expect(formatPercent(-2)).toBe('0.0%');
  });

  it('writes memory as used of limit, or used alone without a limit', () => {
    expect(formatMemory(412 * MiB, 2 * GiB)).toBe('412M/2.0G');
    expect(formatMemory(412 * MiB, 0)).toBe('412M');
    expect(formatMemory(412 * MiB, undefined)).toBe('412M');
  });
});

describe('times', () => {
  const now = Date.parse('2025-01-01T12:00:00Z');
  const ago = (ms: number) => new Date(now - ms).toISOString();

  it('says how long ago a project was active, — for never', () => {
    expect(formatLastActive(null, now)).toBe('—');
    expect(formatLastActive(undefined, now)).toBe('—');
    expect(formatLastActive('not a date', now)).toBe('—');
    expect(formatLastActive(ago(12_000), now)).toBe('12s ago');
    expect(formatLastActive(ago(3 * 60_000 + 5_000), now)).toBe('3m ago');
    expect(formatLastActive(ago(2 * 3_600_000 + 59 * 60_000), now)).toBe('2h ago');
    expect(formatLastActive(ago(5 * 86_400_000), now)).toBe('5d ago');
    // A clock a little behind the engine's: never "in the future".
    expect(formatLastActive(ago(-5_000), now)).toBe('0s ago');
  });

  it('writes uptimes in their two largest units', () => {
    expect(formatUptime(45_000)).toBe('45s');
    expect(formatUptime(12 * 60_000 + 30_000)).toBe('12m');
    expect(formatUptime(3 * 3_600_000 + 12 * 60_000)).toBe('3h12m');
    expect(formatUptime(3 * 3_600_000)).toBe('3h');
    expect(formatUptime(2 * 86_400_000 + 5 * 3_600_000)).toBe('2d5h');
    expect(formatUptime(-10)).toBe('0s');
  });

  it('writes turn durations', () => {
    expect(formatElapsed(850)).toBe('850ms');
    expect(formatElapsed(12_340)).toBe('12.3s');
    expect(formatElapsed(125_000)).toBe('2m');
  });
});

describe('money and counts', () => {
  it('shows fractions of a cent below a dollar', () => {
    expect(formatUsd(0.0123)).toBe('$0.0123');
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(4.567)).toBe('$4.57');
  });

  it('shortens token counts', () => {
    expect(formatCount(512)).toBe('512');
    expect(formatCount(1234)).toBe('1.2k');
    expect(formatCount(34_400)).toBe('34k');
    expect(formatCount(1_500_000)).toBe('1.5M');
  });
});

describe('text fitting', () => {
  it('cuts with an ellipsis and pads to the width', () => {
    expect(truncate('container', 5)).toBe('cont…');
    expect(truncate('abc', 5)).toBe('abc');
    expect(truncate('abc', 0)).toBe('');
    expect(fit('ab', 4)).toBe('ab  ');
    expect(fit('ab', 4, 'right')).toBe('  ab');
    expect(fit('abcdef', 4)).toBe('abc…');
  });

  it('makes an error one short line', () => {
    expect(oneLine('\n  connect   ECONNREFUSED\nat stack', 40)).toBe('connect ECONNREFUSED');
    expect(oneLine('x'.repeat(100), 10)).toHaveLength(10);
  });

  it('shows the controls of outside text (an engine\'s error, a progress line) instead of passing them on, and cuts after', () => {
    expect(fit('pull\u001B]0;owned\u0007\u009B2J\tdone', 30)).toBe('pull^[]0;owned^G\\u009b2J done ');
    expect(truncate('\u001B[2Jabcdef', 5)).toBe('^[[2…');
    expect(oneLine('refused: \u001B]52;c;aGk=\u0007', 40)).toBe('refused: ^[]52;c;aGk=^G');
  });
});

describe('sparkline', () => {
  it('draws the last width values, lowest to highest bar', () => {
    expect(sparkline([0, 25, 50, 75, 100], 5, 100)).toBe('▁▃▅▆█');
    expect(sparkline([100, 0, 100, 0, 100, 0], 3, 100)).toBe('▁█▁');
  });

  it('pads on the left while there are fewer values than the width', () => {
    expect(sparkline([100], 4, 100)).toBe('   █');
    expect(sparkline([], 3)).toBe('   ');
    expect(sparkline([1, 2], 0)).toBe('');
  });

  it('scales to the largest value without a max, and clamps above one', () => {
    expect(sparkline([1, 2], 2)).toBe('▅█');
    expect(sparkline([0, 0], 2)).toBe('▁▁');
    expect(sparkline([250, -5, Number.NaN], 3, 100)).toBe('█▁▁');
  });

  it('folds samples into clock-aligned buckets, keeping each peak', () => {
    const samples = [0, 1000, 2000, 3000, 4000].map((time, index) => ({ time, value: [5, 9, 1, 2, 7][index]! }));
    expect(bucketPeaks(samples, 2000)).toEqual([9, 2, 7]);
    expect(bucketPeaks([], 2000)).toEqual([]);
  });
});

describe('visibleWindow', () => {
  it('shows everything when it fits', () => {
    expect(visibleWindow(5, 2, 10)).toEqual({ start: 0, end: 5 });
    expect(visibleWindow(0, -1, 10)).toEqual({ start: 0, end: 0 });
    expect(visibleWindow(5, 2, 0)).toEqual({ start: 0, end: 0 });
  });

  it('scrolls only when the selection leaves the window', () => {
    expect(visibleWindow(100, 5, 10, 0)).toEqual({ start: 0, end: 10 });
    expect(visibleWindow(100, 10, 10, 0)).toEqual({ start: 1, end: 11 });
    expect(visibleWindow(100, 8, 10, 5)).toEqual({ start: 5, end: 15 });
    expect(visibleWindow(100, 3, 10, 5)).toEqual({ start: 3, end: 13 });
    expect(visibleWindow(100, 99, 10, 0)).toEqual({ start: 90, end: 100 });
  });

  it('clamps a start left past the end, as after removals', () => {
    expect(visibleWindow(20, 19, 10, 50)).toEqual({ start: 10, end: 20 });
    expect(visibleWindow(20, -1, 10, 50)).toEqual({ start: 10, end: 20 });
  });

  it('keeps the selection visible while it walks the whole list', () => {
    let start = 0;
    for (let selected = 0; selected < 300; selected += 7) {
      const shown = visibleWindow(300, selected, 12, start);
      expect(selected).toBeGreaterThanOrEqual(shown.start);
      expect(selected).toBeLessThan(shown.end);
      expect(shown.end - shown.start).toBe(12);
      start = shown.start;
    }
  });
});
