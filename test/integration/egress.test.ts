/**
 * Egress and isolation, on the real engine, through the built berth: each
 * project's container sits on its own internal network, its only way out is
 * berth's egress proxy, which lets through only what the allowlist names;
 * and one project cannot reach another's container nor its proxy.
 *
 * "Outside" is two containers on the engine's default bridge, which berth's
 * networks have no route to: a stand-in for hosts on the internet.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSettings, type Settings } from '../../src/domain/settings.js';
import { ContainerRuntime } from '../../src/runtime/container-runtime.js';
import { DockerEngine } from '../../src/runtime/docker/docker-engine.js';
import { runBerth, runBerthSteps, type BerthResult } from '../helpers/berth-cli.js';
import { PORT, curlDirect, expectHostServiceOutOfReach, hostAddress, serverArgv } from '../helpers/egress-probes.js';
import { TEST_RUN_LABEL, createDockerClient, describeWithDocker, newTestRunId, removeTestContainers } from '../helpers/engine.js';
import { WORKSPACE_IMAGE_BUILD_TIMEOUT_MS, ensureWorkspaceImage } from '../helpers/workspace-image.js';


describeWithDocker('egress allowlist and project isolation (Docker)', () => {
  const runId = newTestRunId();
  let docker: Docker;
  let image: string;
  let home: string;
  const outside: Record<'allowed' | 'refused', string> = { allowed: '', refused: '' };

  const berth = (args: string[]): Promise<BerthResult> => runBerth(args, { home });
  /** Runs a shell script as the agent in the project's container, as `berth exec` does (proxy variables set). */
  const sh = (project: string, script: string) => berth(['exec', project, '--', 'sh', '-c', script]);

  beforeAll(async () => {
    docker = createDockerClient();
    image = await ensureWorkspaceImage(docker);
    home = await mkdtemp(path.join(tmpdir(), 'berth-test-egress-'));
    await chmod(home, 0o755);
    await runBerthSteps(berth, [
      ['config', 'set', 'container.image', image],
      ['project', 'add', 'alpha', '--mode', 'container'],
      ['project', 'add', 'beta', '--mode', 'container'],
    ]);
    for (const which of ['allowed', 'refused'] as const) {
      const container = await docker.createContainer({
        Image: image,
        Cmd: serverArgv(`outside-${which}`),
        Labels: { [TEST_RUN_LABEL]: runId },
        HostConfig: { AutoRemove: false },
      });
      await container.start();
      outside[which] = Object.values((await container.inspect()).NetworkSettings.Networks)[0]!.IPAddress;
    }
  }, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await removeTestContainers(docker, runId);
    for (const project of ['alpha', 'beta']) await berth(['project', 'rm', project]);
    await rm(home, { recursive: true, force: true });
  });

  describe('one project', () => {
    it('puts the container on its own internal network, and hands its commands the proxy', async () => {
      const result = await sh('alpha', 'echo "$HTTPS_PROXY|$http_proxy|$NO_PROXY"');
      expect(result.exitCode, result.stderr).toBe(0);
      const [https, http, noProxy] = result.stdout.trim().split('|');
      expect(https).toMatch(/^http:\/\/[\d.]+:\d+$/);
      expect(http).toBe(https);
      expect(noProxy).toContain(new URL(https!).hostname);
      const container = (await docker.listContainers({ filters: { label: ['berth.project=alpha'] } }))[0]!;
      const networks = Object.keys((await docker.getContainer(container.Id).inspect()).NetworkSettings.Networks);
      expect(networks).toEqual([expect.stringMatching(/^berth-alpha-[0-9a-f]{12}-net$/)]);
      const network = await docker.getNetwork(networks[0]!).inspect();
      expect(network.Internal).toBe(true);
      // A small subnet of its own from network.subnetPool, not one of the engine's /16s.
      expect(network.IPAM?.Config?.[0]?.Subnet).toMatch(/^10\.239\.\d+\.\d+\/28$/);
    });

    it('cannot reach an outside host directly, allowlisted or not', async () => {
      await berth(['net', 'alpha', 'allow', `${outside.allowed}:${PORT}`]);
      for (const address of [outside.allowed, outside.refused]) {
        const direct = await sh('alpha', curlDirect(`${address}:${PORT}`));
        expect(direct.exitCode, direct.stdout).not.toBe(0);
        expect(direct.stdout).not.toContain('says hi');
      }
    });

    it('reaches an allowlisted host through the proxy, by plain HTTP and by CONNECT, and nothing else', async () => {
      await berth(['net', 'alpha', 'allow', `${outside.allowed}:${PORT}`]);
      const plain = await sh('alpha', `curl -sS -m 10 http://${outside.allowed}:${PORT}/`);
      expect(plain.stdout + plain.stderr).toContain('outside-allowed says hi');
      const tunnel = await sh('alpha', `curl -sS -m 10 --proxytunnel -x "$http_proxy" http://${outside.allowed}:${PORT}/`);
      expect(tunnel.stdout + tunnel.stderr).toContain('outside-allowed says hi');

      const refusedPlain = await sh('alpha', `curl -sS -m 10 -w ' status=%{http_code}' http://${outside.refused}:${PORT}/`);
      expect(refusedPlain.stdout).toContain(`berth: ${outside.refused}:${PORT} is not on project alpha's allowlist (berth net alpha allow ${outside.refused}:${PORT})`);
      expect(refusedPlain.stdout).toContain('status=403');
      const refusedTunnel = await sh('alpha', `curl -sS -m 10 --proxytunnel -x "$http_proxy" http://${outside.refused}:${PORT}/`);
      expect(refusedTunnel.exitCode).not.toBe(0);
      expect(refusedTunnel.stdout + refusedTunnel.stderr).toMatch(/CONNECT tunnel failed, response 403/);
      // The same host on a port the entry does not name is refused too.
      const otherPort = await sh('alpha', `curl -sS -m 10 -o /dev/null -w '%{http_code}' http://${outside.allowed}:8081/`);
      expect(otherPort.stdout).toBe('403');
    });

    it('sends git through the proxy too, which refuses it a host off the allowlist', async () => {
      const git = await sh('alpha', `git ls-remote http://${outside.refused}:${PORT}/repo.git 2>&1; echo " exit=$?"`);
      expect(git.stdout).toMatch(/403/);
      expect(git.stdout).toMatch(/exit=128/);
    });

    it('logs each refusal with the project and the host, and berth net shows them', async () => {
      await sh('alpha', `curl -s -m 10 http://${outside.refused}:${PORT}/ >/dev/null`);
      const shown = await berth(['net', 'alpha', '--json']);
      expect(shown.exitCode, shown.stderr).toBe(0);
      const net = JSON.parse(shown.stdout) as { enforced: boolean; allowlist: Array<{ host: string; ports: number[]; source: string }>; refused: Array<{ host: string; port: number }> };
      expect(net.enforced).toBe(true);
      expect(net.allowlist).toEqual(
        expect.arrayContaining([
          { host: 'registry.npmjs.org', ports: [80, 443], source: 'default' },
          { host: outside.allowed, ports: [PORT], source: 'net.allow' },
        ]),
      );
      expect(net.refused[0]).toMatchObject({ host: outside.refused, port: PORT });
      const audit = await berth(['net', 'alpha']);
      expect(audit.stdout).toMatch(new RegExp(`refused lately:[\\s\\S]*${outside.refused.replaceAll('.', '\\.')}\\s+${PORT}`));
    });

    it('applies an edit to the next connection: deny closes what allow opened', async () => {
      expect((await berth(['net', 'alpha', 'deny', `${outside.allowed}:${PORT}`])).exitCode).toBe(0);
      const after = await sh('alpha', `curl -s -m 10 -o /dev/null -w '%{http_code}' http://${outside.allowed}:${PORT}/`);
      expect(after.stdout).toBe('403');
      const denyDefault = await berth(['net', 'alpha', 'deny', 'registry.npmjs.org']);
      expect(denyDefault.stdout).not.toMatch(/registry\.npmjs\.org/);
      expect((await berth(['project', 'set', 'alpha', 'net.allow', `${outside.allowed}:${PORT}`])).exitCode).toBe(0);
    });

    it('refuses, whatever the allowlist, an address of this machine', async () => {
      // Its address on its own network, not the gateway (which the proxy's NO_PROXY sends direct).
      await berth(['net', 'alpha', 'allow', `${hostAddress()}:22`]);
      const result = await sh('alpha', `curl -sS -m 10 http://${hostAddress()}:22/`);
      expect(result.stdout).toContain(`resolves to ${hostAddress()}, an address of this machine`);
    });
  });

  it("cannot reach this machine's own services, though they listen on every address", async () => {
    await expectHostServiceOutOfReach(sh, 'alpha');
    const net = JSON.parse((await berth(['net', 'alpha', '--json'])).stdout) as { hostExposed: string | null };
    expect(net.hostExposed).toBeNull();
  });

  describe('two projects', () => {
    let betaAddress: string;

    beforeAll(async () => {
      expect((await berth(['up', 'beta'])).exitCode).toBe(0);
      const container = (await docker.listContainers({ filters: { label: ['berth.project=beta'] } }))[0]!;
      // A server in beta's container, as its agent might start one.
      const exec = await docker.getContainer(container.Id).exec({ Cmd: serverArgv('beta'), User: 'agent' });
      await exec.start({ Detach: true });
      const info = await docker.getContainer(container.Id).inspect();
      betaAddress = Object.values(info.NetworkSettings.Networks)[0]!.IPAddress;
      // Seen from inside beta, the server answers.
      const own = await sh('beta', `for i in 1 2 3 4 5 6 7 8 9 10; do curl -s --noproxy '*' -m 2 http://${betaAddress}:${PORT}/ && exit 0; sleep 0.5; done; exit 1`);
      expect(own.stdout).toContain('beta says hi');
    });

    it("gives each project a network of its own: alpha's container cannot connect to beta's", async () => {
      const alphaNetworks = await networksOf('alpha');
      const betaNetworks = await networksOf('beta');
      expect(alphaNetworks).toHaveLength(1);
      expect(betaNetworks).toHaveLength(1);
      expect(alphaNetworks[0]).not.toBe(betaNetworks[0]);
      const direct = await sh('alpha', curlDirect(`${betaAddress}:${PORT}`));
      expect(direct.exitCode).not.toBe(0);
      expect(direct.stdout).not.toContain('beta says hi');
    });

    it("refuses beta's address through alpha's proxy, even when alpha's allowlist names it", async () => {
      // berth net refuses the entry (berth's own networks); the setting itself, as a hand edit would, takes it.
      expect((await berth(['net', 'alpha', 'allow', `${betaAddress}:${PORT}`])).stderr).toMatch(/berth's own networks/);
      expect((await berth(['project', 'set', 'alpha', 'net.allow', `${betaAddress}:${PORT}`])).exitCode).toBe(0);
      const result = await sh('alpha', `curl -sS -m 10 http://${betaAddress}:${PORT}/`);
      expect(result.stdout).toContain(`resolves to ${betaAddress}, an address in a berth project's network`);
      expect(result.stdout).not.toContain('beta says hi');
    });

    it("cannot use beta's egress proxy", async () => {
      // beta's proxy is open while a command runs in beta: it prints the URL, then waits.
      const betaRun = sh('beta', 'echo "$http_proxy" > /workspace/.proxy-url; sleep 8');
      const betaProxy = await readWhenWritten(path.join(home, 'workspaces', 'beta', '.proxy-url'));
      await berth(['net', 'beta', 'allow', `${outside.allowed}:${PORT}`]);
      const result = await sh('alpha', `curl -sS -m 5 --noproxy '' -x ${betaProxy} http://${outside.allowed}:${PORT}/; echo " exit=$?"`);
      expect(result.stdout).not.toContain('outside-allowed says hi');
      expect(result.stdout).toMatch(/exit=(7|28|52|56)/);
      await betaRun;
    });
  });

  it("cannot use beta's relay to the model API (the credential proxy's way in)", async () => {
    // A server on this machine's loopback stands for the credential proxy; the runtime relays it onto beta's network.
    const api = createServer((_request, response) => response.end('model api says hi\n'));
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const runtime = new ContainerRuntime(new DockerEngine({ docker }), {
      paths: { home },
      settingsFor: () => ({ ...defaultSettings(), 'container.image': image }) as Settings,
    });
    try {
      const lease = await runtime.reachableUrl({ name: 'beta', path: path.join(home, 'workspaces', 'beta') }, `http://127.0.0.1:${(api.address() as AddressInfo).port}`);
      const fromBeta = await sh('beta', `curl -sS -m 5 ${lease.url}`);
      expect(fromBeta.stdout).toContain('model api says hi');
      const fromAlpha = await sh('alpha', `curl -sS -m 5 --noproxy '*' ${lease.url}; echo " exit=$?"`);
      expect(fromAlpha.stdout).not.toContain('model api says hi');
      expect(fromAlpha.stdout).toMatch(/exit=(7|28|52|56)/);
      await lease.close();
    } finally {
      await runtime.close();
      api.close();
    }
  });

  it('recreates a stopped container whose network was removed (docker network prune), keeping the workspace', async () => {
    expect((await berth(['project', 'add', 'gamma', '--mode', 'container'])).exitCode).toBe(0);
    expect((await sh('gamma', 'echo kept > /workspace/kept.txt')).exitCode).toBe(0);
    const [network] = await networksOf('gamma');
    expect((await berth(['stop', 'gamma'])).exitCode).toBe(0);
    await docker.getNetwork(network!).remove();
    const up = await berth(['up', 'gamma']);
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/the network of berth-gamma-\S+ was removed \(docker network prune\?\): recreating it/);
    const after = await sh('gamma', 'cat /workspace/kept.txt; echo "$http_proxy"');
    expect(after.stdout).toMatch(/^kept\nhttp:\/\/10\.239\./);
    expect(await networksOf('gamma')).toEqual([network]);
    await berth(['project', 'rm', 'gamma']);
  });

  it('says the allowlist is not enforced, and why, once the container has a second network with a route out', async () => {
    expect((await berth(['project', 'add', 'delta', '--mode', 'container'])).exitCode).toBe(0);
    expect((await berth(['up', 'delta'])).exitCode).toBe(0);
    const container = (await docker.listContainers({ filters: { label: ['berth.project=delta'] } }))[0]!;
    await docker.getNetwork('bridge').connect({ Container: container.Id });
    const net = JSON.parse((await berth(['net', 'delta', '--json'])).stdout) as { enforced: boolean; routeOut: string | null };
    expect(net.enforced).toBe(false);
    expect(net.routeOut).toMatch(/not on its own network alone .*berth refresh recreates it/);
    expect((await berth(['net', 'delta'])).stdout).toMatch(/^delta: NOT enforced: its container has a route out: it is not on its own network alone/);
    // And its commands get no proxy, which would promise what the network does not keep.
    expect((await sh('delta', 'echo "[$HTTPS_PROXY]"')).stdout).toBe('[]\n');
    expect((await berth(['project', 'rm', 'delta'])).exitCode).toBe(0);
  });

  async function networksOf(project: string): Promise<string[]> {
    const container = (await docker.listContainers({ filters: { label: [`berth.project=${project}`] } }))[0]!;
    return Object.keys((await docker.getContainer(container.Id).inspect()).NetworkSettings.Networks);
  }
});

/** What a command in the container wrote to its workspace, once it has. */
async function readWhenWritten(file: string): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const text = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (text) return text;
    await sleep(100);
  }
  throw new Error(`nothing written to ${file}`);
}
