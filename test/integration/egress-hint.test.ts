/**
 * The egress proxy's refusal, with the real proxy and the real egress
 * service on a temporary berth home: the hint it gives is an entry `berth net
 * allow` takes, or, when berth would refuse that entry or never connects to
 * the host anyway, why. No container: the proxy listens on loopback, as it
 * would on a project network's gateway.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { EgressProxy } from '../../src/runtime/egress-proxy.js';
import { createContext } from '../../src/services/context.js';
import { EgressService } from '../../src/services/egress-service.js';
import { AuditLog } from '../../src/store/audit-log.js';
import { useTempDirs } from '../helpers/temp.js';

const tempDir = useTempDirs();
const proxies: EgressProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

/** A proxy for project `app`, and what it answers to a CONNECT to `target`. */
async function refusalFor(target: string): Promise<string> {
  const home = await tempDir();
  const context = createContext({ BERTH_HOME: home });
  await context.projects.add('app', { mode: 'container' });
  const egress = new EgressService({ projects: context.projects, settings: context.settings, audit: new AuditLog(context.paths.audit), networks: async () => [] });
  const proxy = new EgressProxy(egress);
  proxies.push(proxy);
  const lease = await proxy.lease('app', { address: '127.0.0.1', subnet: { address: '127.0.0.0', prefixLength: 8 } });
  const url = new URL(lease.url);
  return new Promise((resolve, reject) => {
    const connect = request({ host: url.hostname, port: url.port, method: 'CONNECT', path: target });
    connect.on('connect', (response, socket, head: Buffer) => {
      let body = head.toString();
      socket.on('data', (chunk: Buffer) => (body += chunk.toString()));
      socket.on('end', () => resolve(`${response.statusCode} ${body}`));
    });
    connect.on('error', reject);
    connect.end();
  });
}

describe("the egress proxy's refusal", () => {
  it('suggests the entry that would let an ordinary host through', async () => {
    expect(await refusalFor('example.com:443')).toBe("403 berth: example.com:443 is not on project app's allowlist (berth net app allow example.com)\n");
    expect(await refusalFor('example.com:8443')).toMatch(/\(berth net app allow example\.com:8443\)/);
  });

  it.each([
    ['localhost:443', /localhost is this machine/],
    ['127.0.0.1:8080', /127\.0\.0\.1 is this machine's loopback/],
    ['169.254.169.254:80', /link-local address/],
    ['metadata.google.internal:80', /a cloud's metadata service/],
    ['0x7f000001:443', /127\.0\.0\.1 written another way/],
    ['10.239.0.5:443', /berth's own networks/],
    ['0.0.0.0:443', /unspecified/],
  ])('never suggests allowing %s, which berth would refuse: it says why', async (target, reason) => {
    const answer = await refusalFor(target);
    expect(answer).toMatch(/^403 berth: .* is not on project app's allowlist \(berth net would not allow it: allowlist entry "[^"]+": .*: berth never connects there\)\n$/);
    expect(answer).toMatch(reason);
    expect(answer).not.toContain('berth net app allow');
  });
});
