/**
 * The supervisor against the real Docker engine, with short timeouts: idle
 * stop, the LRU cap, a health refresh that keeps the workspace, clean-up of
 * stopped containers, the capacity check, and `berth sweep` / `berth policies`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createContext, type BerthContext } from '../../src/services/context.js';
import type { RuntimeService } from '../../src/services/runtime-service.js';
import type { Supervisor } from '../../src/services/supervisor.js';
import { runBerth } from '../helpers/berth-cli.js';
import { buildImage, createDockerClient, describeWithDocker, removeBerthContainers } from '../helpers/engine.js';
import { useTempDirs } from '../helpers/temp.js';
import { ensureWorkspaceImage, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS } from '../helpers/workspace-image.js';

/** The workspace image with a healthcheck the test can fail at will: `touch /tmp/sick` in the container. */
const SICKLY_IMAGE = 'berth-workspace:sickly';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface AuditLine {
  project: string;
  action: string;
  reason: string;
}

describeWithDocker('the supervisor with a real engine', () => {
  const tempDir = useTempDirs();
  const homes: string[] = [];
  let docker: Docker;
  let image: string;
  let home: string;
  let context: BerthContext;
  let runtime: RuntimeService;
  let supervisor: Supervisor;

  beforeAll(async () => {
    docker = createDockerClient();
    image = await ensureWorkspaceImage(docker);
    const dir = await tempDir('berth-sickly-');
    await writeFile(path.join(dir, 'Dockerfile'), `FROM ${image}\nHEALTHCHECK --interval=1s --retries=3 CMD test ! -e /tmp/sick\n`);
    await buildImage(docker, dir, SICKLY_IMAGE);
  }, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS);

  beforeEach(async () => {
    home = await tempDir('berth-supervisor-');
    homes.push(home);
    context = createContext({ BERTH_HOME: home, PATH: process.env.PATH ?? '/usr/bin:/bin' });
    await context.settings().set('container.image', image);
    await context.settings().set('container.memory', '256m');
    runtime = await context.runtime();
    supervisor = await context.supervisor();
  });

  afterAll(async () => {
    await runtime?.close();
    await removeBerthContainers(docker, homes);
  });

  async function addProjects(...names: string[]): Promise<void> {
    for (const name of names) await context.projects.add(name, { mode: 'container' });
  }

  async function statusOf(name: string) {
    return (await runtime.statuses()).find((status) => status.project.name === name)?.container;
  }

  async function audit(): Promise<AuditLine[]> {
    const text = await readFile(path.join(home, 'audit.jsonl'), 'utf8');
    return text.trim().split('\n').map((line) => JSON.parse(line) as AuditLine);
  }

  it('stops a container idle for longer than policies.idleTimeout, and never a busy one', async () => {
    await context.settings().set('policies.idleTimeout', '2s');
    await addProjects('idle', 'busy');
    await runtime.up('idle');
    await runtime.up('busy');
    // busy runs a command the whole time; idle does nothing.
    const working = runtime.exec('busy', { argv: ['sleep', '4'] });
    await sleep(2_500);
    const outcomes = await supervisor.pass();
    expect(outcomes.filter((outcome) => outcome.action.kind === 'stop').map((outcome) => [outcome.action, outcome.result])).toEqual([
      [{ kind: 'stop', project: 'idle', reason: expect.stringMatching(/^idle for \d+s \(policies.idleTimeout 2s\)$/) }, 'done'],
    ]);
    expect((await statusOf('idle'))?.status).toBe('exited');
    expect((await statusOf('busy'))?.status).toBe('running');
    expect(await audit()).toContainEqual(expect.objectContaining({ project: 'idle', action: 'stop', reason: expect.stringMatching(/^idle stop: idle for/) }));
    await working;
  });

  it('keeps at most policies.maxRunning containers: a third start stops the least recently used; with every one busy it is refused', async () => {
    await context.settings().set('policies.maxRunning', '2');
    await addProjects('first', 'second', 'third');
    await runtime.up('first');
    await sleep(50);
    await runtime.up('second');
    await runtime.up('third');
    expect((await statusOf('first'))?.status).toBe('exited');
    expect((await statusOf('second'))?.status).toBe('running');
    expect((await statusOf('third'))?.status).toBe('running');
    expect(await audit()).toContainEqual(expect.objectContaining({ project: 'first', action: 'evict', reason: expect.stringMatching(/making room for third/) }));

    const busy = [runtime.exec('second', { argv: ['sleep', '3'] }), runtime.exec('third', { argv: ['sleep', '3'] })];
    await sleep(500);
    await expect(runtime.up('first')).rejects.toThrow(/cannot start first: 2 containers run \(policies.maxRunning is 2\) and second, third are busy/);
    expect(await audit()).toContainEqual(expect.objectContaining({ project: 'first', action: 'refused-start' }));
    expect((await statusOf('first'))?.status).toBe('exited');
    await Promise.all(busy);
  });

  it('recreates a container whose healthcheck failed three times, keeping the workspace files', async () => {
    await context.settings().set('container.image', SICKLY_IMAGE);
    await context.settings().set('container.healthInterval', '1s');
    await addProjects('sick');
    const before = await runtime.up('sick');
    const workspace = (await context.projects.require('sick')).path;
    await writeFile(path.join(workspace, 'notes.txt'), 'keep me\n');
    await (await docker.getContainer(before.id).exec({ Cmd: ['touch', '/tmp/sick'] })).start({ Detach: true });
    for (let tries = 0; (await statusOf('sick'))!.failingStreak < 3; tries += 1) {
      expect(tries, 'the healthcheck never failed three times').toBeLessThan(100);
      await sleep(200);
    }
    const outcomes = await supervisor.pass();
    expect(outcomes.find((outcome) => outcome.action.kind === 'refresh')).toMatchObject({
      action: { project: 'sick', reason: expect.stringMatching(/healthcheck failed \d times in a row/) },
      result: 'done',
    });
    const after = await statusOf('sick');
    expect(after?.id).not.toBe(before.id);
    expect(after?.status).toBe('running');
    expect(await readFile(path.join(workspace, 'notes.txt'), 'utf8')).toBe('keep me\n');
    expect(await audit()).toContainEqual(expect.objectContaining({ project: 'sick', action: 'refresh', reason: expect.stringMatching(/^health refresh: /) }));
    // Recreated for its health once: not again at once, even if the next pass saw it failing.
    expect((await supervisor.pass()).filter((outcome) => outcome.action.kind === 'refresh')).toEqual([]);
  });

  it('removes a container stopped for longer than policies.removeStoppedAfter', async () => {
    await context.settings().set('policies.removeStoppedAfter', '1s');
    await addProjects('gone');
    await runtime.up('gone');
    await runtime.stop('gone');
    await sleep(1_500);
    const outcomes = await supervisor.pass();
    expect(outcomes.find((outcome) => outcome.action.kind === 'remove')).toMatchObject({ action: { project: 'gone' }, result: 'done' });
    expect(await statusOf('gone')).toBeUndefined();
    expect(await audit()).toContainEqual(expect.objectContaining({ project: 'gone', action: 'remove', reason: expect.stringMatching(/^clean-up: stopped for/) }));
  });

  it('refuses a start that would commit more memory than policies.maxCommit allows, naming who holds it', async () => {
    const total = await runtime.hostMemory();
    // Room for one container of this size, not two.
    const size = Math.ceil((total * 0.1) / 1024 ** 2 / 2 + 1);
    await context.settings().set('container.memory', `${size}m`);
    await context.settings().set('policies.maxCommit', '10');
    await addProjects('holder', 'newcomer');
    await runtime.up('holder');
    await expect(runtime.up('newcomer')).rejects.toThrow(/cannot start newcomer: .* \(policies.maxCommit 10% of .*\); the most is held by holder/);
    expect(await statusOf('newcomer')).toBeUndefined();
    expect(await audit()).toContainEqual(expect.objectContaining({ project: 'newcomer', action: 'refused-start' }));
  });

  it('berth sweep prints each action with its reason, --dry-run changes nothing, and berth policies shows the settings', async () => {
    await context.settings().set('policies.idleTimeout', '1s');
    await addProjects('sleepy');
    await runtime.up('sleepy');
    await sleep(1_500);
    const dry = await runBerth(['sweep', '--dry-run', '--json'], { home });
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toContainEqual({ action: 'stop', project: 'sleepy', reason: expect.stringMatching(/^idle for/), result: 'planned' });
    expect((await statusOf('sleepy'))?.status).toBe('running');

    const real = await runBerth(['sweep'], { home });
    expect(real.exitCode, real.stderr).toBe(0);
    expect(real.stdout).toMatch(/stop\s+sleepy\s+done\s+idle for \d+s \(policies.idleTimeout 1s\)/);
    expect((await statusOf('sleepy'))?.status).toBe('exited');

    const policies = await runBerth(['policies', '--json'], { home });
    expect(JSON.parse(policies.stdout)).toMatchObject({ 'policies.idleTimeout': '1s', 'policies.maxRunning': 5 });
  });

  it('removes an idle workspace berth created only with sweep --apply, after asking or with --yes', async () => {
    await context.settings().set('policies.workspaceMaxAge', '30d');
    await context.projects.add('ancient', { mode: 'workspace' });
    const keptDir = await tempDir('berth-theirs-');
    await context.projects.add('theirs', { mode: 'workspace', path: keptDir });
    // Forty days without activity, as the registry would say after them.
    const registryFile = path.join(home, 'projects.json');
    const registry = JSON.parse(await readFile(registryFile, 'utf8')) as { projects: Array<{ createdAt: string }> };
    for (const project of registry.projects) project.createdAt = new Date(Date.now() - 40 * 86_400_000).toISOString();
    await writeFile(registryFile, JSON.stringify(registry));
    const workspace = path.join(home, 'workspaces', 'ancient');

    const listed = await runBerth(['sweep', '--json'], { home });
    expect(JSON.parse(listed.stdout)).toContainEqual(expect.objectContaining({ action: 'remove-workspace', project: 'ancient', result: 'skipped' }));
    await expect(readFile(path.join(workspace, '.git', 'HEAD'), 'utf8')).resolves.toBeTruthy();

    const unasked = await runBerth(['sweep', '--apply'], { home });
    expect(unasked.stderr).toMatch(/pass --yes to remove them/);
    await expect(readFile(path.join(workspace, '.git', 'HEAD'), 'utf8')).resolves.toBeTruthy();

    const applied = await runBerth(['sweep', '--apply', '--yes', '--json'], { home });
    expect(JSON.parse(applied.stdout)).toContainEqual(expect.objectContaining({ action: 'remove-workspace', project: 'ancient', result: 'done' }));
    await expect(readFile(path.join(workspace, '.git', 'HEAD'), 'utf8')).rejects.toThrow();
    expect((await context.projects.list()).map((project) => project.name)).toEqual(['theirs']);
    expect(await audit()).toContainEqual(expect.objectContaining({ project: 'ancient', action: 'remove-workspace' }));
  });
});
