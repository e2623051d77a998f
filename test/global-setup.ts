import { execa } from 'execa';

/** The CLI and end-to-end suites run the built bin/berth.js: build it once, fresh, before any suite. */
export default async function buildOnce(): Promise<void> {
  // Emit only: type errors are the typecheck step's to report, not a reason to run no test.
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json', '--noCheck'], { stdio: 'inherit' });
}
