// The workspace image (docker/Dockerfile) for every suite that runs project
// containers, built one way: `--network host` and the host's extra CAs, so a
// build behind a TLS-inspecting proxy reaches the package registries.
//
// Built rather than assumed: a missing image must not skip tests silently, and
// a changed Dockerfile must not be tested through a stale image. Unchanged, it
// builds from the engine's cache in seconds; cold, it needs the network and minutes.
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { localCaCertificates } from '../../src/runtime/local-ca.js';
import { buildImage } from './engine.js';

export const TEST_WORKSPACE_IMAGE = 'berth-workspace:dev';
export const WORKSPACE_IMAGE_BUILD_TIMEOUT_MS = 15 * 60_000;
export const DOCKER_DIR = fileURLToPath(new URL('../../docker/', import.meta.url));

const builds = new Map<string, Promise<string>>();

/** Builds (from cache when unchanged) `tag` once per test process; resolves with the tag. */
export function ensureWorkspaceImage(docker: Docker, tag = TEST_WORKSPACE_IMAGE): Promise<string> {
  let build = builds.get(tag);
  if (!build) {
    build = (async () => {
      const certificates = await localCaCertificates();
      await buildImage(docker, DOCKER_DIR, tag, certificates ? { EXTRA_CA_CERTS: certificates } : {});
      return tag;
    })();
    builds.set(tag, build);
    // A failed build is retried by the next suite that asks, not remembered.
    build.catch(() => builds.delete(tag));
  }
  return build;
}
