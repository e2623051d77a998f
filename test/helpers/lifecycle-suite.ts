// The lifecycle of project containers through ContainerRuntime, written once
// for any ContainerEngine: Docker runs it in container-runtime.test.ts, and
// Podman can run the same tests with its own engine factory.
//
// Call inside a describe block that only runs when the engine answers (e.g.
// describeWithDocker). Every container is labelled `berth.test=<runId>`, its
// project named after the run, and removed in afterAll.
import { chown, chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { containerName } from '../../src/domain/container.js';
import { AGENT_UID, agentConfigDirOf } from '../../src/domain/container-spec.js';
import { BerthError } from '../../src/domain/errors.js';
import { projectState } from '../../src/domain/lifecycle.js';
import { defaultSettings, type Settings } from '../../src/domain/settings.js';
import { ContainerRuntime, type ContainerProject } from '../../src/runtime/container-runtime.js';
import type { ContainerEngine, ExecRequest, ObservedContainer, RuntimeProject } from '../../src/runtime/types.js';
import { TEST_RUN_LABEL, newTestRunId } from './engine.js';

export interface LifecycleSuiteOptions {
  /** An image built from docker/Dockerfile (user agent, /workspace). */
  image: string;
  /** Runs first, in beforeAll: e.g. build the image. */
  prepare?: () => Promise<unknown>;
  prepareTimeoutMs?: number;
}

export interface LifecycleFixture {
  runId: string;
  /** berth's data folder of this suite (agent config folders). */
  home: string;
  settings: Settings;
  /** A runtime on a fresh engine from the factory, labelling its containers with the run id. */
  newRuntime(settings?: Partial<Settings>, engine?: ContainerEngine): ContainerRuntime;
  /** A project with a fresh workspace that the agent user (uid 1000) can write. */
  newProject(purpose: string): Promise<RuntimeProject>;
  /** Runs `script` with sh in the project's container; stdout, stderr and the exit code. */
  run(runtime: ContainerRuntime, project: ContainerProject, script: string, extra?: Partial<ExecRequest>): Promise<ExecResult>;
  /** The command lines of the processes in the container. */
  processes(runtime: ContainerRuntime, project: RuntimeProject): Promise<string[]>;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
}

/** The shared set-up; suites beyond the lifecycle (hardening, Docker-only) use it too. */
export function useLifecycleFixture(makeEngine: () => ContainerEngine, options: LifecycleSuiteOptions): LifecycleFixture {
  const runId = newTestRunId();
  // Short, valid project names that say which run they belong to.
  const prefix = `t${runId.replace(/[^a-z0-9]/g, '').slice(-8)}`;
  const dirs: string[] = [];
  const projects: RuntimeProject[] = [];
  const fixture = {
    runId,
    home: '',
    settings: { ...defaultSettings(), 'container.image': options.image, 'container.memory': '512m', 'container.stopTimeout': '1s' },
    newRuntime(overrides: Partial<Settings> = {}, engine = makeEngine()) {
      const settings = { ...fixture.settings, ...overrides } as Settings;
      return new ContainerRuntime(engine, {
        paths: { home: fixture.home },
        settingsFor: () => settings,
        extraLabels: { [TEST_RUN_LABEL]: runId },
        hostHome: fixture.home,
      });
    },
    async newProject(purpose: string) {
      const workspace = await tempDir(`ws-${purpose}`);
      // The agent (uid 1000) writes the workspace, as it does a user's on a laptop where that is their uid.
      if (process.getuid?.() === 0) await chown(workspace, AGENT_UID, AGENT_UID);
      else await chmod(workspace, 0o777);
      const project = { name: `${prefix}-${purpose}`, path: workspace };
      projects.push(project);
      return project;
    },
    async run(runtime: ContainerRuntime, project: ContainerProject, script: string, extra: Partial<ExecRequest> = {}) {
      let stdout = '';
      let stderr = '';
      const outcome = await runtime.exec(project, {
        argv: ['sh', '-c', script],
        timeoutMs: 30_000,
        ...extra,
        onStdout: (text) => (stdout += text),
        onStderr: (text) => (stderr += text),
      });
      return { stdout, stderr, exitCode: outcome.exitCode, timedOut: outcome.timedOut, cancelled: outcome.cancelled };
    },
    async processes(runtime: ContainerRuntime, project: RuntimeProject) {
      // Through /proc: the image has no ps. A zombie's cmdline is empty, so it does not count.
      const { stdout } = await fixture.run(
        runtime,
        project,
        'for p in /proc/[0-9]*; do tr "\\0" " " < "$p/cmdline" 2>/dev/null; echo; done',
      );
      return stdout.split('\n').map((line) => line.trim()).filter(Boolean);
    },
  };

  async function tempDir(purpose: string): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), `berth-test-${purpose}-`));
    dirs.push(dir);
    return dir;
  }

  beforeAll(async () => {
    fixture.home = await tempDir('home');
    await options.prepare?.();
  }, options.prepareTimeoutMs ?? 15 * 60_000);

  afterAll(async () => {
    const runtime = fixture.newRuntime();
    await Promise.all(projects.map((project) => runtime.remove(project).catch(() => undefined)));
    // Agent config folders belong to uid 1000 and hold its files: remove as root can, else best effort.
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }).catch(() => undefined)));
  });

  return fixture;
}

/** The container lifecycle: create, start, exec, stop, remove, ensure (idempotent, concurrent), refresh, errors. */
export function defineLifecycleSuite(label: string, makeEngine: () => ContainerEngine, options: LifecycleSuiteOptions): LifecycleFixture {
  const fixture = useLifecycleFixture(makeEngine, options);
  const { newRuntime, newProject, run } = fixture;

  it(`${label}: creates, starts, execs in, stops and removes a project's container`, async () => {
    const runtime = newRuntime();
    const project = await newProject('life');
    const steps: string[] = [];

    const container = await runtime.ensure(project, (step) => steps.push(step));
    expect(container).toMatchObject({ name: containerName(project), project: project.name, workspace: project.path, status: 'running' });
    expect(steps.join('\n')).toMatch(/creating .*\nstarting /);

    const inside = await run(runtime, project, 'id -un; pwd; echo "$HOME"; echo from-agent > made-inside.txt');
    expect(inside).toMatchObject({ stdout: 'agent\n/workspace\n/home/agent\n', stderr: '', exitCode: 0 });
    expect(await readFile(path.join(project.path, 'made-inside.txt'), 'utf8')).toBe('from-agent\n');

    await runtime.stop(project);
    const stopped = await runtime.status(project);
    expect(stopped?.status).toBe('exited');
    expect(stateOf(project, stopped)).toBe('stopped');

    const restarted = await runtime.ensure(project);
    expect(restarted).toMatchObject({ id: container.id, status: 'running' });

    await runtime.remove(project);
    expect(await runtime.status(project)).toBeUndefined();
    expect(stateOf(project, undefined)).toBe('none');
    // The workspace is the user's: removing the container leaves it.
    expect(await readFile(path.join(project.path, 'made-inside.txt'), 'utf8')).toBe('from-agent\n');
  });

  it(`${label}: ensure reuses the running container and is idempotent`, async () => {
    const runtime = newRuntime();
    const project = await newProject('idem');
    const first = await runtime.ensure(project);
    const steps: string[] = [];
    const second = await runtime.ensure(project, (step) => steps.push(step));
    expect(second.id).toBe(first.id);
    expect(second.startedAt).toBe(first.startedAt);
    expect(steps).toEqual([]);
    expect(await managedOf(runtime, project)).toEqual([first.id]);
  });

  it(`${label}: three concurrent ensures make exactly one container, asking the engine once`, async () => {
    const creates: string[] = [];
    const runtime = newRuntime({}, counting(makeEngine(), 'create', creates));
    const project = await newProject('conc');
    const ensured = await Promise.all([runtime.ensure(project), runtime.ensure(project), runtime.ensure(project)]);
    expect(new Set(ensured.map((container) => container.id)).size).toBe(1);
    expect(await managedOf(runtime, project)).toEqual([ensured[0]!.id]);
    // The per-project lock, not the engine's name conflict, kept the other two from trying.
    expect(creates).toHaveLength(1);
  });

  it(`${label}: two berth processes racing make one container, the loser adopting it`, async () => {
    const project = await newProject('race');
    const [a, b] = await Promise.all([newRuntime().ensure(project), newRuntime().ensure(project)]);
    expect(b.id).toBe(a.id);
    expect(await managedOf(newRuntime(), project)).toEqual([a.id]);
  });

  it(`${label}: adopts the container when the engine reports the name taken`, async () => {
    const project = await newProject('adopt');
    const winner = await newRuntime().ensure(project);
    await newRuntime().stop(project);
    // The loser's inspect ran before the winner's create: it sees nothing, then the name conflict.
    const blind = blindOnce(makeEngine());
    const steps: string[] = [];
    const adopted = await newRuntime({}, blind).ensure(project, (step) => steps.push(step));
    expect(adopted).toMatchObject({ id: winner.id, status: 'running' });
    expect(steps.some((step) => step.startsWith('adopting'))).toBe(true);
  });

  it(`${label}: refresh recreates the container and keeps the workspace and the agent config folder`, async () => {
    const runtime = newRuntime();
    const project = await newProject('refresh');
    const before = await runtime.ensure(project);
    await writeFile(path.join(project.path, 'from-host.txt'), 'host\n');
    const wrote = await run(runtime, project, 'echo remembered > ~/.claude/settings.local.json && echo inside > in-container.txt');
    expect(wrote.exitCode).toBe(0);

    const after = await runtime.refresh(project);
    expect(after.id).not.toBe(before.id);
    expect(after.status).toBe('running');
    const kept = await run(runtime, project, 'cat from-host.txt in-container.txt ~/.claude/settings.local.json');
    expect(kept).toMatchObject({ stdout: 'host\ninside\nremembered\n', exitCode: 0 });
    const agentDir = agentConfigDirOf(fixture.home, project.name);
    expect(await readFile(path.join(agentDir, 'settings.local.json'), 'utf8')).toBe('remembered\n');
    expect(await managedOf(runtime, project)).toEqual([after.id]);
  });

  it(`${label}: exec keeps stdout and stderr apart and passes the exit code through`, async () => {
    const runtime = newRuntime();
    const project = await newProject('exec');
    const result = await run(runtime, project, 'echo out; echo err >&2; echo more-out; exit 7');
    expect(result).toMatchObject({ stdout: 'out\nmore-out\n', stderr: 'err\n', exitCode: 7, timedOut: false, cancelled: false });
  });

  it(`${label}: exec passes the argv as it is, never through a shell`, async () => {
    const runtime = newRuntime();
    const project = await newProject('argv');
    let stdout = '';
    const tricky = ['$HOME', '`id`', '; touch /tmp/pwned', '"quoted" \'single\'', 'two words', ''];
    const outcome = await runtime.exec(project, {
      argv: ['printf', '[%s]\\n', ...tricky],
      timeoutMs: 30_000,
      onStdout: (text) => (stdout += text),
    });
    expect(outcome.exitCode).toBe(0);
    expect(stdout).toBe(tricky.map((arg) => `[${arg}]\n`).join(''));
    expect((await run(runtime, project, 'test -e /tmp/pwned && echo pwned || echo safe')).stdout).toBe('safe\n');
  });

  it(`${label}: request.env is seen by that exec only`, async () => {
    const runtime = newRuntime();
    const project = await newProject('env');
    const withEnv = await run(runtime, project, 'printf %s "$BERTH_TEST_SECRET"', { env: { BERTH_TEST_SECRET: 's3cret value' } });
    expect(withEnv.stdout).toBe('s3cret value');
    const without = await run(runtime, project, 'printf %s "${BERTH_TEST_SECRET-unset}"');
    expect(without.stdout).toBe('unset');
  });

  it(`${label}: cancelling an exec kills the process inside`, async () => {
    const runtime = newRuntime();
    const project = await newProject('cancel');
    await runtime.ensure(project);
    const controller = new AbortController();
    // A child of a child, so that killing only the direct process would leave it behind.
    const running = run(runtime, project, 'sh -c "sleep 4242; echo never" ; echo never', { signal: controller.signal });
    await waitUntil(async () => (await fixture.processes(runtime, project)).some((line) => line === 'sleep 4242'));

    controller.abort();
    const result = await running;
    expect(result).toMatchObject({ exitCode: null, cancelled: true, timedOut: false });
    expect(result.stdout).not.toContain('never');
    await waitUntil(async () => !(await fixture.processes(runtime, project)).some((line) => line.includes('4242')));
  });

  it(`${label}: what an exec leaves in the background goes with it, and its exit code stands`, async () => {
    const runtime = newRuntime();
    const project = await newProject('leftover');
    await runtime.ensure(project);
    const result = await run(runtime, project, '(setsid sleep 4646 &); sleep 4747 & echo started; exit 3');
    expect(result).toMatchObject({ exitCode: 3, stdout: 'started\n' });
    expect((await fixture.processes(runtime, project)).filter((line) => /sleep 4[67]4[67]/.test(line))).toEqual([]);
  });

  it(`${label}: an exec that outlives its time limit is killed and says so`, async () => {
    const runtime = newRuntime();
    const project = await newProject('timeout');
    await runtime.ensure(project);
    const result = await run(runtime, project, 'echo started; sleep 4343', { timeoutMs: 1_500 });
    expect(result).toMatchObject({ stdout: 'started\n', exitCode: null, timedOut: true, cancelled: false });
    await waitUntil(async () => !(await fixture.processes(runtime, project)).some((line) => line.includes('4343')));
  });

  it(`${label}: a missing image is one line that says to run berth image build`, async () => {
    const runtime = newRuntime({ 'container.image': 'berth-test-missing:none' });
    const project = await newProject('noimage');
    const steps: string[] = [];
    const error = await runtime.ensure(project, (step) => steps.push(step)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BerthError);
    expect((error as Error).message).toMatch(/^image berth-test-missing:none is missing: run berth image build$/);
    expect(steps).toEqual([]);
    expect(await runtime.status(project)).toBeUndefined();
  });

  it(`${label}: a workspace that does not exist is refused before anything is created`, async () => {
    const runtime = newRuntime();
    const project = await newProject('gone');
    await rm(project.path, { recursive: true });
    const error = await runtime.ensure(project).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BerthError);
    expect((error as Error).message).toBe(`workspace ${project.path} does not exist: restore it, or remove the project`);
    expect(await runtime.status(project)).toBeUndefined();
    expect(await stat(agentConfigDirOf(fixture.home, project.name)).catch(() => 'absent')).toBe('absent');
  });

  it(`${label}: stop and remove of a project without a container do nothing`, async () => {
    const runtime = newRuntime();
    const project = await newProject('none');
    await runtime.stop(project);
    await runtime.remove(project);
    expect(await runtime.status(project)).toBeUndefined();
  });

  return fixture;
}

function stateOf(project: RuntimeProject, container: ObservedContainer | undefined) {
  const entry = { ...project, mode: 'container' as const, ownsWorkspace: false, createdAt: new Date().toISOString(), lastActive: null, state: 'none' as const };
  return projectState(entry, container, defaultSettings(), Date.now());
}

/** The engine, recording each call of `method`. */
function counting(engine: ContainerEngine, method: keyof ContainerEngine, calls: string[]): ContainerEngine {
  return new Proxy(engine, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function') return value;
      if (property !== method) return value.bind(target);
      return (...args: unknown[]) => {
        calls.push(String(property));
        return (value as (...args: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** The engine, except that its first inspect finds nothing. */
function blindOnce(engine: ContainerEngine): ContainerEngine {
  let blind = true;
  return new Proxy(engine, {
    get(target, property) {
      if (property === 'inspect' && blind) {
        blind = false;
        return () => Promise.resolve(undefined);
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function managedOf(runtime: ContainerRuntime, project: RuntimeProject): Promise<string[]> {
  return (await runtime.engine.listManaged()).filter((container) => container.project === project.name).map((container) => container.id);
}

/** Polls `check` until it holds; fails after many tries, not after a tight deadline. */
export async function waitUntil(check: () => Promise<boolean>, tries = 100, pauseMs = 100): Promise<void> {
  for (let attempt = 0; attempt < tries; attempt += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  throw new Error(`condition still false after ${tries} tries`);
}
