// The model API from inside a project's container: the real claude CLI in the
// workspace image, as user agent, against the fake API on the host's loopback,
// which the container reaches through berth's relay on its gateway. The API key
// travels in the exec's environment only: never in the container's
// configuration, labels or files.
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';
import { agentConfigDirOf } from '../../src/domain/container-spec.js';
import type { ContainerRuntime } from '../../src/runtime/container-runtime.js';
import { connectEngine, createDockerode } from '../../src/runtime/docker/connect.js';
import { DockerEngine } from '../../src/runtime/docker/docker-engine.js';
import type { RuntimeProject } from '../../src/runtime/types.js';
import { QUIET_CLI_ENV } from '../fixtures/claude-env.js';
import { message, startFakeAnthropic, text, toolUse, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { createDockerClient, describeWithDocker } from '../helpers/engine.js';
import { useLifecycleFixture, type LifecycleFixture } from '../helpers/lifecycle-suite.js';
import { PODMAN_ADDRESS, copyImage, describeWithEngine } from '../helpers/podman.js';
import { TEST_WORKSPACE_IMAGE, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS, ensureWorkspaceImage } from '../helpers/workspace-image.js';

/** A fresh key per test, shaped like a real one: whatever contains it, leaked it. */
function uniqueKey(): string {
  return `sk-ant-api03-berth-marker-${randomUUID()}`;
}

interface ClaudeTurn {
  exitCode: number | null;
  lines: Array<Record<string, unknown> & { type: string; subtype?: string }>;
  stderr: string;
}

/** One turn of the real CLI in the project's container, as the chat service runs it. */
async function claudeInContainer(runtime: ContainerRuntime, project: RuntimeProject, prompt: string, baseUrl: string, apiKey: string): Promise<ClaudeTurn> {
  const lease = await runtime.reachableUrl(project, baseUrl);
  let stdout = '';
  let stderr = '';
  try {
    const outcome = await runtime.exec(project, {
      argv: ['claude', '-p', prompt, '--output-format', 'stream-json', '--verbose', '--permission-mode', 'bypassPermissions'],
      env: { ...QUIET_CLI_ENV, CLAUDE_CODE_MAX_RETRIES: '0', ANTHROPIC_BASE_URL: lease.url, ANTHROPIC_API_KEY: apiKey },
      timeoutMs: 50_000,
      onStdout: (chunk) => (stdout += chunk),
      onStderr: (chunk) => (stderr += chunk),
    });
    const lines = stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as ClaudeTurn['lines'][number]);
    return { exitCode: outcome.exitCode, lines, stderr };
  } finally {
    await lease.close();
  }
}

/** Every file under `dir` whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const hits: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if ((await readFile(file)).includes(needle)) hits.push(file);
  }
  return hits;
}

/** From the container: a request through the lease's URL, and curl's exit code (7: nobody listens). */
async function curlFromContainer(fixture: LifecycleFixture, runtime: ContainerRuntime, project: RuntimeProject, url: string): Promise<number | null> {
  const result = await fixture.run(runtime, project, 'curl -sS -o /dev/null -m 10 -H "x-api-key: $KEY" "$URL/v1/models"', {
    env: { KEY: 'relay-probe', URL: url.replace(/\/$/, '') },
  });
  return result.exitCode;
}

describeWithDocker('the model API from a project container on Docker', () => {
  const docker = createDockerClient();
  const fixture = useLifecycleFixture(() => new DockerEngine({ docker }), {
    image: TEST_WORKSPACE_IMAGE,
    prepare: () => ensureWorkspaceImage(docker),
    prepareTimeoutMs: WORKSPACE_IMAGE_BUILD_TIMEOUT_MS,
  });
  const runtimes: ContainerRuntime[] = [];
  let fake: FakeAnthropic;

  function newRuntime(): ContainerRuntime {
    const runtime = fixture.newRuntime();
    runtimes.push(runtime);
    return runtime;
  }

  beforeEach(async () => {
    fake = await startFakeAnthropic();
  });
  afterEach(() => fake.close());
  afterAll(() => Promise.all(runtimes.map((runtime) => runtime.close())));

  it('claude in the container runs a Write and a Bash tool call against the fake API on the host loopback', async () => {
    const runtime = newRuntime();
    const project = await fixture.newProject('tools');
    const apiKey = uniqueKey();
    fake.reply(message(text('Writing the first file.'), toolUse('Write', { file_path: '/workspace/from-write.txt', content: 'written by Write\n' })));
    fake.reply(message(toolUse('Bash', { command: 'echo hi > from-bash.txt', description: 'Write the second file' })));
    fake.reply(message(text('Both files are there.')));

    const turn = await claudeInContainer(runtime, project, 'make two files', fake.url, apiKey);

    expect(turn.exitCode, turn.stderr).toBe(0);
    // bypassPermissions is accepted: the agent in the container is not root.
    expect(turn.lines.find((line) => line.type === 'system' && line.subtype === 'init')).toMatchObject({ permissionMode: 'bypassPermissions' });
    expect(turn.lines.at(-1)).toMatchObject({ type: 'result', subtype: 'success', is_error: false, result: 'Both files are there.' });
    expect(await readFile(path.join(project.path, 'from-write.txt'), 'utf8')).toBe('written by Write\n');
    expect(await readFile(path.join(project.path, 'from-bash.txt'), 'utf8')).toBe('hi\n');
    expect(fake.mainRequests()).toHaveLength(3);
    expect(fake.mainRequests().map((request) => request.headers['x-api-key'])).toEqual([apiKey, apiKey, apiKey]);
    expect(fake.pendingReplies()).toBe(0);
  });

  it("keeps the API key out of the container's configuration, labels and files", async () => {
    const runtime = newRuntime();
    const project = await fixture.newProject('secret');
    const apiKey = uniqueKey();
    fake.reply(message(text('Hello from the fake.')));

    const turn = await claudeInContainer(runtime, project, 'say hello', fake.url, apiKey);
    expect(turn.exitCode, turn.stderr).toBe(0);
    // The key did travel, so its absence below means something.
    expect(fake.mainRequests()[0]?.headers['x-api-key']).toBe(apiKey);

    const container = await runtime.status(project);
    const inspect = JSON.stringify(await docker.getContainer(container!.id).inspect());
    expect(inspect).not.toContain(apiKey);
    expect(inspect).toContain(project.name);
    expect(await filesContaining(agentConfigDirOf(fixture.home, project.name), apiKey)).toEqual([]);
    expect(await filesContaining(project.path, apiKey)).toEqual([]);
    // Nor anywhere the agent can write inside: its home (~/.claude.json), the temporary folders. grep exits 1 when nothing matched.
    let found = '';
    const inside = await runtime.exec(project, {
      argv: ['grep', '-rlF', '-e', apiKey, '/home/agent', '/tmp', '/var/tmp', '/workspace'],
      timeoutMs: 30_000,
      onStdout: (chunk) => (found += chunk),
    });
    expect(found).toBe('');
    expect(inside.exitCode).toBe(1);
  });

  it('rewrites a loopback URL to a relay on the container gateway and passes any other URL unchanged', async () => {
    const runtime = newRuntime();
    const project = await fixture.newProject('rewrite');
    const remote = 'https://llm-gateway.example.com/anthropic?team=7';
    const passed = await runtime.reachableUrl(project, remote);
    expect(passed.url).toBe(remote);
    await passed.close();
    // Nothing to relay, so nothing was started for it.
    expect(await runtime.status(project)).toBeUndefined();

    const port = new URL(fake.url).port;
    const lease = await runtime.reachableUrl(project, `http://localhost:${port}/base/path?x=1`);
    const container = await runtime.status(project);
    const networks = (await docker.getContainer(container!.id).inspect()).NetworkSettings.Networks;
    const gateway = Object.values(networks)[0]?.Gateway;
    expect(gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const relayed = new URL(lease.url);
    expect(relayed.hostname).toBe(gateway);
    expect(relayed.port).not.toBe(port);
    expect(`${relayed.pathname}${relayed.search}`).toBe('/base/path?x=1');
    await lease.close();
  });

  it('shares one relay per target, closes it with its last lease, and closes everything on shutdown', async () => {
    const runtime = newRuntime();
    const project = await fixture.newProject('relay');
    const first = await runtime.reachableUrl(project, fake.url);
    const second = await runtime.reachableUrl(project, fake.url);
    expect(second.url).toBe(first.url);

    expect(await curlFromContainer(fixture, runtime, project, first.url)).toBe(0);
    expect(fake.requests.at(-1)?.headers['x-api-key']).toBe('relay-probe');
    await first.close();
    expect(await curlFromContainer(fixture, runtime, project, second.url)).toBe(0);
    await second.close();
    expect(await curlFromContainer(fixture, runtime, project, second.url)).toBe(7);

    const third = await runtime.reachableUrl(project, fake.url);
    expect(await curlFromContainer(fixture, runtime, project, third.url)).toBe(0);
    await runtime.close();
    expect(await curlFromContainer(fixture, runtime, project, third.url)).toBe(7);
    await expect(runtime.reachableUrl(project, fake.url)).rejects.toThrow(/shutting down/);
    // Shutdown stops relays only: a URL that needs none still comes back as it is.
    expect((await runtime.reachableUrl(project, 'https://api.anthropic.com')).url).toBe('https://api.anthropic.com');
  });
});

// Rootful Podman puts its containers on a bridge (cni-podman0) whose gateway
// is an address of this machine, as Docker does: the same relay serves them.
await describeWithEngine(PODMAN_ADDRESS, 'the model API from a project container on Podman', (endpoint) => {
  const fixture = useLifecycleFixture(() => connectEngine(endpoint), {
    image: TEST_WORKSPACE_IMAGE,
    prepare: async () => {
      const docker = createDockerClient();
      await ensureWorkspaceImage(docker);
      await copyImage(docker, createDockerode(endpoint), TEST_WORKSPACE_IMAGE);
    },
    prepareTimeoutMs: WORKSPACE_IMAGE_BUILD_TIMEOUT_MS,
  });
  let fake: FakeAnthropic;

  beforeEach(async () => {
    fake = await startFakeAnthropic();
  });
  afterEach(() => fake.close());

  it('podman: claude in the container reaches the fake API on the host loopback, the key in the exec only', async () => {
    const runtime = fixture.newRuntime();
    const project = await fixture.newProject('podapi');
    const apiKey = uniqueKey();
    fake.reply(message(toolUse('Bash', { command: 'echo hi > from-bash.txt', description: 'Write a file' })));
    fake.reply(message(text('Done on Podman.')));
    try {
      const turn = await claudeInContainer(runtime, project, 'make a file', fake.url, apiKey);
      expect(turn.exitCode, turn.stderr).toBe(0);
      expect(turn.lines.at(-1)).toMatchObject({ type: 'result', subtype: 'success', result: 'Done on Podman.' });
      expect(await readFile(path.join(project.path, 'from-bash.txt'), 'utf8')).toBe('hi\n');
      expect(fake.mainRequests()[0]?.headers['x-api-key']).toBe(apiKey);
      const container = await runtime.status(project);
      const inspect = JSON.stringify(await createDockerode(endpoint).getContainer(container!.id).inspect());
      expect(inspect).not.toContain(apiKey);
    } finally {
      await runtime.close();
    }
  });
});
