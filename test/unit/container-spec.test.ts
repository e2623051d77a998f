import type Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import { containerName } from '../../src/domain/container.js';
import { agentConfigDirOf, buildContainerSpec, stopTimeoutMs, type ContainerSpecInput } from '../../src/domain/container-spec.js';
import { BerthError } from '../../src/domain/errors.js';
import { defaultSettings, type Settings } from '../../src/domain/settings.js';
import { createOptionsOf } from '../../src/runtime/docker/create-options.js';
import { observedFromInspect } from '../../src/runtime/docker/observed.js';

const project = { name: 'demo', path: '/home/me/src/demo' };
const createdAt = new Date('2026-01-02T03:04:05.000Z');

function input(overrides: Partial<Settings> = {}, rest: Partial<ContainerSpecInput> = {}): ContainerSpecInput {
  return {
    project,
    settings: { ...defaultSettings(), ...overrides } as Settings,
    agentConfigDir: agentConfigDirOf('/data/berth', project.name),
    hostFiles: {},
    createdAt,
    ...rest,
  };
}

describe('buildContainerSpec', () => {
  it('names, labels and mounts the container of a project', () => {
    const spec = buildContainerSpec(input());
    expect(spec).toMatchObject({
      name: containerName(project),
      image: 'berth-workspace:latest',
      workspace: project.path,
      agentConfigDir: '/data/berth/agents/demo/claude',
      readOnlyMounts: [],
      user: 'agent',
      labels: {
        'berth.managed': 'true',
        'berth.project': 'demo',
        'berth.workspace': project.path,
        'berth.created': '2026-01-02T03:04:05.000Z',
      },
    });
    expect(spec.name).toMatch(/^berth-demo-[0-9a-f]{12}$/);
  });

  it('takes the limits from the settings, hardened by default', () => {
    expect(buildContainerSpec(input()).limits).toEqual({ memoryBytes: 2 * 1024 ** 3, cpus: 2, pids: 512, nofile: 4096, nproc: 2048 });
    const custom = buildContainerSpec(
      input({ 'container.memory': '768m', 'container.cpus': 0.5, 'container.pids': 100, 'container.nofile': 1024, 'container.nproc': 300 }),
    );
    expect(custom.limits).toEqual({ memoryBytes: 768 * 1024 ** 2, cpus: 0.5, pids: 100, nofile: 1024, nproc: 300 });
    expect(custom.healthcheck).toEqual({ intervalMs: 60_000, retries: 3 });
  });

  it('mounts ~/.gitconfig when it exists, ~/.ssh only when the project opts in', () => {
    const hostFiles = { gitconfig: '/home/me/.gitconfig', sshDir: '/home/me/.ssh' };
    expect(buildContainerSpec(input({}, { hostFiles })).readOnlyMounts).toEqual([
      { source: '/home/me/.gitconfig', target: '/home/agent/.gitconfig' },
    ]);
    expect(buildContainerSpec(input({ 'container.mountSsh': true }, { hostFiles })).readOnlyMounts).toEqual([
      { source: '/home/me/.gitconfig', target: '/home/agent/.gitconfig' },
      { source: '/home/me/.ssh', target: '/home/agent/.ssh' },
    ]);
    expect(buildContainerSpec(input({ 'container.mountSsh': true })).readOnlyMounts).toEqual([]);
  });

  it("mounts the host's claude binary when asked, and says so when there is none", () => {
    const hostFiles = { claudeBinary: '/opt/claude/claude' };
    expect(buildContainerSpec(input({}, { hostFiles })).readOnlyMounts).toEqual([]);
    expect(buildContainerSpec(input({ 'claude.mountHostCli': true }, { hostFiles })).readOnlyMounts).toEqual([
      { source: '/opt/claude/claude', target: '/usr/local/bin/claude' },
    ]);
    expect(() => buildContainerSpec(input({ 'claude.mountHostCli': true }))).toThrow(BerthError);
    expect(() => buildContainerSpec(input({ 'claude.mountHostCli': true }))).toThrow(/^claude\.mountHostCli is on, but no Linux claude binary/);
  });

  it("adds extra labels without letting them replace berth's own", () => {
    const spec = buildContainerSpec(input({}, { extraLabels: { 'berth.test': 'run-1', 'berth.project': 'other' } }));
    expect(spec.labels).toMatchObject({ 'berth.test': 'run-1', 'berth.project': 'demo' });
  });

  it('reads the stop grace period in milliseconds', () => {
    expect(stopTimeoutMs(input().settings)).toBe(10_000);
    expect(stopTimeoutMs(input({ 'container.stopTimeout': '2m' }).settings)).toBe(120_000);
  });
});

describe('createOptionsOf', () => {
  const spec = buildContainerSpec(
    input({ 'container.cpus': 1.5, 'container.mountSsh': true }, { hostFiles: { gitconfig: '/h/.gitconfig', sshDir: '/h/.ssh' } }),
  );
  const options = createOptionsOf(spec);
  const host = options.HostConfig!;

  it("makes the root read-only, with in-memory /tmp and home given to the agent in each engine's words", () => {
    expect(host.ReadonlyRootfs).toBe(true);
    expect(host.Tmpfs).toEqual({
      '/tmp': `rw,nosuid,nodev,size=${512 * 1024 ** 2},mode=1777`,
      '/home/agent': `rw,nosuid,nodev,size=${512 * 1024 ** 2},uid=1000,gid=1000,mode=0700`,
    });
    expect(createOptionsOf(spec, 'podman').HostConfig!.Tmpfs!['/home/agent']).toBe(`rw,nosuid,nodev,size=${512 * 1024 ** 2},U`);
    const writable = createOptionsOf(buildContainerSpec(input({ 'container.readOnlyRoot': false }))).HostConfig!;
    expect(writable.ReadonlyRootfs).toBe(false);
    expect(writable.Tmpfs).toBeUndefined();
  });

  it('drops every capability and privilege, and never restarts by itself', () => {
    expect(options.User).toBe('agent');
    expect(host).toMatchObject({
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      RestartPolicy: { Name: 'no' },
      Init: true,
    });
    expect(host.CapAdd).toBeUndefined();
    // Its own network, and only that: never the host's.
    expect(host.NetworkMode).toMatch(/^berth-demo-[0-9a-f]{12}-net$/);
  });

  it('sets the limits and the healthcheck timing', () => {
    expect(host).toMatchObject({
      Memory: 2 * 1024 ** 3,
      MemorySwap: 2 * 1024 ** 3,
      NanoCpus: 1_500_000_000,
      PidsLimit: 512,
      Ulimits: [
        { Name: 'nofile', Soft: 4096, Hard: 4096 },
        { Name: 'nproc', Soft: 2048, Hard: 2048 },
      ],
    });
    // No Test: the image's healthcheck runs, at berth's pace.
    expect(options.Healthcheck).toEqual({ Interval: 60_000_000_000, Retries: 3 });
  });

  it('keeps the container alive under an init, in /workspace', () => {
    expect(options).toMatchObject({ Entrypoint: ['sleep', 'infinity'], WorkingDir: '/workspace', Env: ['BERTH_PROJECT=demo', 'CLAUDE_CONFIG_DIR=/home/agent/.claude'] });
    expect(options.Cmd).toBeUndefined();
  });

  it('bind-mounts the workspace and agent config read-write, the rest read-only, never the engine socket', () => {
    expect(host.Binds).toBeUndefined();
    expect(host.Mounts).toEqual([
      { Type: 'bind', Source: project.path, Target: '/workspace', ReadOnly: false },
      { Type: 'bind', Source: '/data/berth/agents/demo/claude', Target: '/home/agent/.claude', ReadOnly: false },
      { Type: 'bind', Source: '/h/.gitconfig', Target: '/home/agent/.gitconfig', ReadOnly: true },
      { Type: 'bind', Source: '/h/.ssh', Target: '/home/agent/.ssh', ReadOnly: true },
    ]);
    expect(JSON.stringify(options)).not.toMatch(/docker\.sock|podman\.sock/);
  });
});

describe('observedFromInspect', () => {
  function inspectAnswer(state: Record<string, unknown>, host: Record<string, unknown> = {}): Dockerode.ContainerInspectInfo {
    return {
      Id: 'abc123',
      Name: '/berth-demo-0123456789ab',
      Created: '2026-01-01T00:00:00.000000000Z',
      State: { StartedAt: '0001-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z', ...state },
      Config: {
        Image: 'berth-workspace:latest',
        Labels: { 'berth.project': 'demo', 'berth.workspace': '/w/demo', 'berth.created': '2026-01-02T00:00:00.000Z' },
      },
      HostConfig: { Memory: 536870912, NanoCpus: 1_500_000_000, PidsLimit: 256, ...host },
    } as unknown as Dockerode.ContainerInspectInfo;
  }

  it('maps a running, healthy container', () => {
    const observed = observedFromInspect(
      inspectAnswer({ Status: 'running', StartedAt: '2026-01-02T00:00:01Z', Health: { Status: 'healthy', FailingStreak: 0 } }),
    );
    expect(observed).toEqual({
      id: 'abc123',
      name: 'berth-demo-0123456789ab',
      project: 'demo',
      workspace: '/w/demo',
      image: 'berth-workspace:latest',
      status: 'running',
      health: 'healthy',
      failingStreak: 0,
      createdAt: '2026-01-02T00:00:00.000Z',
      startedAt: '2026-01-02T00:00:01Z',
      finishedAt: null,
      limits: { memoryBytes: 536870912, cpus: 1.5, pids: 256 },
      networks: [],
    });
  });

  it('maps a container that never started, has no healthcheck and no pids limit', () => {
    const observed = observedFromInspect(inspectAnswer({ Status: 'created' }, { PidsLimit: -1, NanoCpus: 0 }));
    expect(observed).toMatchObject({ status: 'created', health: 'none', failingStreak: 0, startedAt: null, limits: { cpus: 0, pids: 0 } });
  });

  it('keeps the last three healthchecks, each to its first line', () => {
    const log = [1, 2, 3, 4].map((index) => ({
      Start: `2026-01-02T00:0${index}:00Z`,
      End: `2026-01-02T00:0${index}:01Z`,
      ExitCode: index === 4 ? 1 : 0,
      Output: index === 4 ? 'claude: not found\nsecond line\n' : '',
    }));
    const observed = observedFromInspect(inspectAnswer({ Status: 'running', Health: { Status: 'healthy', FailingStreak: 1, Log: log } }));
    expect(observed.healthLog).toEqual([
      { time: '2026-01-02T00:02:01Z', exitCode: 0, output: '' },
      { time: '2026-01-02T00:03:01Z', exitCode: 0, output: '' },
      { time: '2026-01-02T00:04:01Z', exitCode: 1, output: 'claude: not found' },
    ]);
  });

  it('says nothing of the health of a container that does not run (Docker leaves its last word there)', () => {
    expect(observedFromInspect(inspectAnswer({ Status: 'exited', Health: { Status: 'unhealthy', FailingStreak: 0 } })).health).toBe('none');
  });

  it("reads Podman's words for states", () => {
    expect(observedFromInspect(inspectAnswer({ Status: 'stopped' })).status).toBe('exited');
    expect(observedFromInspect(inspectAnswer({ Status: 'configured' })).status).toBe('created');
    expect(observedFromInspect(inspectAnswer({ Status: 'running', Health: { Status: 'unhealthy', FailingStreak: 4 } }))).toMatchObject({
      health: 'unhealthy',
      failingStreak: 4,
    });
  });
});
