// A project's container is hardened by default: every flag is read back from
// `docker inspect`, seen from inside as the agent, and the limits are shown
// to hold (a memory hog is OOM-killed, a fork bomb stops at the pids limit)
// while the container survives.
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Settings } from '../../src/domain/settings.js';
import { ContainerRuntime } from '../../src/runtime/container-runtime.js';
import { DockerEngine } from '../../src/runtime/docker/docker-engine.js';
import type { RuntimeProject } from '../../src/runtime/types.js';
import { TEST_RUN_LABEL, createDockerClient, describeWithDocker } from '../helpers/engine.js';
import { useLifecycleFixture, waitUntil } from '../helpers/lifecycle-suite.js';
import { TEST_WORKSPACE_IMAGE, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS, ensureWorkspaceImage } from '../helpers/workspace-image.js';

const MIB = 1024 * 1024;
const HOST_CLAUDE = fileURLToPath(new URL('../../node_modules/.bin/claude', import.meta.url));
// Reads the pids cgroup with shell builtins only: at the limit, even `cat` cannot start.
const READ_PIDS = 'f=/sys/fs/cgroup/pids/pids.current; [ -r $f ] || f=/sys/fs/cgroup/pids.current; read pids < $f';

describeWithDocker('container hardening on Docker', () => {
  const docker = createDockerClient();
  const fixture = useLifecycleFixture(() => new DockerEngine({ docker }), {
    image: TEST_WORKSPACE_IMAGE,
    prepare: () => ensureWorkspaceImage(docker),
    prepareTimeoutMs: WORKSPACE_IMAGE_BUILD_TIMEOUT_MS,
  });
  let hostHome: string;

  beforeAll(async () => {
    hostHome = await mkdtemp(path.join(tmpdir(), 'berth-test-hosthome-'));
    await writeFile(path.join(hostHome, '.gitconfig'), '[user]\n\tname = Host User\n');
    await mkdir(path.join(hostHome, '.ssh'));
    await writeFile(path.join(hostHome, '.ssh', 'known_hosts'), 'example.org ssh-ed25519 AAAA\n');
  });

  afterAll(async () => {
    if (hostHome) await rm(hostHome, { recursive: true, force: true });
  });

  /** A runtime with a host home that has ~/.gitconfig and ~/.ssh. */
  function runtimeWith(overrides: Partial<Settings>): ContainerRuntime {
    const settings = { ...fixture.settings, ...overrides } as Settings;
    return new ContainerRuntime(new DockerEngine({ docker }), {
      paths: { home: fixture.home },
      settingsFor: () => settings,
      extraLabels: { [TEST_RUN_LABEL]: fixture.runId },
      hostHome,
    });
  }

  async function inspectOf(runtime: ContainerRuntime, project: RuntimeProject): Promise<Docker.ContainerInspectInfo> {
    const container = await runtime.ensure(project);
    return docker.getContainer(container.id).inspect();
  }

  it('sets every hardening flag, as docker inspect reads them back', async () => {
    const runtime = fixture.newRuntime({
      'container.memory': '384m',
      'container.cpus': 1.5,
      'container.pids': 300,
      'container.nofile': 2048,
      'container.nproc': 1024,
    });
    const project = await fixture.newProject('flags');
    const container = await runtime.ensure(project);
    const info = await docker.getContainer(container.id).inspect();
    const host = info.HostConfig;

    expect(info.Config.User).toBe('agent');
    expect(host.CapDrop).toEqual(['ALL']);
    expect(host.CapAdd ?? []).toEqual([]);
    expect(host.SecurityOpt).toEqual(['no-new-privileges']);
    expect(host.Privileged).toBe(false);
    expect(host.Memory).toBe(384 * MIB);
    expect(host.MemorySwap).toBe(384 * MIB);
    expect(host.NanoCpus).toBe(1.5e9);
    expect(host.PidsLimit).toBe(300);
    expect(host.Ulimits).toEqual([
      { Name: 'nofile', Soft: 2048, Hard: 2048 },
      { Name: 'nproc', Soft: 1024, Hard: 1024 },
    ]);
    // Berth's pace, the image's test.
    expect(info.Config.Healthcheck).toMatchObject({ Test: ['CMD', '/usr/local/bin/berth-healthcheck'], Interval: 60e9, Retries: 3 });
    expect(host.RestartPolicy).toMatchObject({ Name: 'no' });
    expect(host.Init).toBe(true);
    expect(host.NetworkMode).not.toBe('host');
    // On its own network only, and that network has no route out.
    const networks = Object.entries(info.NetworkSettings.Networks);
    expect(networks.map(([name]) => name)).toEqual([`${info.Name.slice(1)}-net`]);
    expect((await docker.getNetwork(networks[0]![1].NetworkID).inspect()).Internal).toBe(true);
    expect(info.State.Health?.Status).toBe('starting');
    // The engine's socket would hand the agent the host: it is never mounted, by any name.
    const mounts = info.Mounts.map((mount) => ({ source: mount.Source, target: mount.Destination, rw: mount.RW }));
    expect(mounts.filter((mount) => /docker\.sock|podman\.sock/.test(`${mount.source} ${mount.target}`))).toEqual([]);
    expect(mounts).toEqual(
      expect.arrayContaining([
        { source: project.path, target: '/workspace', rw: true },
        { source: path.join(fixture.home, 'agents', project.name, 'claude'), target: '/home/agent/.claude', rw: true },
      ]),
    );
    expect(container.limits).toEqual({ memoryBytes: 384 * MIB, cpus: 1.5, pids: 300 });

    // The runtime checks of section 5 of the CIS Docker Benchmark that apply, one by one.
    expect(host.ReadonlyRootfs, '5.12 root filesystem read-only').toBe(true);
    expect(Object.keys(host.Tmpfs ?? {}).sort(), '5.12 with tmpfs where the agent writes').toEqual(['/home/agent', '/tmp']);
    expect(host.PidMode ?? '', '5.15 no host PID namespace').not.toBe('host');
    expect(host.IpcMode ?? '', '5.16 no host IPC namespace').not.toBe('host');
    expect(host.UTSMode ?? '', '5.20 no host UTS namespace').not.toBe('host');
    expect(host.Devices ?? [], '5.17 no host devices').toEqual([]);
    expect(host.PortBindings ?? {}, '5.7/5.13 no published ports').toEqual({});
    expect(host.RestartPolicy?.MaximumRetryCount ?? 0, '5.14 restart bounded').toBe(0);
    const sensitive = ['/', '/boot', '/dev', '/etc', '/lib', '/proc', '/sys', '/usr', '/var', '/run'];
    expect(mounts.filter((mount) => sensitive.includes(mount.source)), '5.5 no sensitive host folder').toEqual([]);
  });

  it('has a read-only root: writes go only to the workspace, ~/.claude, the home and /tmp', async () => {
    const runtime = fixture.newRuntime();
    const project = await fixture.newProject('readonly');
    const { stdout, exitCode } = await fixture.run(
      runtime,
      project,
      'for dir in /etc /usr/local /opt / /workspace /home/agent/.claude /home/agent /tmp; do if touch "$dir/berth-probe" 2>/dev/null; then echo "$dir writable"; else echo "$dir read-only"; fi; done',
    );
    expect(exitCode).toBe(0);
    expect(stdout.trim().split('\n')).toEqual([
      '/etc read-only',
      '/usr/local read-only',
      '/opt read-only',
      '/ read-only',
      '/workspace writable',
      '/home/agent/.claude writable',
      '/home/agent writable',
      '/tmp writable',
    ]);
  });

  it('gives the agent no capabilities, no new privileges and the ulimits of the settings', async () => {
    const runtime = fixture.newRuntime({ 'container.nofile': 1536, 'container.nproc': 768 });
    const project = await fixture.newProject('inside');
    const result = await fixture.run(
      runtime,
      project,
      'id -u; grep -E "^(CapEff|CapBnd|NoNewPrivs):" /proc/self/status | tr -s "\\t " " "; bash -c "ulimit -n; ulimit -u"',
    );
    expect(result).toMatchObject({
      stdout: '1000\nCapEff: 0000000000000000\nCapBnd: 0000000000000000\nNoNewPrivs: 1\n1536\n768\n',
      exitCode: 0,
    });
  });

  it('OOM-kills a memory hog at the memory limit, and the container survives', async () => {
    const runtime = fixture.newRuntime({ 'container.memory': '64m' });
    const project = await fixture.newProject('oom');
    const before = await runtime.ensure(project);
    // tail holds a line without a newline whole: 512 MB of zeros asks for 512 MB.
    const hog = await fixture.run(runtime, project, 'head -c 512m /dev/zero | tail > /dev/null; echo "status=$?"');
    expect(hog.stdout).toBe('status=137\n');
    const after = await runtime.status(project);
    expect(after).toMatchObject({ id: before.id, status: 'running' });
    expect((await fixture.run(runtime, project, 'echo alive')).stdout).toBe('alive\n');
  });

  it('stops a fork bomb at the pids limit, and the container survives', async () => {
    const limit = 64;
    const runtime = fixture.newRuntime({ 'container.pids': limit });
    const project = await fixture.newProject('forks');
    const before = await runtime.ensure(project);
    // Asks for 1000 processes. The shell dies at the first fork refused; its exit trap,
    // with builtins only, reads the count and kills the group so the next test starts clean.
    const bomb = await fixture.run(
      runtime,
      project,
      `trap '${READ_PIDS}; echo "peak=$pids"; trap "" TERM; kill 0' EXIT; ` +
        'n=0; while [ $n -lt 1000 ]; do sleep 600 & n=$((n+1)); done; echo all-started',
    );
    expect(bomb.stdout).toBe(`peak=${limit}\n`);
    expect(bomb.stderr).toMatch(/Cannot fork|Resource temporarily unavailable/);
    expect(await runtime.status(project)).toMatchObject({ id: before.id, status: 'running' });
    await waitUntil(async () => {
      const now = await fixture.run(runtime, project, `${READ_PIDS}; echo "$pids"`);
      return now.exitCode === 0 && Number(now.stdout) < 10;
    });
  });

  it('mounts ~/.gitconfig read-only, and ~/.ssh only when the project opts in', async () => {
    const plain = await fixture.newProject('nossh');
    const plainMounts = (await inspectOf(runtimeWith({}), plain)).Mounts;
    expect(plainMounts).toContainEqual(
      expect.objectContaining({ Source: path.join(hostHome, '.gitconfig'), Destination: '/home/agent/.gitconfig', RW: false }),
    );
    expect(plainMounts.filter((mount) => mount.Destination.includes('.ssh'))).toEqual([]);
    // Fields 5 and 6 of mountinfo: the mount point and its options.
    const inside = await fixture.run(runtimeWith({}), plain, 'git config --global user.name; awk \'$5 ~ /gitconfig/ { print $5, $6 }\' /proc/self/mountinfo');
    expect(inside.stdout).toMatch(/^Host User\n\/home\/agent\/\.gitconfig ro,\S+\n$/);

    const withSsh = await fixture.newProject('ssh');
    const sshMounts = (await inspectOf(runtimeWith({ 'container.mountSsh': true }), withSsh)).Mounts;
    expect(sshMounts).toContainEqual(
      expect.objectContaining({ Source: path.join(hostHome, '.ssh'), Destination: '/home/agent/.ssh', RW: false }),
    );
  });

  it("mounts the host's claude binary read-only when claude.mountHostCli is on", async () => {
    const runtime = runtimeWith({ 'claude.mountHostCli': true });
    const project = await fixture.newProject('hostcli');
    const mounts = (await inspectOf(runtime, project)).Mounts;
    expect(mounts).toContainEqual(
      expect.objectContaining({ Source: await realpath(HOST_CLAUDE), Destination: '/usr/local/bin/claude', RW: false }),
    );
    // Mounted where the image's link points, read-only.
    const inside = await fixture.run(runtime, project, 'claude --version; awk \'$5 ~ /^\\/usr\\/local\\// { print $5, $6 }\' /proc/self/mountinfo');
    expect(inside.exitCode).toBe(0);
    expect(inside.stdout).toMatch(/^\d+\.\d+\.\d+ \(Claude Code\)\n\/usr\/local\/\S*claude\S* ro,\S*\n$/);
  });
});
