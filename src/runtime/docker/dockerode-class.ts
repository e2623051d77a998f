import { createRequire } from 'node:module';
import type Dockerode from 'dockerode';

/**
 * dockerode's class, required on first use: it costs a start-up a fifth of a
 * second (ssh2, gRPC), and a berth whose projects all run in workspace mode
 * never talks to an engine. dockerode is CommonJS, so this stays synchronous.
 */
export function dockerodeClass(): typeof Dockerode {
  return createRequire(import.meta.url)('dockerode') as typeof Dockerode;
}
