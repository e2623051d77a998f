import { describe, expect, it } from 'vitest';
import { formatAgo } from '../../src/cli/output.js';

describe('formatAgo', () => {
  const now = Date.parse('2026-01-10T12:00:00Z');
  it.each([
    [null, 'never'],
    ['2026-01-10T11:59:30Z', '30s ago'],
    ['2026-01-10T11:45:00Z', '15m ago'],
    ['2026-01-10T09:00:00Z', '3h ago'],
    ['2026-01-03T12:00:00Z', '7d ago'],
    ['2026-01-10T12:00:05Z', '0s ago'],
  ])('%s → %s', (iso, text) => {
    expect(formatAgo(iso, now)).toBe(text);
  });
});
