import { execa } from 'execa';

/** The CLI and end-to-end suites run the built bin/berth.js: build it once, fresh, before any suite. */
export default async function buildOnce(): Promise<void> {
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
