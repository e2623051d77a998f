import { execa } from 'execa';
import { createDockerClient, dockerEngine } from './helpers/engine.js';
import { RunLeftovers } from './helpers/leftovers.js';
import { ensureWorkspaceImage } from './helpers/workspace-image.js';

/**
 * Before any suite: marks what the run will make, builds bin/berth.js's
 * dist/ and its bundle fresh (the CLI and end-to-end suites run it) and the
 * workspace image (from the engine's cache when unchanged). After the last: fails
 * the run naming whatever the tests left on this machine (containers,
 * networks, firewall rules, namespaces, mounts, processes; see
 * helpers/leftovers.ts), then removes it, so that runs do not add up.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const leftovers = await RunLeftovers.start();
  // Emit only: type errors are the typecheck step's to report, not a reason to run no test.
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json', '--noCheck'], { stdio: 'inherit' });
  await execa('node', ['scripts/bundle/build.mjs'], { stdio: 'inherit' });
  // Suites run side by side: the image they share is built once, here, and each of them finds it in the engine's cache.
  // A failed build fails only the suites that need the image (each asks again, and says why), not the whole run.
  if (dockerEngine.answers) {
    await ensureWorkspaceImage(createDockerClient()).catch((error: unknown) => {
      process.stderr.write(`\nthe workspace image did not build (the suites that need it will say why): ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
    });
  }
  return async () => {
    // A throw here would be logged, yet leave the exit code 0: the failure is set, not thrown.
    try {
      const left = await leftovers.find();
      if (left.length > 0) {
        process.exitCode = 1;
        const lines = left.map((leftover) => `  ${leftover.what}`);
        process.stderr.write(`\nthe tests left ${left.length} thing${left.length === 1 ? '' : 's'} behind (removed now):\n${lines.join('\n')}\n`);
      }
      await leftovers.remove(left);
    } catch (error) {
      process.exitCode = 1;
      process.stderr.write(`\nthe check for what the tests left failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  };
}
