import { formatHostEntry, type AllowlistEntry } from '../domain/egress.js';
import { UsageError } from '../domain/errors.js';
import { createContext } from '../services/context.js';
import type { RefusedHost } from '../services/egress-service.js';
import type { CommandHandler } from './command-table.js';
import { printJson, printLine, printTable } from './output.js';

/**
 * `berth net <name>`: the allowlist and the hosts refused lately.
 * `berth net <name> allow|deny <host>`: edits it; it applies to the next
 * connection, in every berth process, with no restart.
 */
export const net: CommandHandler = async ({ args, options, global }) => {
  const [name, verb, host] = args as [string, string | undefined, string | undefined];
  if (verb !== undefined && verb !== 'allow' && verb !== 'deny') throw new UsageError(`unknown action ${JSON.stringify(verb)}: berth net <name> [allow|deny <host>]`);
  if (verb !== undefined && host === undefined) throw new UsageError(`berth net ${name} ${verb} needs a host, such as registry.npmjs.org or *.github.com`);
  const context = createContext();
  const runtime = await context.runtime(global);
  const egress = runtime.egress();
  const project = await context.projects.require(name);
  const allowlist = verb && host ? await egress.edit(name, verb, host) : await egress.allowlistOf(project);
  const refused = await egress.refused(name);
  const status = project.mode === 'container' ? await runtime.egressStatus(name).catch(() => undefined) : undefined;
  const enforced = project.mode === 'container' ? status?.enforced : false;
  if (options.json) {
    printJson({ project: name, mode: project.mode, enforced: enforced ?? null, routeOut: status?.routeOut ?? null, hostExposed: status?.hostExposed ?? null, allowlist: allowlist.map(entryJson), refused });
    return;
  }
  printLine(`${name}: ${enforcementLine(project.mode, enforced, status?.routeOut)}`);
  if (status?.enforced) printLine(status.hostExposed ? `this machine's services are within its reach: ${status.hostExposed}` : "this machine's services are out of its reach (host firewall)");
  printTable(['ALLOWED', 'PORTS', 'FROM'], allowlist.map((entry) => [formatHostEntry({ ...entry, port: undefined }), entry.port === undefined ? '80,443' : String(entry.port), entry.source]));
  printLine(refused.length === 0 ? 'refused lately: none' : 'refused lately:');
  if (refused.length > 0) printTable(['TIME', 'HOST', 'PORT', 'WHY'], refused.map(refusedRow));
};

function enforcementLine(mode: string, enforced: boolean | undefined, routeOut: string | undefined): string {
  if (mode !== 'container') return 'workspace mode: the agent runs on this machine, with its network; the allowlist applies to its container mode';
  if (enforced === undefined) return 'no container yet: it gets its own network, with this allowlist as its only way out';
  if (enforced) return 'its own network with no route out; this allowlist, through berth\'s egress proxy, is its only way out';
  return `NOT enforced: its container has a route out: ${routeOut ?? 'its network has one'}`;
}

function entryJson(entry: AllowlistEntry) {
  return { host: formatHostEntry({ ...entry, port: undefined }), ports: entry.port === undefined ? [80, 443] : [entry.port], source: entry.source };
}

function refusedRow(refusal: RefusedHost): string[] {
  return [refusal.time.replace('T', ' ').slice(0, 19), refusal.host, String(refusal.port), refusal.reason];
}
