// The workspace image (docker/Dockerfile) as berth runs it: the agent user,
// the pinned CLI, the healthcheck, the git askpass helper.
//
// The image is (re)built here rather than assumed: a missing image must not
// skip these tests silently. An unchanged Dockerfile builds from the engine's
// cache in seconds; a cold build needs the network and a few minutes.
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  TEST_RUN_LABEL,
  createDockerClient,
  describeWithDocker,
  execInContainer,
  newTestRunId,
  removeTestContainers,
} from '../helpers/engine.js';
import { TEST_WORKSPACE_IMAGE, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS, ensureWorkspaceImage } from '../helpers/workspace-image.js';

const IMAGE = TEST_WORKSPACE_IMAGE;
const CLAUDE_CODE_VERSION = '2.1.197';
const BUILD_TIMEOUT_MS = WORKSPACE_IMAGE_BUILD_TIMEOUT_MS;

describeWithDocker('workspace image', () => {
  const runId = newTestRunId();
  const hostDirs: string[] = [];
  let docker: Docker;
  let withRepo: Docker.Container;

  beforeAll(async () => {
    docker = createDockerClient();
    await ensureWorkspaceImage(docker);
    const repo = await hostDir('repo');
    execFileSync('git', ['init', '--quiet', repo]);
    withRepo = await startWorkspace(docker, runId, repo);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    if (docker) await removeTestContainers(docker, runId);
    await Promise.all(hostDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  // World-readable, as a project is for its owner: uid 1000 inside is not the owner.
  async function hostDir(purpose: string): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), `berth-test-${purpose}-`));
    hostDirs.push(dir);
    await chmod(dir, 0o755);
    return dir;
  }

  const run = (container: Docker.Container, script: string, env: string[] = []) =>
    execInContainer(docker, container, ['sh', '-c', script], { env });

  it('runs as agent (uid 1000) in /workspace, without sudo', async () => {
    const result = await run(withRepo, 'id -un; id -u; pwd; echo "$HOME"; command -v sudo || echo no-sudo');
    expect(result).toEqual({ stdout: 'agent\n1000\n/workspace\n/home/agent\nno-sudo\n', stderr: '', exitCode: 0 });
  });

  it('has the pinned Claude Code CLI', async () => {
    const result = await run(withRepo, 'claude --version');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(CLAUDE_CODE_VERSION);
  });

  it('declares the healthcheck: every 60 s, 3 retries', async () => {
    const { Config } = await docker.getImage(IMAGE).inspect();
    expect(Config.Healthcheck).toMatchObject({
      Test: ['CMD', '/usr/local/bin/berth-healthcheck'],
      Interval: 60e9,
      Retries: 3,
    });
  });

  it('is healthy with a git repository mounted at /workspace', async () => {
    // Probing every second instead of every minute; the rest is the image's HEALTHCHECK.
    const container = await startWorkspace(docker, runId, await hostDirWithRepo(), { Interval: 1e9 });
    expect(await healthOnceDecided(container)).toMatchObject({ Status: 'healthy' });
  });

  it('is unhealthy without a mounted /workspace', async () => {
    const container = await startWorkspace(docker, runId);
    const result = await run(container, 'berth-healthcheck');
    expect(result).toMatchObject({ stdout: 'unhealthy: /workspace is not mounted\n', exitCode: 1 });
  });

  it('is unhealthy when /workspace is not a git repository', async () => {
    const container = await startWorkspace(docker, runId, await hostDir('plain'));
    const result = await run(container, 'berth-healthcheck');
    expect(result).toMatchObject({ stdout: 'unhealthy: /workspace is not a git repository\n', exitCode: 1 });
  });

  it('answers git credential prompts from GIT_TOKEN, on stdout only', async () => {
    const env = ['GIT_TOKEN=t0ken-value', 'GIT_USERNAME=someone'];
    const username = await run(withRepo, `"$GIT_ASKPASS" "Username for 'https://git.example': "`, env);
    const password = await run(withRepo, `"$GIT_ASKPASS" "Password for 'https://someone@git.example': "`, env);
    expect(username).toEqual({ stdout: 'someone\n', stderr: '', exitCode: 0 });
    expect(password).toEqual({ stdout: 't0ken-value\n', stderr: '', exitCode: 0 });
  });

  it('refuses a password prompt when GIT_TOKEN is unset', async () => {
    const result = await run(withRepo, `"$GIT_ASKPASS" "Password for 'https://git.example': "`);
    expect(result).toMatchObject({ stdout: '', exitCode: 1 });
  });

  async function hostDirWithRepo(): Promise<string> {
    const dir = await hostDir('repo');
    execFileSync('git', ['init', '--quiet', dir]);
    return dir;
  }
});

async function startWorkspace(
  docker: Docker,
  runId: string,
  workspace?: string,
  healthcheck?: Docker.HealthConfig,
): Promise<Docker.Container> {
  const container = await docker.createContainer({
    Image: IMAGE,
    Cmd: ['sleep', 'infinity'],
    Labels: { 'berth.managed': 'true', [TEST_RUN_LABEL]: runId },
    Healthcheck: healthcheck,
    HostConfig: { NetworkMode: 'none', Binds: workspace ? [`${workspace}:/workspace`] : [] },
  });
  await container.start();
  return container;
}

async function healthOnceDecided(container: Docker.Container): Promise<unknown> {
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const { State } = await container.inspect();
    if (State.Health && State.Health.Status !== 'starting') return State.Health;
    await sleep(500);
  }
  throw new Error('healthcheck still starting after 30 s');
}

