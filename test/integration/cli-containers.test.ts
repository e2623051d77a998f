import { existsSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PsRow } from '../../src/cli/container-commands.js';
import { runBerth } from '../helpers/berth-cli.js';
import { createDockerClient, describeWithDocker, removeBerthContainers } from '../helpers/engine.js';
import { useTempDirs } from '../helpers/temp.js';
import { WORKSPACE_IMAGE_BUILD_TIMEOUT_MS, ensureWorkspaceImage } from '../helpers/workspace-image.js';

describeWithDocker('berth container commands (real engine)', () => {
  const tempDir = useTempDirs();
  const homes: string[] = [];
  let docker: Docker;
  let image: string;

  beforeAll(async () => {
    docker = createDockerClient();
    image = await ensureWorkspaceImage(docker);
  }, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS);

  // berth's containers carry the workspace path as a label: those under a test's home are the test's.
  afterAll(async () => {
    if (docker) await removeBerthContainers(docker, homes);
  });

  async function homeWithImage(): Promise<string> {
    const home = await tempDir();
    // The agent (uid 1000) must reach the workspaces under it, as it would under a user's home.
    await chmod(home, 0o755);
    homes.push(home);
    expect((await runBerth(['config', 'set', 'container.image', image], { home })).exitCode).toBe(0);
    return home;
  }

  const ps = async (home: string): Promise<PsRow[]> => {
    const result = await runBerth(['ps', '--json'], { home });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    return JSON.parse(result.stdout) as PsRow[];
  };

  it('runs a container project through up, exec, ps, stop, restart, refresh, logs and rm-container', async () => {
    const home = await homeWithImage();
    await runBerth(['project', 'add', 'boxed', '--mode', 'container'], { home });
    expect(await ps(home)).toMatchObject([{ project: 'boxed', mode: 'container', containerId: null, state: 'none' }]);

    const up = await runBerth(['up', 'boxed'], { home });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/^boxed: running.* \(berth-boxed-[0-9a-f]{12}, [0-9a-f]{12}\)\n$/);
    const [running] = await ps(home);
    expect(running).toMatchObject({ project: 'boxed', state: expect.stringMatching(/^(starting|running|healthy)$/) });
    expect(running!.cpuPercent).toEqual(expect.any(Number));
    expect(running!.memoryUsed).toBeGreaterThan(0);
    expect(running!.memoryLimit).toBe(2 * 1024 ** 3);

    const whoami = await runBerth(['exec', 'boxed', '--', 'sh', '-c', 'id -un; pwd; echo oops >&2; exit 7'], { home });
    expect(whoami).toEqual({ exitCode: 7, stdout: 'agent\n/workspace\n', stderr: 'oops\n' });

    const written = await runBerth(['exec', 'boxed', '--', 'sh', '-c', 'echo kept > kept.txt'], { home });
    expect(written.exitCode).toBe(0);
    const workspace = path.join(home, 'workspaces', 'boxed');
    expect(existsSync(path.join(workspace, 'kept.txt'))).toBe(true);

    const stopped = await runBerth(['stop', 'boxed'], { home });
    expect(stopped.stdout).toMatch(/^boxed: exited/);
    expect(await ps(home)).toMatchObject([{ state: 'stopped', cpuPercent: null, startedAt: null }]);

    expect((await runBerth(['restart', 'boxed'], { home })).stdout).toMatch(/^boxed: running/);

    const refreshed = await runBerth(['refresh', 'boxed'], { home });
    expect(refreshed.exitCode, refreshed.stderr).toBe(0);
    const [afterRefresh] = await ps(home);
    expect(afterRefresh!.containerId).not.toBe(running!.containerId);
    const kept = await runBerth(['exec', 'boxed', '--', 'cat', 'kept.txt'], { home });
    expect(kept.stdout).toBe('kept\n');

    const logs = await runBerth(['logs', 'boxed'], { home });
    expect(logs.exitCode).toBe(0);

    const removed = await runBerth(['rm-container', 'boxed'], { home });
    expect(removed).toMatchObject({ exitCode: 0, stdout: 'boxed: container removed; the workspace stays\n' });
    expect(await ps(home)).toMatchObject([{ containerId: null, state: 'none' }]);
    expect(existsSync(path.join(workspace, 'kept.txt'))).toBe(true);

    const audit = await runBerth(['project', 'ls', '--json'], { home });
    expect(JSON.parse(audit.stdout)).toMatchObject([{ name: 'boxed', state: 'none' }]);
  });

  it('starts a stopped project lazily on exec, and passes a message with shell metacharacters unchanged', async () => {
    const home = await homeWithImage();
    await runBerth(['project', 'add', 'lazy', '--mode', 'container'], { home });
    const message = `it's "quoted"; $(touch /tmp/pwned) \`id\` && echo | cat\nsecond line`;
    const result = await runBerth(['exec', 'lazy', '--', 'printf', '%s', message], { home });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe(message);
  });

  it('follows the engine when a container is killed or removed behind berth\'s back', async () => {
    const home = await homeWithImage();
    await runBerth(['project', 'add', 'behind', '--mode', 'container'], { home });
    await runBerth(['up', 'behind'], { home });
    const [row] = await ps(home);
    await docker.getContainer(row!.containerId!).kill();
    expect(await ps(home)).toMatchObject([{ state: 'stopped' }]);
    const listed = JSON.parse((await runBerth(['project', 'ls', '--json'], { home })).stdout) as Array<{ state: string }>;
    expect(listed).toMatchObject([{ state: 'stopped' }]);
    await docker.getContainer(row!.containerId!).remove({ force: true });
    expect(await ps(home)).toMatchObject([{ state: 'none', containerId: null }]);
    const relisted = JSON.parse((await runBerth(['project', 'ls', '--json'], { home })).stdout) as Array<{ name: string; state: string }>;
    expect(relisted).toEqual([expect.objectContaining({ name: 'behind', state: 'none' })]);
    // Its network outlived it; project rm takes it too.
    const networksOf = () => docker.listNetworks({ filters: { label: ['berth.project=behind'] } });
    expect((await networksOf()).filter((network) => network.Labels?.['berth.managed'] === 'true' && network.Name.includes('-behind-'))).not.toEqual([]);
    expect((await runBerth(['project', 'rm', 'behind'], { home })).exitCode).toBe(0);
    expect((await networksOf()).filter((network) => network.Name.includes('-behind-'))).toEqual([]);
  });

  it('stats --once --json reports the running containers', async () => {
    const home = await homeWithImage();
    await runBerth(['project', 'add', 'busy', '--mode', 'container'], { home });
    await runBerth(['up', 'busy'], { home });
    const result = await runBerth(['stats', '--once', '--json'], { home });
    expect(result.exitCode, result.stderr).toBe(0);
    const rows = JSON.parse(result.stdout) as Array<{ project: string; memoryUsed: number; pids: number }>;
    expect(rows).toEqual([expect.objectContaining({ project: 'busy', memoryUsed: expect.any(Number), pids: expect.any(Number) })]);
    expect(rows[0]!.pids).toBeGreaterThan(0);
  });

  it('runs exec in the folder for a workspace project, and refuses container commands for it', async () => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'plain'], { home });
    const result = await runBerth(['exec', 'plain', '--', 'sh', '-c', 'pwd; exit 3'], { home });
    expect(result).toEqual({ exitCode: 3, stdout: `${path.join(home, 'workspaces', 'plain')}\n`, stderr: '' });
    for (const command of ['up', 'stop', 'restart', 'refresh', 'rm-container', 'shell', 'logs']) {
      const refused = await runBerth([command, 'plain'], { home });
      expect(refused.exitCode, command).toBe(1);
      expect(refused.stderr).toBe(
        'berth: project plain runs in workspace mode: it has no container (berth project set plain mode container gives it one)\n',
      );
    }
  });

  it('refuses an empty command with the same line in both modes, and starts no container for it', async () => {
    const home = await homeWithImage();
    await runBerth(['project', 'add', 'boxed', '--mode', 'container'], { home });
    await runBerth(['project', 'add', 'plain'], { home });
    for (const name of ['boxed', 'plain']) {
      const result = await runBerth(['exec', name, '--', ''], { home });
      expect(result, name).toEqual({ exitCode: 1, stdout: '', stderr: `berth: nothing to run in ${name}: the command is empty\n` });
    }
    expect(await ps(home)).toContainEqual(expect.objectContaining({ project: 'boxed', containerId: null, state: 'none' }));
  });

  it('says clearly when the engine does not answer, the image is missing, or the project is unknown', async () => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'far', '--mode', 'container'], { home });
    const noEngine = await runBerth(['--engine', 'unix:///nonexistent/docker.sock', 'up', 'far'], { home });
    expect(noEngine.exitCode).toBe(1);
    expect(noEngine.stderr).toMatch(/^berth: .*unix:\/\/\/nonexistent\/docker\.sock.*\n$/);

    await runBerth(['config', 'set', 'container.image', 'berth-no-such-image:never'], { home });
    const noImage = await runBerth(['up', 'far'], { home });
    expect(noImage.exitCode).toBe(1);
    expect(noImage.stderr).toMatch(/^berth: .*berth-no-such-image:never.*berth image build.*\n$/);

    const unknown = await runBerth(['up', 'ghost'], { home });
    expect(unknown).toMatchObject({ exitCode: 1, stderr: 'berth: no project named "ghost": see berth project ls\n' });
  });

  it('builds the workspace image with berth image build, from the cache the suites share', async () => {
    const home = await tempDir();
    await writeFile(path.join(home, 'marker'), '');
    const result = await runBerth(['image', 'build', '--tag', image, '--network', 'host'], { home });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe(`built ${image}\n`);
    expect(result.stderr).toMatch(/Step \d+\/\d+/);
  }, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS);
});
