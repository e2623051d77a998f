import { connectDaemon, type DaemonClient } from '../client/daemon-client.js';
import { readVersion } from './version.js';

/** The daemon of this berth home for a CLI command, started when none runs; what it does meanwhile goes to stderr. */
export function connectToDaemon(home: string, engine?: string): Promise<DaemonClient> {
  return connectDaemon({ home, version: readVersion(), ...(engine !== undefined && { engine }), onNote: (line, kind) => void ((kind === 'news' || process.stderr.isTTY) && process.stderr.write(`berth: ${line}\n`)) });
}
