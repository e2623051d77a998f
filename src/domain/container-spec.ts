import path from 'node:path';
import { containerLabels, containerName, projectNetworkName, type ContainerSpec } from './container.js';
import { BerthError } from './errors.js';
import { settingMs, type Settings } from './settings.js';
import { parseSize } from './size.js';

/** The unprivileged user of the workspace image (uid 1000); agents never run as root. */
export const AGENT_USER = 'agent';
export const AGENT_UID = 1000;
export const AGENT_HOME = '/home/agent';
/** Where the project's workspace is mounted, and where the agent works. */
export const CONTAINER_WORKSPACE = '/workspace';
/**
 * The agent's config folder (mounted from agentConfigDirOf): the CLI is told
 * to keep all of its config there (CLAUDE_CONFIG_DIR), ~/.claude.json included,
 * so that it outlives the container as its conversations do.
 */
export const AGENT_CONFIG_DIR = `${AGENT_HOME}/.claude`;
/** Where the host's claude binary goes when `claude.mountHostCli` is on: first on the image's PATH. */
export const HOST_CLI_TARGET = '/usr/local/bin/claude';
/** Three failed checks in a row make a container unhealthy; the pace is container.healthInterval. */
export const HEALTHCHECK_RETRIES = 3;

/** Host files that exist and may be mounted; the runtime looks for them, this module only decides. */
export interface HostFiles {
  /** `~/.gitconfig`. */
  gitconfig?: string;
  /** `~/.ssh`. */
  sshDir?: string;
  /** The host's native (Linux) claude binary. */
  claudeBinary?: string;
}

export interface ContainerSpecInput {
  project: { name: string; path: string };
  settings: Settings;
  /** The project's agent config folder on the host (see agentConfigDirOf). */
  agentConfigDir: string;
  hostFiles: HostFiles;
  createdAt: Date;
  /** Labels beyond berth's own, e.g. a test run's marker. */
  extraLabels?: Record<string, string>;
}

/** `<berth home>/agents/<project>/claude`: outlives the container, so a refresh keeps the agent's login and history. */
export function agentConfigDirOf(berthHome: string, project: string): string {
  return path.join(berthHome, 'agents', project, 'claude');
}

/** Everything the project's container is made from, hardened by default, limits from the settings. */
export function buildContainerSpec(input: ContainerSpecInput): ContainerSpec {
  const { project, settings, hostFiles } = input;
  const readOnlyMounts: ContainerSpec['readOnlyMounts'] = [];
  if (hostFiles.gitconfig) readOnlyMounts.push({ source: hostFiles.gitconfig, target: `${AGENT_HOME}/.gitconfig` });
  if (settings['container.mountSsh'] === true && hostFiles.sshDir) {
    readOnlyMounts.push({ source: hostFiles.sshDir, target: `${AGENT_HOME}/.ssh` });
  }
  if (settings['claude.mountHostCli'] === true) {
    if (!hostFiles.claudeBinary) {
      throw new BerthError('claude.mountHostCli is on, but no Linux claude binary was found on this host (PATH or node_modules/.bin)');
    }
    readOnlyMounts.push({ source: hostFiles.claudeBinary, target: HOST_CLI_TARGET });
  }
  return {
    name: containerName(project),
    image: String(settings['container.image']),
    labels: { ...input.extraLabels, ...containerLabels(project, input.createdAt) },
    workspace: project.path,
    agentConfigDir: input.agentConfigDir,
    readOnlyMounts,
    user: AGENT_USER,
    limits: {
      memoryBytes: sizeSetting(settings, 'container.memory'),
      cpus: Number(settings['container.cpus']),
      pids: Number(settings['container.pids']),
      nofile: Number(settings['container.nofile']),
      nproc: Number(settings['container.nproc']),
    },
    healthcheck: { intervalMs: settingMs(settings, 'container.healthInterval') ?? 60_000, retries: HEALTHCHECK_RETRIES },
    env: { BERTH_PROJECT: project.name, CLAUDE_CONFIG_DIR: AGENT_CONFIG_DIR },
    network: projectNetworkName(project),
    ...writablePlaces(settings['container.readOnlyRoot'] === true),
  };
}

/**
 * With a read-only root, what the agent and its tools write outside the
 * workspace and ~/.claude goes to memory: /tmp, and the agent's home (npm's
 * and git's caches). Sized so that a runaway
 * write fills them, not the host; counted against the memory limit.
 */
function writablePlaces(readOnlyRoot: boolean): Pick<ContainerSpec, 'readOnlyRoot' | 'tmpfs'> {
  if (!readOnlyRoot) return { readOnlyRoot: false, tmpfs: [] };
  const size = 512 * 1024 ** 2;
  return {
    readOnlyRoot: true,
    tmpfs: [
      { target: '/tmp', sizeBytes: size, owner: 'everyone' },
      { target: AGENT_HOME, sizeBytes: size, owner: 'agent' },
    ],
  };
}

/** What the user reads when the container's image is not there. */
export function imageMissing(image: string): BerthError {
  return new BerthError(`image ${image} is missing: run berth image build`);
}

/** The grace period of a graceful stop, in milliseconds. */
export function stopTimeoutMs(settings: Settings): number {
  return settingMs(settings, 'container.stopTimeout') ?? 10_000;
}

/** The memory limit a project's container gets (container.memory). */
export function containerMemoryBytes(settings: Settings): number {
  return sizeSetting(settings, 'container.memory');
}

function sizeSetting(settings: Settings, key: 'container.memory'): number {
  const bytes = parseSize(String(settings[key]));
  // Settings are validated when loaded; this guards against a caller that built them by hand.
  if (bytes === undefined) throw new BerthError(`setting ${key}: expected a size such as 512m or 2g, got ${String(settings[key])}`);
  return bytes;
}
