import { defineConfig } from 'vitest/config';

/**
 * Suites that hold something of the whole machine while they run: the host's
 * firewall (egress, the Podman seal), the Podman service, CPU figures that a
 * neighbour's load would skew, a tiny file system, lock timings, npm's cache.
 * They run one at a time, after the rest; every other suite makes its own
 * berth home, fake API and containers (marked as the run's, see
 * test/helpers/leftovers.ts), so two of them run side by side, which the
 * machine's two cores and the suites' waiting on CLIs and engines allow.
 */
const ALONE = [
  'test/integration/egress.test.ts',
  'test/integration/egress-podman.test.ts',
  'test/integration/host-firewall.test.ts',
  'test/integration/podman.test.ts',
  'test/integration/stats.test.ts',
  'test/integration/host-stats.test.ts',
  'test/integration/full-disk.test.ts',
  'test/integration/file-lock.test.ts',
  'test/integration/package.test.ts',
];

// Integration suites drive a real Docker engine and the real Claude CLI:
// give them room, and run files in separate processes.
const common = { testTimeout: 60_000, hookTimeout: 120_000, pool: 'forks' } as const;

export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      { test: { ...common, name: 'side-by-side', include: ['test/**/*.test.{ts,tsx}'], exclude: ALONE, maxWorkers: 2, sequence: { groupOrder: 0 } } },
      { test: { ...common, name: 'alone', include: ALONE, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
