// Suites that need an engine at a given address (Podman's socket, say) rather
// than wherever DOCKER_HOST points. Like describeWithDocker: they run when the
// engine answers, skip saying why when it does not, and fail instead with
// BERTH_REQUIRE_DOCKER=1 (CI), where a missing engine must not vanish.
import type Dockerode from 'dockerode';
import { describe, it } from 'vitest';
import { connectEngine } from '../../src/runtime/docker/connect.js';
import { parseEngineAddress, type EngineEndpoint } from '../../src/runtime/engine-endpoint.js';
import { dockerRequired } from './engine.js';

/** Where scripts/setup-podman.sh makes Podman answer; BERTH_PODMAN_HOST points elsewhere. */
export const PODMAN_ADDRESS = process.env.BERTH_PODMAN_HOST || 'unix:///run/podman/podman.sock';

const PROBE_TIMEOUT_MS = 5_000;

export type EndpointStatus =
  | { answers: true; endpoint: EngineEndpoint; product: string; version: string }
  | { answers: false; reason: string };

/** Asks the engine at `address` for its version, bounded so that nothing can stall test collection. */
export async function probeEndpoint(address: string): Promise<EndpointStatus> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const endpoint = parseEngineAddress(address, 'test endpoint', process.env);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
    });
    const info = await Promise.race([connectEngine(endpoint).info(), timeout]);
    return { answers: true, endpoint, product: info.product, version: info.version };
  } catch (error) {
    return { answers: false, reason: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `describe` for suites that need the engine at `address`: await it at the top
 * of the test file. `fn` gets the endpoint; like describeWithDocker's, it runs
 * even when skipped (to list the tests), so reach the engine only in hooks and tests.
 */
export async function describeWithEngine(address: string, name: string, fn: (endpoint: EngineEndpoint) => void): Promise<void> {
  const status = await probeEndpoint(address);
  if (status.answers) {
    describe(name, () => fn(status.endpoint));
    return;
  }
  const reason = `no engine at ${address}: ${status.reason}`;
  if (dockerRequired) {
    describe(name, () => {
      it(`needs the engine at ${address} (BERTH_REQUIRE_DOCKER=1)`, () => {
        throw new Error(reason);
      });
    });
    return;
  }
  console.warn(`skipped: ${reason} (set BERTH_REQUIRE_DOCKER=1 to fail instead)`);
  // An endpoint that parses, so `fn` can list its tests; nothing is dialled.
  describe.skip(name, () => fn(parseEngineAddress('unix:///nonexistent', 'skipped suite', {})));
}

/**
 * Copies `tag` from one engine to another (`docker save | podman load`, over
 * the API), unless the target has that very image already: image ids are the
 * config's digest, the same on both.
 */
export async function copyImage(from: Dockerode, to: Dockerode, tag: string): Promise<void> {
  const source = await from.getImage(tag).inspect();
  const target = await to
    .getImage(tag)
    .inspect()
    .catch(() => undefined);
  if (target?.Id === source.Id) return;
  const archive = await from.getImage(tag).get();
  const answer = await to.loadImage(archive);
  // The load reports failures in its body, not its status.
  const text = await new Promise<string>((resolve, reject) => {
    let body = '';
    answer.setEncoding('utf8');
    answer.on('data', (chunk: string) => (body += chunk));
    answer.on('end', () => resolve(body));
    answer.on('error', reject);
  });
  if (/"error"/i.test(text)) throw new Error(`loading ${tag} failed: ${text.slice(0, 500)}`);
  const loaded = await to.getImage(tag).inspect();
  if (loaded.Id !== source.Id) throw new Error(`loaded ${tag} as ${loaded.Id}, expected ${source.Id}`);
}
