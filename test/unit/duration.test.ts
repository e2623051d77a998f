import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/domain/duration.js';
import { parseSize } from '../../src/domain/size.js';

describe('durations', () => {
  it.each([
    ['30s', 30_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
  ])('reads %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(formatDuration(ms)).toBe(text);
  });

  it.each(['', '30', 's', '0s', '-5m', '1.5h', '2 h', '2H', '7w', '30s ', '01m', '1e3s'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('sizes', () => {
  it('reads k, m and g in either case', () => {
    expect(parseSize('512m')).toBe(512 * 1024 ** 2);
    expect(parseSize('2G')).toBe(2 * 1024 ** 3);
    expect(parseSize('64k')).toBe(65_536);
  });

  it.each(['', '2', '2gb', '0g', '-1g', '1.5g'])('refuses %j', (text) => {
    expect(parseSize(text)).toBeUndefined();
  });
});
