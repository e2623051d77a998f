/**
 * The warm pool against the real Docker engine (as root, as here): warm
 * containers wait; the first start of a project takes one, and the project's
 * folders reach it through mount propagation; everything else in berth then
 * sees it as the project's container.
 */
import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { containerName, POOL_NETWORK } from '../../src/domain/container.js';
import { isMountPoint } from '../../src/runtime/workspace-guard.js';
import { createContext, type BerthContext } from '../../src/services/context.js';
import { Reconciler } from '../../src/services/reconciler.js';
import type { RuntimeService } from '../../src/services/runtime-service.js';
import { runBerth } from '../helpers/berth-cli.js';
import { createDockerClient, describeWithDocker, removeBerthContainers } from '../helpers/engine.js';
import { useTempDirs } from '../helpers/temp.js';
import { ensureWorkspaceImage, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS } from '../helpers/workspace-image.js';

interface Adoption {
  project: string;
  workspace: string;
  slot: string;
  agentConfigDir: string;
}

describeWithDocker('the warm pool with a real engine', () => {
  const tempDir = useTempDirs();
  const homes: string[] = [];
  let docker: Docker;
  let image: string;
  let home: string;
  let context: BerthContext;
  let runtime: RuntimeService;

  beforeAll(async () => {
    docker = createDockerClient();
    image = await ensureWorkspaceImage(docker);
  }, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS);

  beforeEach(async () => {
    home = await tempDir('berth-pool-');
    homes.push(home);
    context = createContext({ BERTH_HOME: home, PATH: process.env.PATH ?? '/usr/bin:/bin' });
    await context.settings().set('container.image', image);
    await context.settings().set('container.memory', '256m');
    runtime = await context.runtime();
  });

  // Before the temporary folders go (hooks run last registered, first): the pool's containers and mounts.
  afterEach(async () => {
    await removeBerthContainers(docker, [home]);
    await execa('umount', ['-R', path.join(home, 'pool')], { reject: false });
  });

  afterAll(async () => {
    await runtime?.close();
    await removeBerthContainers(docker, homes);
    // The pool folders are mounts: undone before the temporary folders go.
    for (const dir of homes) await execa('umount', ['-R', path.join(dir, 'pool')], { reject: false });
    // The pool's network, which berth keeps for the next warm container: the engine refuses while another uses it.
    await docker.getNetwork(POOL_NETWORK).remove().catch(() => undefined);
  });

  /** This home's pool containers, waiting or adopted. */
  async function poolContainers() {
    const containers = await docker.listContainers({ all: true, filters: { label: ['berth.pool'] } });
    return containers.filter((info) => info.Labels['berth.workspace']?.startsWith(path.join(home, 'pool')));
  }

  const exec = async (name: string, command: string) => {
    let stdout = '';
    const outcome = await runtime.exec(name, { argv: ['bash', '-c', command], onStdout: (text) => (stdout += text) });
    return { exitCode: outcome.exitCode, stdout };
  };

  it('keeps policies.warmPool containers waiting, and a first start takes one with the project\'s folders inside', async () => {
    await context.settings().set('policies.warmPool', '1');
    expect(await runtime.maintainWarmPool()).toEqual({ created: 1, removed: 0 });
    const [warm] = await poolContainers();
    expect(warm?.State).toBe('running');

    await context.projects.add('adoptee', { mode: 'container' });
    const project = await context.projects.require('adoptee');
    await writeFile(path.join(project.path, 'from-host.txt'), 'host\n');
    const container = await runtime.up('adoptee');
    expect(container.id).toBe(warm!.Id);
    expect(container).toMatchObject({ project: 'adoptee', workspace: project.path, name: containerName(project), status: 'running' });

    expect(await exec('adoptee', 'cat /workspace/from-host.txt && echo inside > /workspace/from-container.txt && touch ~/.claude/agent-file && whoami')).toEqual({ exitCode: 0, stdout: 'host\nagent\n' });
    expect(await readFile(path.join(project.path, 'from-container.txt'), 'utf8')).toBe('inside\n');
    await expect(readFile(path.join(home, 'agents', 'adoptee', 'claude', 'agent-file'))).resolves.toBeDefined();

    // Everyone else sees it as the project's: the runtime, the reconciler, berth ps.
    expect((await runtime.statuses()).find((status) => status.project.name === 'adoptee')?.container?.id).toBe(warm!.Id);
    const reconciler = new Reconciler(runtime.connect(), context.registry);
    await reconciler.start();
    expect(reconciler.snapshot().containers.get('adoptee')?.id).toBe(warm!.Id);
    await reconciler.stop();
    const ps = await runBerth(['ps', '--json'], { home });
    expect(JSON.parse(ps.stdout)).toContainEqual(expect.objectContaining({ project: 'adoptee', containerId: warm!.Id.slice(0, 12), state: expect.stringMatching(/running|starting|healthy/) }));
    const audit = await readFile(path.join(home, 'audit.jsonl'), 'utf8');
    expect(audit).toMatch(/"project":"adoptee","action":"adopt","reason":"took a warm container from the pool/);

    // The pool fills again.
    expect(await runtime.maintainWarmPool()).toEqual({ created: 1, removed: 0 });
    expect((await poolContainers()).filter((info) => info.Id !== warm!.Id)).toHaveLength(1);
  });

  it('stops, refreshes (keeping the workspace) and removes an adopted container, freeing its slot', async () => {
    await context.settings().set('policies.warmPool', '1');
    await runtime.maintainWarmPool();
    await context.projects.add('cycle', { mode: 'container' });
    const project = await context.projects.require('cycle');
    const first = await runtime.up('cycle');
    await exec('cycle', 'echo kept > /workspace/kept.txt');
    await runtime.stop('cycle');
    expect((await runtime.statuses()).find((status) => status.project.name === 'cycle')?.container?.status).toBe('exited');
    await runtime.up('cycle');
    expect((await exec('cycle', 'cat /workspace/kept.txt')).stdout).toBe('kept\n');

    await runtime.refresh('cycle');
    const refreshed = (await runtime.statuses()).find((status) => status.project.name === 'cycle')!.container!;
    expect(refreshed.id).not.toBe(first.id);
    expect((await exec('cycle', 'cat /workspace/kept.txt')).stdout).toBe('kept\n');

    await runtime.removeContainer('cycle');
    const adopted = JSON.parse(await readFile(path.join(home, 'pool', 'adopted.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(adopted)).toEqual([]);
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    expect(mounts).not.toContain(project.path);
  });

  it('with policies.warmPool 0, removes the waiting containers and creates as before', async () => {
    await context.settings().set('policies.warmPool', '2');
    await runtime.maintainWarmPool();
    const before = (await poolContainers()).length;
    await context.settings().set('policies.warmPool', '0');
    const change = await runtime.maintainWarmPool();
    expect(change.removed).toBe(2);
    expect((await poolContainers()).length).toBe(before - 2);
    await context.projects.add('plain', { mode: 'container' });
    const container = await runtime.up('plain');
    expect(container.pool).toBeUndefined();
  });

  it('is topped up by the supervisor on each pass, and audited', async () => {
    await context.settings().set('policies.warmPool', '1');
    const supervisor = await context.supervisor();
    const outcomes = await supervisor.pass();
    expect(outcomes).toContainEqual({ action: { kind: 'warm', reason: 'policies.warmPool: 1 created, 0 removed' }, result: 'done' });
    expect(await poolContainers()).toHaveLength(1);
    expect((await supervisor.pass()).filter((outcome) => outcome.action.kind === 'warm')).toEqual([]);
    // A warm container that stopped (a reboot, say) is no longer warm: replaced.
    const [stopped] = await poolContainers();
    await docker.getContainer(stopped!.Id).stop({ t: 0 });
    expect(await runtime.maintainWarmPool()).toEqual({ created: 1, removed: 1 });
    expect((await poolContainers()).map((info) => info.State)).toEqual(['running']);
    const audit = await readFile(path.join(home, 'audit.jsonl'), 'utf8');
    expect(audit).toMatch(/"action":"warm","reason":"policies.warmPool is 1: a warm container is waiting"/);
  });

  /** A project that took a warm container, stopped, its folders unmounted as a reboot would; and its adoption, to edit. */
  async function adoptedAfterReboot(): Promise<{ file: string; id: string; adoption: Adoption }> {
    await context.settings().set('policies.warmPool', '1');
    expect(await runtime.maintainWarmPool()).toEqual({ created: 1, removed: 0 });
    await context.projects.add('adoptee', { mode: 'container' });
    const container = await runtime.up('adoptee');
    expect(container.pool).toBeDefined();
    await runtime.stop('adoptee');
    const file = path.join(home, 'pool', 'adopted.json');
    const adoption = (JSON.parse(await readFile(file, 'utf8')) as Record<string, Adoption>)[container.id]!;
    for (const folder of ['workspace', 'agent']) await execa('umount', [path.join(home, 'pool', adoption.slot, folder)]);
    return { file, id: container.id, adoption };
  }

  const edit = (file: string, id: string, adoption: Adoption) => writeFile(file, JSON.stringify({ [id]: adoption }));

  // The adoptions are a file, which may be edited by hand after a reboot (when berth mounts an adopted
  // container's folders again): never a system folder bind-mounted, nor a way out of the pool.
  it('refuses to mount a system folder as the workspace, in one line', async () => {
    const { file, id, adoption } = await adoptedAfterReboot();
    await edit(file, id, { ...adoption, workspace: '/etc' });
    await expect(runtime.up('adoptee')).rejects.toThrow(/^the warm pool will not mount \/etc for project adoptee: \/etc is a system folder$/);
    expect(await isMountPoint(path.join(home, 'pool', adoption.slot, 'workspace'))).toBe(false);
  });

  it('refuses to mount another folder as the agent config, or a slot outside the pool', async () => {
    const { file, id, adoption } = await adoptedAfterReboot();
    await edit(file, id, { ...adoption, agentConfigDir: '/root' });
    await expect(runtime.up('adoptee')).rejects.toThrow(/^the warm pool will not mount \/root: it is not the agent config folder of project adoptee$/);
    expect(await isMountPoint(path.join(home, 'pool', adoption.slot, 'agent'))).toBe(false);
    await edit(file, id, { ...adoption, slot: '../..' });
    await expect(runtime.up('adoptee')).rejects.toThrow(/^invalid warm pool slot "\.\.\/\.\."$/);
  });
});
