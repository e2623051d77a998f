// A command with an open stdin and no time limit (a live agent session), in
// both places an agent runs: the workspace on the host, and a container on
// Docker and on Podman (its Docker-compatible API). Lines written while it
// runs reach it one at a time, end() is its end of input, a cancel kills it
// and what it started, Infinity sets no timer, a write after its exit is
// refused without a throw, and a command given no input still sees a closed stdin.
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectEngine, createDockerode } from '../../src/runtime/docker/connect.js';
import { DockerEngine } from '../../src/runtime/docker/docker-engine.js';
import type { ContainerEngine, ExecOutcome, ExecRequest, ProcessInput } from '../../src/runtime/types.js';
import { WorkspaceRuntime } from '../../src/runtime/workspace-runtime.js';
import { createContext } from '../../src/services/context.js';
import { TEST_RUN_LABEL, createDockerClient, describeWithDocker, newTestRunId, removeTestContainers } from '../helpers/engine.js';
import { useLifecycleFixture } from '../helpers/lifecycle-suite.js';
import { PODMAN_ADDRESS, describeWithEngine } from '../helpers/podman.js';
import { processesRunning, waitFor } from '../helpers/processes.js';
import { useTempDirs } from '../helpers/temp.js';
import { TEST_WORKSPACE_IMAGE, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS, ensureWorkspaceImage } from '../helpers/workspace-image.js';

/** Where a suite runs its commands. */
interface Place {
  exec(request: ExecRequest): Promise<ExecOutcome>;
  /** Whether a live process of the place has exactly this command line. */
  runs(commandLine: string): Promise<boolean>;
}

/** A command started with its stdin open; its output as it comes. */
function startWithInput(place: Place, argv: string[], extra: Partial<ExecRequest> = {}) {
  let output = '';
  let handOver!: (input: ProcessInput) => void;
  const input = new Promise<ProcessInput>((resolve) => (handOver = resolve));
  const outcome = place.exec({ argv, timeoutMs: 30_000, onStdin: handOver, onStdout: (text) => (output += text), ...extra });
  // A failed start would leave `input` pending: the test fails on the outcome instead.
  const stdin = Promise.race([input, outcome.then(() => Promise.reject(new Error(`${argv.join(' ')} ended before it was given its stdin`)))]);
  return {
    outcome,
    stdin,
    output: () => output,
    until: (text: string) => waitFor(() => output.includes(text), `${JSON.stringify(text)} in the output, which is ${JSON.stringify(output)}`, 15_000),
  };
}

/** Settings stop at 24 h: a longer timer can only be a limit made of Infinity (setTimeout clamps it, or fires it at once). */
const DAY_MS = 24 * 60 * 60_000;

/** A number no other test's sleeper has, to find its process by. */
const uniqueSeconds = () => String(randomInt(100_000, 999_999));

function defineStdinSuite(label: string, place: () => Place): void {
  it(`${label}: each line written reaches the running command before the next is written, and end() is the end of its input`, async () => {
    const run = startWithInput(place(), ['sh', '-c', 'while IFS= read -r line; do echo "echo:$line"; done; echo eof']);
    const stdin = await run.stdin;
    expect(stdin.write('one\n')).toBe(true);
    await run.until('echo:one\n');
    expect(run.output()).toBe('echo:one\n');
    expect(stdin.write('two\n')).toBe(true);
    await run.until('echo:two\n');
    // Still reading: its input has not ended.
    await sleep(200);
    expect(run.output()).toBe('echo:one\necho:two\n');
    stdin.end();
    expect(await run.outcome).toMatchObject({ exitCode: 0, timedOut: false, cancelled: false });
    expect(run.output()).toBe('echo:one\necho:two\neof\n');
  });

  it(`${label}: what is written arrives byte for byte, unframed, however much more than a pipe holds`, async () => {
    const run = startWithInput(place(), ['wc', '-c']);
    const stdin = await run.stdin;
    const pieces = ['é💥\n', 'x'.repeat(300_000), '\0\r\n', 'y'.repeat(70_000)];
    for (const piece of pieces) expect(stdin.write(piece)).toBe(true);
    stdin.end();
    expect(await run.outcome).toMatchObject({ exitCode: 0 });
    expect(run.output().trim()).toBe(String(Buffer.byteLength(pieces.join(''))));
  });

  it(`${label}: a cancel kills the command reading its stdin and what it started, and later writes are refused`, async () => {
    const seconds = uniqueSeconds();
    const controller = new AbortController();
    const run = startWithInput(place(), ['sh', '-c', `(setsid sleep ${seconds} &); echo ready; cat`], { signal: controller.signal });
    const stdin = await run.stdin;
    await run.until('ready');
    await waitFor(() => place().runs(`sleep ${seconds}`), `sleep ${seconds} running`);
    stdin.write('before the cancel\n');
    await run.until('before the cancel\n');
    controller.abort();
    expect(await run.outcome).toMatchObject({ exitCode: null, cancelled: true, timedOut: false });
    expect(await place().runs(`sleep ${seconds}`)).toBe(false);
    expect(stdin.write('after the cancel\n')).toBe(false);
  });

  it(`${label}: a time limit of Infinity sets no timer and never fires`, async () => {
    // Watched, not replaced: every timer still runs.
    const timers = vi.spyOn(globalThis, 'setTimeout');
    let delays: number[];
    const run = startWithInput(place(), ['sh', '-c', 'echo ready; cat'], { timeoutMs: Infinity });
    let stdin: ProcessInput;
    try {
      stdin = await run.stdin;
      await run.until('ready');
      delays = timers.mock.calls.map(([, delay]) => delay ?? 0);
    } finally {
      timers.mockRestore();
    }
    expect(delays.filter((delay) => !(delay < DAY_MS)), 'timers of a day or more').toEqual([]);
    await sleep(1_000);
    stdin.write('still here\n');
    await run.until('still here\n');
    stdin.end();
    expect(await run.outcome).toMatchObject({ exitCode: 0, timedOut: false, cancelled: false });
  });

  it(`${label}: input still on its way when the command exits is dropped, and a write after the exit returns false`, async () => {
    const run = startWithInput(place(), ['sh', '-c', 'read -r line; echo "got:$line"']);
    const stdin = await run.stdin;
    stdin.write('one\n');
    // More than a pipe holds: the rest is queued when the command exits, and its write fails (EPIPE).
    stdin.write('z'.repeat(2_000_000));
    expect(await run.outcome).toMatchObject({ exitCode: 0, timedOut: false, cancelled: false });
    expect(run.output()).toBe('got:one\n');
    expect(stdin.write('late\n')).toBe(false);
    expect(() => stdin.end()).not.toThrow();
    // An 'error' of the broken pipe would surface here, as an uncaught exception that fails the run.
    await sleep(200);
  });

  it(`${label}: a command given no input sees its stdin closed, and does not wait for it`, async () => {
    let output = '';
    const outcome = await place().exec({ argv: ['sh', '-c', 'cat; echo "cat:$?"'], timeoutMs: 15_000, onStdout: (text) => (output += text) });
    expect(outcome).toMatchObject({ exitCode: 0, timedOut: false });
    expect(output).toBe('cat:0\n');
  });
}

describe('stdin of a command in the workspace', () => {
  const tempDir = useTempDirs();
  const runtime = new WorkspaceRuntime();
  // A folder for each command: useTempDirs removes them after each test.
  const place: Place = {
    exec: async (request) => runtime.exec({ name: 'demo', path: await tempDir('berth-stdin-ws-') }, request),
    runs: async (commandLine) => (await processesRunning(commandLine, 'exact')).length > 0,
  };
  defineStdinSuite('workspace', () => place);

  it('workspace: RuntimeService.exec passes the stdin through, under its claim and its marker', async () => {
    const context = createContext({ ...process.env, BERTH_HOME: await tempDir('berth-stdin-home-') });
    await context.projects.add('stdin', { mode: 'workspace' });
    const service = await context.runtime();
    const run = startWithInput({ exec: (request) => service.exec('stdin', request), runs: () => Promise.resolve(false) }, [
      'sh',
      '-c',
      'echo "marker:$BERTH_RUN"; IFS= read -r line; echo "line:$line"',
    ]);
    const stdin = await run.stdin;
    await run.until('\n');
    const marker = /^marker:(\S+)\n/.exec(run.output())?.[1];
    const claims = (await context.registry.get('stdin'))?.work ?? [];
    expect(claims).toEqual([expect.objectContaining({ kind: 'exec', marker })]);
    stdin.write('hello\n');
    expect(await run.outcome).toMatchObject({ exitCode: 0, timedOut: false });
    expect(run.output()).toBe(`marker:${marker}\nline:hello\n`);
    expect((await context.registry.get('stdin'))?.work ?? []).toEqual([]);
  });
});

/** A plain Debian container on `client`'s engine for one suite, its commands run through berth's engine adapter as `nobody`. */
function useContainerPlace(client: () => Dockerode, adapter: () => ContainerEngine): () => Place {
  const runId = newTestRunId();
  let place: Place | undefined;
  beforeAll(async () => {
    const docker = client();
    const container = await docker.createContainer({
      Image: 'debian:bookworm-slim',
      Cmd: ['sleep', 'infinity'],
      Labels: { [TEST_RUN_LABEL]: runId },
      // Podman would otherwise set nofile and nproc to 1048576, above what its service may be allowed to give.
      HostConfig: { NetworkMode: 'none', Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 1024 }, { Name: 'nproc', Soft: 512, Hard: 512 }] },
    });
    await container.start();
    const engine = adapter();
    const where = { user: 'nobody', workdir: '/tmp' };
    place = {
      exec: (request) => engine.exec(container.id, { ...request, ...where }),
      async runs(commandLine) {
        let listing = '';
        await engine.exec(container.id, {
          argv: ['sh', '-c', 'for p in /proc/[0-9]*; do tr "\\0" " " < "$p/cmdline" 2>/dev/null; echo; done'],
          timeoutMs: 15_000,
          onStdout: (text) => (listing += text),
          ...where,
        });
        return listing.split('\n').some((line) => line.trim() === commandLine);
      },
    };
  });
  // By label, so the container goes even when a test failed half-way.
  afterAll(async () => {
    await removeTestContainers(client(), runId);
  });
  return () => place!;
}

describeWithDocker('stdin of a command in a container on Docker', () => {
  const docker = createDockerClient();
  defineStdinSuite('docker', useContainerPlace(() => docker, () => new DockerEngine({ docker })));

  describe('through the container runtime', () => {
    const fixture = useLifecycleFixture(() => new DockerEngine({ docker }), {
      image: TEST_WORKSPACE_IMAGE,
      prepare: () => ensureWorkspaceImage(docker),
      prepareTimeoutMs: WORKSPACE_IMAGE_BUILD_TIMEOUT_MS,
    });

    it("docker: ContainerRuntime.exec passes the stdin through to the agent's command", async () => {
      const runtime = fixture.newRuntime();
      const project = await fixture.newProject('stdin');
      const run = startWithInput(
        { exec: (request) => runtime.exec(project, request), runs: () => Promise.resolve(false) },
        ['sh', '-c', 'while IFS= read -r line; do echo "$(id -un):$line"; done'],
      );
      const stdin = await run.stdin;
      stdin.write('one\n');
      await run.until('agent:one\n');
      stdin.end();
      expect(await run.outcome).toMatchObject({ exitCode: 0 });
      expect(run.output()).toBe('agent:one\n');
    });
  });
});

await describeWithEngine(PODMAN_ADDRESS, 'stdin of a command in a container on Podman', (endpoint) => {
  defineStdinSuite('podman', useContainerPlace(() => createDockerode(endpoint), () => connectEngine(endpoint)));
});
