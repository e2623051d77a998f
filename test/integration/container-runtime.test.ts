// Project containers on the real Docker engine: the shared lifecycle suite,
// then what only Docker's own view can show (inspect, logs, builds, errors of
// an engine that does not answer, the interactive shell in a pseudo-terminal).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';
import { expect, it } from 'vitest';
import { containerName } from '../../src/domain/container.js';
import { BerthError } from '../../src/domain/errors.js';
import { ContainerRuntime } from '../../src/runtime/container-runtime.js';
import { DockerEngine } from '../../src/runtime/docker/docker-engine.js';
import { EngineUnavailable } from '../../src/runtime/errors.js';
import { TEST_RUN_LABEL, createDockerClient, describeWithDocker } from '../helpers/engine.js';
import { defineLifecycleSuite } from '../helpers/lifecycle-suite.js';
import { TEST_WORKSPACE_IMAGE, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS, ensureWorkspaceImage } from '../helpers/workspace-image.js';

const run = promisify(execFile);
const DIST_ENGINE = new URL('../../dist/runtime/docker/docker-engine.js', import.meta.url);

describeWithDocker('container runtime on Docker', () => {
  const docker = createDockerClient();
  const fixture = defineLifecycleSuite('docker', () => new DockerEngine({ docker }), {
    image: TEST_WORKSPACE_IMAGE,
    prepare: () => ensureWorkspaceImage(docker),
    prepareTimeoutMs: WORKSPACE_IMAGE_BUILD_TIMEOUT_MS,
  });

  it('labels the container as berth finds it again after a crash', async () => {
    const runtime = fixture.newRuntime();
    const project = await fixture.newProject('labels');
    const before = Date.now();
    const container = await runtime.ensure(project);
    const info = await docker.getContainer(container.id).inspect();
    expect(info.Name).toBe(`/${containerName(project)}`);
    expect(info.Name).toMatch(new RegExp(`^/berth-${project.name}-[0-9a-f]{12}$`));
    expect(info.Config.Labels).toMatchObject({
      'berth.managed': 'true',
      'berth.project': project.name,
      'berth.workspace': project.path,
      [TEST_RUN_LABEL]: fixture.runId,
    });
    expect(Date.parse(info.Config.Labels['berth.created']!)).toBeGreaterThanOrEqual(before - 1_000);
  });

  it("keeps request.env out of the container's configuration", async () => {
    const runtime = fixture.newRuntime();
    const project = await fixture.newProject('envcfg');
    const result = await fixture.run(runtime, project, 'printf %s "$BERTH_TEST_TOKEN"', { env: { BERTH_TEST_TOKEN: 'tok-123' } });
    expect(result.stdout).toBe('tok-123');
    const container = await runtime.status(project);
    const info = await docker.getContainer(container!.id).inspect();
    expect(info.Config.Env.join('\n')).not.toContain('tok-123');
    expect(info.Config.Env.join('\n')).not.toContain('BERTH_TEST_TOKEN');
  });

  // As root, a workspace berth created belongs to root: the agent (uid 1000) could not write it.
  it.skipIf(process.getuid?.() !== 0)('hands a workspace berth created to the agent, and leaves a folder the user brought', async () => {
    const runtime = fixture.newRuntime();
    // Where berth creates workspaces: only a folder there is one berth created.
    const named = await fixture.newProject('owned');
    const created = { ...named, path: path.join(fixture.home, 'workspaces', named.name) };
    await mkdir(path.join(created.path, 'src'), { recursive: true });
    await writeFile(path.join(created.path, 'src', 'main.txt'), 'v1\n');
    const owned = { ...created, ownsWorkspace: true };
    try {
      const wrote = await fixture.run(runtime, owned, 'echo v2 > src/main.txt && echo new > new.txt');
      expect(wrote).toMatchObject({ exitCode: 0, stderr: '' });
      expect((await stat(path.join(created.path, 'src', 'main.txt'))).uid).toBe(1000);
    } finally {
      await runtime.remove(owned);
    }

    const brought = await fixture.newProject('brought');
    await chown(brought.path, 0, 0);
    const refused = await fixture.run(runtime, { ...brought, ownsWorkspace: false }, 'echo x > x.txt');
    expect(refused.exitCode).not.toBe(0);
    expect((await stat(brought.path)).uid).toBe(0);
  });

  it('reads the logs, once and followed until aborted', async () => {
    const runtime = fixture.newRuntime();
    const project = await fixture.newProject('logs');
    const container = await runtime.ensure(project);
    // PID 1's stdout is the container's log; the agent owns PID 1 (the init), so it may write there.
    await fixture.run(runtime, project, 'echo first-line > /proc/1/fd/1; echo second-line > /proc/1/fd/2');
    let once = '';
    await runtime.engine.logs(container.id, { follow: false, tail: 10, onChunk: (text) => (once += text) });
    // The engine copies stdout and stderr apart: their order in the log is not guaranteed.
    expect(once.split('\n').sort()).toEqual(['', 'first-line', 'second-line']);

    const controller = new AbortController();
    let followed = '';
    const following = runtime.engine.logs(container.id, {
      follow: true,
      tail: 0,
      signal: controller.signal,
      onChunk: (text) => {
        followed += text;
        if (followed.includes('third-line')) controller.abort();
      },
    });
    await fixture.run(runtime, project, 'echo third-line > /proc/1/fd/1');
    await following;
    expect(followed).toBe('third-line\n');
    // Aborted before it starts: returns at once instead of following forever.
    await runtime.engine.logs(container.id, { follow: true, tail: 0, signal: AbortSignal.abort(), onChunk: () => undefined });
  });

  it('builds an image with progress lines, and says when it exists', async () => {
    const engine = new DockerEngine({ docker });
    const context = await mkdtemp(path.join(tmpdir(), 'berth-test-build-'));
    const tag = `berth-test-build:${fixture.runId}`;
    try {
      await writeFile(path.join(context, 'Dockerfile'), `FROM debian:bookworm-slim\nARG MARK\nRUN echo "mark=$MARK"\n`);
      expect(await engine.imageExists(tag)).toBe(false);
      const lines: string[] = [];
      await engine.buildImage(context, tag, { buildArgs: { MARK: fixture.runId }, onProgress: (line) => lines.push(line) });
      expect(lines).toContain(`mark=${fixture.runId}`);
      expect(lines.every((line) => !line.includes('\n'))).toBe(true);
      expect(await engine.imageExists(tag)).toBe(true);
    } finally {
      await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
      await rm(context, { recursive: true, force: true });
    }
  });

  it('turns a failed build step into a one-line BerthError, and leaves no container of that step', async () => {
    const engine = new DockerEngine({ docker });
    const context = await mkdtemp(path.join(tmpdir(), 'berth-test-build-'));
    try {
      await writeFile(path.join(context, 'Dockerfile'), `FROM debian:bookworm-slim\nRUN echo failing-step-${fixture.runId} >&2; exit 3\n`);
      const error = await engine.buildImage(context, `berth-test-build-fails:${fixture.runId}`, {}).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(BerthError);
      expect((error as Error).message).toMatch(/^building berth-test-build-fails:\S+ failed: .*returned a non-zero code: 3$/);
      const steps = (await docker.listContainers({ all: true })).filter((info) => info.Command.includes(`failing-step-${fixture.runId}`));
      expect(steps.map((info) => info.Names[0])).toEqual([]);
    } finally {
      await rm(context, { recursive: true, force: true });
    }
  });

  it('names the endpoint in one line when the engine does not answer', async () => {
    const engine = new DockerEngine({ docker: new Dockerode({ socketPath: '/nonexistent' }), endpoint: 'unix:///nonexistent' });
    const listing = await engine.listManaged().catch((caught: unknown) => caught);
    expect(listing).toBeInstanceOf(EngineUnavailable);
    expect((listing as Error).message).toMatch(/^no container engine answers at unix:\/\/\/nonexistent \(ENOENT\): is it running\?$/);

    const runtime = new ContainerRuntime(engine, { paths: { home: fixture.home }, settingsFor: () => fixture.settings });
    const ensuring = await runtime.ensure(await fixture.newProject('noengine')).catch((caught: unknown) => caught);
    expect(ensuring).toBeInstanceOf(EngineUnavailable);
    // Also with a client built elsewhere: the endpoint comes from the client then.
    const elsewhere = new DockerEngine({ docker: new Dockerode({ socketPath: '/nonexistent.sock' }) });
    await expect(elsewhere.info()).rejects.toThrow(/^no container engine answers at unix:\/\/\/nonexistent\.sock /);
  });

  it('tells Docker apart in its info', async () => {
    const info = await new DockerEngine({ docker }).info();
    expect(info).toMatchObject({ product: 'docker' });
    expect(info.endpoint).toMatch(/^(unix|tcp|ssh):\/\//);
    expect(info.apiVersion).toMatch(/^1\.\d+$/);
  });

  // The whole shell needs a terminal: a pseudo-terminal from script(1) running the built engine.
  it.skipIf(!existsSync('/usr/bin/script'))('opens an interactive shell in a pseudo-terminal and returns its exit code', async () => {
    const runtime = fixture.newRuntime();
    const project = await fixture.newProject('shell');
    const container = await runtime.ensure(project);
    const program = [
      `const { DockerEngine } = await import(${JSON.stringify(DIST_ENGINE.href)});`,
      `const code = await new DockerEngine().openShell(${JSON.stringify(container.id)}, { user: 'agent', workdir: '/workspace', argv: ['bash', '--norc', '-i'] });`,
      `process.stdout.write('\\nshell-exit=' + code + ' raw-after=' + process.stdin.isRaw + '\\n');`,
      'process.exit(0);',
    ].join(' ');
    const command = `stty cols 100 rows 30; node --input-type=module -e ${shellQuote(program)}`;
    // script(1) forwards its stdin to the terminal; the shell then sees typed keys.
    const child = run('script', ['-qec', command, '/dev/null'], { timeout: 30_000, env: { ...process.env, TERM: 'xterm' } });
    child.child.stdin?.write('echo "tty=$(tty) size=$(stty size) user=$(id -un)"; exit 5\n');
    const { stdout } = await child;
    expect(stdout).toMatch(/tty=\/dev\/pts\/\d+ size=30 100 user=agent/);
    expect(stdout).toContain('shell-exit=5 raw-after=false');
  });
});

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
