/**
 * Egress and isolation on Podman, through the built berth. Podman cannot make
 * a network internal and still give the host an address on it, so berth's
 * project networks there are ordinary bridges, which berth seals with
 * iptables (BERTH-FORWARD): the same promises as on Docker.
 *
 * "Outside" is a container on Docker's default bridge, which a Podman
 * network reaches by plain routing, as the control test shows.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDockerode } from '../../src/runtime/docker/connect.js';
import { interfaceHolding } from '../../src/runtime/host-interfaces.js';
import { FAKE_API_KEY, QUIET_CLI_ENV } from '../fixtures/claude-env.js';
import { message, startFakeAnthropic, text } from '../fixtures/fake-anthropic.js';
import { runBerth, runBerthSteps, type BerthResult } from '../helpers/berth-cli.js';
import { TEST_RUN_LABEL, createDockerClient, execInContainer, newTestRunId, removeTestContainers } from '../helpers/engine.js';
import { PORT, curlDirect, expectHostServiceOutOfReach, serverArgv } from '../helpers/egress-probes.js';
import { PODMAN_ADDRESS, copyImage, describeWithEngine } from '../helpers/podman.js';
import { WORKSPACE_IMAGE_BUILD_TIMEOUT_MS, ensureWorkspaceImage } from '../helpers/workspace-image.js';

/** Podman fails to start a container without explicit nofile and nproc here (see scripts/setup-podman.sh). */
const ULIMITS = [
  { Name: 'nofile', Soft: 1024, Hard: 1024 },
  { Name: 'nproc', Soft: 512, Hard: 512 },
];

await describeWithEngine(PODMAN_ADDRESS, 'egress allowlist and project isolation (Podman)', (endpoint) => {
  const runId = newTestRunId();
  let docker: Docker;
  let podman: Docker;
  let image: string;
  let home: string;
  let outside = '';

  const berth = (args: string[]): Promise<BerthResult> => runBerth(args, { home, env: { DOCKER_HOST: endpoint.address } });
  const sh = (project: string, script: string) => berth(['exec', project, '--', 'sh', '-c', script]);

  beforeAll(async () => {
    docker = createDockerClient();
    podman = createDockerode(endpoint);
    image = await ensureWorkspaceImage(docker);
    await copyImage(docker, podman, image);
    home = await mkdtemp(path.join(tmpdir(), 'berth-test-egress-podman-'));
    await chmod(home, 0o755);
    await runBerthSteps(berth, [
      ['config', 'set', 'container.image', image],
      ['project', 'add', 'alpha', '--mode', 'container'],
      ['project', 'add', 'beta', '--mode', 'container'],
    ]);
    const server = await docker.createContainer({ Image: image, Cmd: serverArgv('outside'), Labels: { [TEST_RUN_LABEL]: runId } });
    await server.start();
    outside = `${Object.values((await server.inspect()).NetworkSettings.Networks)[0]!.IPAddress}:${PORT}`;
  }, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await removeTestContainers(docker, runId);
    await removeTestContainers(podman, runId);
    for (const project of ['alpha', 'beta']) await berth(['project', 'rm', project]);
    await rm(home, { recursive: true, force: true });
  });

  it('control: a Podman container on an ordinary network reaches the outside host', async () => {
    const probe = await podman.createContainer({ Image: image, Cmd: ['sleep', '60'], Labels: { [TEST_RUN_LABEL]: runId }, HostConfig: { Ulimits: ULIMITS } });
    await probe.start();
    const result = await execInContainer(podman, probe, ['sh', '-c', `for i in 1 2 3 4 5; do ${curlDirect(outside)} && exit 0; sleep 1; done; exit 1`]);
    expect(result.stdout).toContain('outside says hi');
  });

  it("the project's network is not internal, yet berth net says the allowlist is enforced", async () => {
    const env = await sh('alpha', 'echo "$HTTPS_PROXY|$NO_PROXY"');
    expect(env.exitCode, env.stderr).toBe(0);
    const [proxy, noProxy] = env.stdout.trim().split('|');
    expect(proxy).toMatch(/^http:\/\/10\.239\.[\d.]+:\d+$/);
    expect(noProxy).toContain(new URL(proxy!).hostname);
    const [network] = await networksOf('alpha');
    expect(network).toMatch(/^berth-alpha-[0-9a-f]{12}-net$/);
    expect((await podman.getNetwork(network!).inspect()).Internal).toBe(false);
    const net = JSON.parse((await berth(['net', 'alpha', '--json'])).stdout) as { enforced: boolean; routeOut: string | null; hostExposed: string | null };
    expect(net).toMatchObject({ enforced: true, routeOut: null, hostExposed: null });
  });

  it('completes a turn through the credential proxy on the sealed network, the real key on the host only', async () => {
    const fake = await startFakeAnthropic();
    try {
      fake.reply(message(text('Sealed, and still talking.')));
      const env = { ...QUIET_CLI_ENV, DOCKER_HOST: endpoint.address, ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_API_KEY: FAKE_API_KEY, CLAUDE_CODE_MAX_RETRIES: '0' };
      const turn = await runBerth(['chat', 'alpha', 'hello'], { home, env });
      expect(turn.exitCode, turn.stderr).toBe(0);
      expect(turn.stdout).toContain('Sealed, and still talking.');
      expect(fake.mainRequests().map((request) => request.headers['x-api-key'])).toEqual([FAKE_API_KEY]);
    } finally {
      await fake.close();
    }
  });

  it('cannot reach the outside host directly, allowlisted or not, though the engines put their accepts before berth’s jump', async () => {
    // As on a new machine, where Podman's CNI plugin inserted its rules at the top after berth had: berth's jump last of all.
    const forward = async () => (await execa('iptables', ['-w', '-S', 'FORWARD'])).stdout.split('\n').filter((line) => line.startsWith('-A '));
    await execa('iptables', ['-w', '-D', 'FORWARD', '-j', 'BERTH-FORWARD']);
    await execa('iptables', ['-w', '-A', 'FORWARD', '-j', 'BERTH-FORWARD']);
    expect((await forward()).at(-1)).toBe('-A FORWARD -j BERTH-FORWARD');
    // Control: the engines' accepts now come first, and let alpha's container out (here past berth, as the engine's exec).
    const alpha = podman.getContainer((await podman.listContainers({ filters: { label: ['berth.project=alpha'] } }))[0]!.Id);
    expect((await execInContainer(podman, alpha, ['sh', '-c', curlDirect(outside)])).stdout).toContain('outside says hi');

    expect((await berth(['net', 'alpha', 'allow', outside])).exitCode).toBe(0);
    const direct = await sh('alpha', curlDirect(outside));
    expect(direct.exitCode, direct.stdout).not.toBe(0);
    expect(direct.stdout).not.toContain('says hi');
    expect((await forward())[0]).toBe('-A FORWARD -j BERTH-FORWARD');
  });

  it('reaches it through the proxy once allowlisted, by plain HTTP and CONNECT; refused once denied', async () => {
    expect((await berth(['net', 'alpha', 'allow', outside])).exitCode).toBe(0);
    const plain = await sh('alpha', `curl -sS -m 10 http://${outside}/`);
    expect(plain.stdout + plain.stderr).toContain('outside says hi');
    const tunnel = await sh('alpha', `curl -sS -m 10 --proxytunnel -x "$http_proxy" http://${outside}/`);
    expect(tunnel.stdout + tunnel.stderr).toContain('outside says hi');
    expect((await berth(['net', 'alpha', 'deny', outside])).exitCode).toBe(0);
    const denied = await sh('alpha', `curl -sS -m 10 -w ' status=%{http_code}' http://${outside}/`);
    expect(denied.stdout).toContain(`berth: ${outside} is not on project alpha's allowlist`);
    expect(denied.stdout).toContain('status=403');
  });

  it("cannot reach this machine's own services, though they listen on every address", async () => {
    await expectHostServiceOutOfReach(sh, 'alpha');
  });

  it("alpha's container cannot connect to beta's", async () => {
    expect((await berth(['up', 'beta'])).exitCode).toBe(0);
    const beta = podman.getContainer((await podman.listContainers({ filters: { label: ['berth.project=beta'] } }))[0]!.Id);
    await (await beta.exec({ Cmd: serverArgv('beta'), User: 'agent' })).start({ Detach: true });
    const betaAddress = `${Object.values((await beta.inspect()).NetworkSettings.Networks)[0]!.IPAddress}:${PORT}`;
    const own = await sh('beta', `for i in 1 2 3 4 5 6 7 8 9 10; do ${curlDirect(betaAddress)} && exit 0; sleep 0.5; done; exit 1`);
    expect(own.stdout).toContain('beta says hi');
    const fromAlpha = await sh('alpha', curlDirect(betaAddress));
    expect(fromAlpha.exitCode).not.toBe(0);
    expect(fromAlpha.stdout).not.toContain('beta says hi');
  });

  it("project rm takes its bridge's rules out of the firewall: Podman gives the name to the next network made", async () => {
    const [network] = await networksOf('beta');
    const gateway = (await podman.getNetwork(network!).inspect()).IPAM?.Config?.[0]?.Gateway;
    const bridge = await interfaceHolding(gateway!);
    expect(bridge).toMatch(/^cni-podman\d+$|^podman\d+$/);
    const rulesOf = async () => (await execa('iptables', ['-S', 'BERTH-FORWARD'])).stdout + (await execa('iptables', ['-S', 'BERTH-INPUT'])).stdout;
    expect(await rulesOf()).toContain(`-i ${bridge} `);
    expect((await berth(['project', 'rm', 'beta'])).exitCode).toBe(0);
    expect(await rulesOf()).not.toMatch(new RegExp(`-[io] ${bridge} `));
  });

  async function networksOf(project: string): Promise<string[]> {
    const container = (await podman.listContainers({ filters: { label: [`berth.project=${project}`] } }))[0]!;
    return Object.keys((await podman.getContainer(container.Id).inspect()).NetworkSettings.Networks);
  }
});
