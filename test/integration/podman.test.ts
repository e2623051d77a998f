// Project containers on Podman, through its Docker-compatible socket: the same
// lifecycle suite as on Docker, then what differs on Podman. scripts/setup-podman.sh
// makes Podman answer at /run/podman/podman.sock (BERTH_PODMAN_HOST to point elsewhere).
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { connectEngine, createDockerode } from '../../src/runtime/docker/connect.js';
import { DockerEngine } from '../../src/runtime/docker/docker-engine.js';
import { createDockerClient, describeWithDocker } from '../helpers/engine.js';
import { defineLifecycleSuite } from '../helpers/lifecycle-suite.js';
import { PODMAN_ADDRESS, copyImage, describeWithEngine } from '../helpers/podman.js';
import { TEST_WORKSPACE_IMAGE, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS, ensureWorkspaceImage } from '../helpers/workspace-image.js';

await describeWithEngine(PODMAN_ADDRESS, 'container runtime on Podman', (endpoint) => {
  const fixture = defineLifecycleSuite('podman', () => connectEngine(endpoint), {
    image: TEST_WORKSPACE_IMAGE,
    // Built once in Docker (from its cache when unchanged), then copied: a cold build in Podman would need the network.
    prepare: async () => {
      const docker = createDockerClient();
      await ensureWorkspaceImage(docker);
      await copyImage(docker, createDockerode(endpoint), TEST_WORKSPACE_IMAGE);
    },
    prepareTimeoutMs: WORKSPACE_IMAGE_BUILD_TIMEOUT_MS,
  });

  it('podman: the engine says it is Podman', async () => {
    const info = await connectEngine(endpoint).info();
    expect(info).toMatchObject({ endpoint: endpoint.address, product: 'podman' });
  });

  // Podman sets nofile and nproc to 1048576 unless told otherwise, which fails
  // where its service's hard limits are lower (no CAP_SYS_RESOURCE, systemd's defaults).
  it('podman: the container gets the nofile and nproc limits of the settings', async () => {
    const runtime = fixture.newRuntime({ 'container.nofile': 1536, 'container.nproc': 768 });
    const project = await fixture.newProject('ulimits');
    const { stdout, exitCode } = await fixture.run(runtime, project, 'exec bash -c "ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu"');
    expect(exitCode).toBe(0);
    expect(stdout).toBe('1536\n1536\n768\n768\n');
  });

  it('podman: the root is read-only, and the agent writes its home and /tmp (owned through U, not uid=)', async () => {
    const runtime = fixture.newRuntime({});
    const project = await fixture.newProject('readonly');
    const { stdout, exitCode } = await fixture.run(
      runtime,
      project,
      'for dir in /etc / /workspace /home/agent/.claude /home/agent /tmp; do if touch "$dir/berth-probe" 2>/dev/null; then echo "$dir writable"; else echo "$dir read-only"; fi; done',
    );
    expect(exitCode).toBe(0);
    expect(stdout.trim().split('\n')).toEqual([
      '/etc read-only',
      '/ read-only',
      '/workspace writable',
      '/home/agent/.claude writable',
      '/home/agent writable',
      '/tmp writable',
    ]);
  });

  // Without systemd Podman never runs a healthcheck by itself: a container stays `starting`. berth runs them.
  it('podman: berth runs the healthcheck the engine does not, and the container becomes healthy', async () => {
    const engine = connectEngine(endpoint);
    const runtime = fixture.newRuntime({});
    const project = await fixture.newProject('health');
    // The image's check wants a git repository at /workspace, as berth's workspaces are.
    await execa('git', ['init', '--quiet', project.path]);
    const container = await runtime.ensure(project);
    expect((await engine.inspect(container.id))?.health).toBe('starting');
    expect((await engine.inspect(container.id))?.healthLog ?? []).toEqual([]);
    expect(await engine.runHealthcheck(container.id)).toBe(true);
    const checked = await engine.inspect(container.id);
    expect(checked?.healthLog, 'the check ran and was logged').toEqual([expect.objectContaining({ exitCode: 0 })]);
    expect(checked?.health).toBe('healthy');
  });
});

describeWithDocker('healthchecks on Docker', () => {
  it('docker: runs its own healthchecks, so berth runs none', async () => {
    expect(await new DockerEngine({ docker: createDockerClient() }).runHealthcheck('no-such-container')).toBe(false);
  });
});
