/**
 * berth's listeners on a container network's gateway (the credential proxy's
 * relay, the egress proxy) take their ports from one fixed range, so that the
 * host firewall can let containers reach those and nothing else of this machine.
 */
import type { Server } from 'node:net';

export const LISTENER_PORTS = { first: 47100, last: 47999 } as const;

/** Listens on `host` at a free port of LISTENER_PORTS, starting at a random one; resolves with the port. */
export async function listenInRange(server: Server, host: string): Promise<number> {
  const size = LISTENER_PORTS.last - LISTENER_PORTS.first + 1;
  const start = Math.floor(Math.random() * size);
  for (let step = 0; step < size; step += 1) {
    const port = LISTENER_PORTS.first + ((start + step) % size);
    const outcome = await new Promise<'listening' | 'taken'>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        server.off('listening', onListening);
        if (error.code === 'EADDRINUSE') resolve('taken');
        else reject(error);
      };
      const onListening = () => {
        server.off('error', onError);
        resolve('listening');
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen({ host, port });
    });
    if (outcome === 'listening') return port;
  }
  throw Object.assign(new Error(`every port from ${LISTENER_PORTS.first} to ${LISTENER_PORTS.last} on ${host} is taken`), { code: 'EADDRINUSE' });
}
