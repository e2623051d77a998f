// The dockerode calls berth's container runtime relies on, against the real
// engine: create with labels, start, exec without a TTY (stdout and stderr
// demultiplexed, exit code from inspect), stop, remove.
import type Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  TEST_RUN_LABEL,
  createDockerClient,
  describeWithDocker,
  execInContainer,
  isStatus,
  newTestRunId,
  removeTestContainers,
} from '../helpers/engine.js';

const BASE_IMAGE = 'debian:bookworm-slim';

describeWithDocker('Docker engine through dockerode', () => {
  const runId = newTestRunId();
  const name = `berth-test-engine-${runId}`;
  let docker: Docker;
  let container: Docker.Container;

  beforeAll(async () => {
    docker = createDockerClient();
    container = await docker.createContainer({
      name,
      Image: BASE_IMAGE,
      Cmd: ['sleep', 'infinity'],
      Labels: { 'berth.managed': 'true', [TEST_RUN_LABEL]: runId },
      HostConfig: { NetworkMode: 'none' },
    });
    await container.start();
  });

  // By label, so a container is removed even when a test failed half-way.
  afterAll(async () => {
    if (docker) await removeTestContainers(docker, runId);
  });

  it('creates and starts the container with its labels and name', async () => {
    const info = await container.inspect();
    expect(info.Name).toBe(`/${name}`);
    expect(info.State.Running).toBe(true);
    expect(info.Config.Labels).toMatchObject({ 'berth.managed': 'true', [TEST_RUN_LABEL]: runId });
  });

  it('execs a command with stdout and stderr kept apart', async () => {
    const result = await execInContainer(docker, container, ['sh', '-c', 'echo to-stdout; echo to-stderr >&2']);
    expect(result).toEqual({ stdout: 'to-stdout\n', stderr: 'to-stderr\n', exitCode: 0 });
  });

  it('reports the exit code of a failing command', async () => {
    const result = await execInContainer(docker, container, ['sh', '-c', 'echo failing >&2; exit 3']);
    expect(result).toEqual({ stdout: '', stderr: 'failing\n', exitCode: 3 });
  });

  it('stops and removes the container', async () => {
    // t: 0 because `sleep` as PID 1 ignores SIGTERM; waiting would only cost time.
    await container.stop({ t: 0 });
    await container.remove();
    const inspected = await container.inspect().then(
      () => 'still there',
      (error: unknown) => (isStatus(error, 404) ? 'gone' : error),
    );
    expect(inspected).toBe('gone');
  });
});
