import type { Reporter, TestModule, Vitest } from 'vitest/node';

/**
 * Ends a run with one plain line, `tests: N passed, N failed, N skipped`, that
 * tools reading a log (CI among them) understand without knowing vitest.
 *
 * Written when vitest closes, after the global setup's teardown, so that a
 * run failed there (test/global-setup.ts fails it when the tests left
 * something behind) counts one failure: the line never says 0 failed on a run
 * that exits non-zero.
 */
export default class SummaryReporter implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    const counts = { passed: 0, failed: unhandledErrors.length, skipped: 0 };
    for (const module of testModules) {
      let failedTests = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed += 1;
        else if (state === 'failed') failedTests += 1;
        else counts.skipped += 1;
      }
      // A file that failed with no test of its own failing (it did not load, or a hook failed) failed all the same.
      counts.failed += failedTests + (module.state() === 'failed' && failedTests === 0 ? 1 : 0);
    }
    const write = () => {
      const failedOutside = counts.failed === 0 && Number(process.exitCode ?? 0) !== 0 ? 1 : 0;
      process.stdout.write(`\ntests: ${counts.passed} passed, ${counts.failed + failedOutside} failed, ${counts.skipped} skipped\n`);
    };
    if (this.vitest) this.vitest.onClose(write);
    else write();
  }
}
