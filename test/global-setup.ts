import Docker from 'dockerode';
import { execa } from 'execa';

/** The CLI and end-to-end suites run the built bin/berth.js: build it once, fresh, before any suite. */
export default async function buildOnce(): Promise<() => Promise<void>> {
  // Emit only: type errors are the typecheck step's to report, not a reason to run no test.
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json', '--noCheck'], { stdio: 'inherit' });
  await removeUnusedProjectNetworks();
  return removeUnusedProjectNetworks;
}

/**
 * Suites remove their containers straight through the engine, which leaves
 * each project's network behind: these are removed before and after a run,
 * so that runs do not add up on one machine. Networks in use are kept.
 */
async function removeUnusedProjectNetworks(): Promise<void> {
  const docker = new Docker();
  const networks = await docker.listNetworks({ filters: { label: ['berth.managed=true'] } }).catch(() => []);
  for (const network of networks) {
    // Stopped containers count: the engine would let their network go, and they could not start again.
    const attached = await docker.listContainers({ all: true, filters: { network: [network.Id] } }).catch(() => undefined);
    if (attached?.length === 0) await docker.getNetwork(network.Id).remove().catch(() => undefined);
  }
}
