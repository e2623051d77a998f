/**
 * Warm containers: started ahead of need, unassigned, so that the first
 * message to a project without a container skips creating and starting one.
 *
 * A container's mounts and labels are fixed when it is created, so a warm
 * container cannot be made for a project it does not know yet. Instead it is
 * created with its workspace and agent config mounts on two empty folders of
 * a pool slot (`<home>/pool/<slot>/workspace`, `…/agent`), with `rslave`
 * propagation, under a pool folder that is a shared mount. To adopt it, berth
 * bind-mounts the project's folders onto the slot's on the host; the mounts
 * propagate into the running container. The adoption is recorded in
 * `<home>/pool/adopted.json`, from which the engine layer reports the
 * container as the project's, and the container is renamed as the project's.
 *
 * This needs root, Linux and an engine on this machine; elsewhere the pool
 * stays off, and says why in one line.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { chown, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import writeFileAtomic from 'write-file-atomic';
import { AGENT_UID, agentConfigDirOf } from '../domain/container-spec.js';
import { LABELS, POOL_NETWORK, type ObservedContainer } from '../domain/container.js';
import { BerthError } from '../domain/errors.js';
import type { ContainerEngine, ContainerSpec } from './types.js';
import { isMountPoint, workspaceProblem } from './workspace-guard.js';

export interface ContainerOwner {
  project: string;
  workspace: string;
}

interface Adoption extends ContainerOwner {
  slot: string;
  agentConfigDir: string;
}

/**
 * The record of adopted containers. Read synchronously (the engine layer
 * asks it on every inspect), re-read only when the file changed.
 */
export class AdoptionStore {
  private cache: { mtimeMs: number; adoptions: Record<string, Adoption> } | undefined;

  constructor(readonly file: string) {}

  owner(containerId: string): ContainerOwner | undefined {
    const adoption = this.read()[containerId];
    return adoption && { project: adoption.project, workspace: adoption.workspace };
  }

  get(containerId: string): Adoption | undefined {
    return this.read()[containerId];
  }

  async set(containerId: string, adoption: Adoption): Promise<void> {
    await this.write({ ...this.read(), [containerId]: adoption });
  }

  async delete(containerId: string): Promise<void> {
    const { [containerId]: _gone, ...rest } = this.read();
    await this.write(rest);
  }

  private read(): Record<string, Adoption> {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.file).mtimeMs;
    } catch {
      return {};
    }
    if (this.cache?.mtimeMs !== mtimeMs) {
      try {
        this.cache = { mtimeMs, adoptions: JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, Adoption> };
      } catch {
        // Half-written by another process: the previous reading stands until the next change.
        return this.cache?.adoptions ?? {};
      }
    }
    return this.cache.adoptions;
  }

  private async write(adoptions: Record<string, Adoption>): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, `${JSON.stringify(adoptions, null, 2)}\n`, { mode: 0o600 });
    this.cache = undefined;
  }
}

export interface WarmPoolOptions {
  /** berth's data folder: the pool lives in `<home>/pool`. */
  home: string;
  /** False for a remote engine: its containers cannot see this machine's mounts. */
  engineIsLocal: boolean;
  adoptions: AdoptionStore;
  /** The spec of a project container made from the current settings, for these host folders. */
  specFor: (folders: { workspace: string; agentConfigDir: string }) => Promise<ContainerSpec>;
}

export interface PoolChange {
  created: string[];
  removed: string[];
}

const POOL_NAME_PREFIX = 'berth-pool-';
/** As createOne names them: 12 hexadecimal digits. */
const SLOT_PATTERN = /^[0-9a-f]{12}$/;

export class WarmPool {
  readonly folder: string;
  private prepared: Promise<string | undefined> | undefined;

  constructor(
    private readonly engine: ContainerEngine,
    private readonly options: WarmPoolOptions,
  ) {
    this.folder = path.join(options.home, 'pool');
  }

  /** Why the pool cannot work here, in one line; undefined when it can. Prepares the shared mount once. */
  unavailable(): Promise<string | undefined> {
    this.prepared ??= this.prepare();
    return this.prepared;
  }

  /** The warm containers, unadopted, as the engine reports them. */
  async waiting(): Promise<ObservedContainer[]> {
    const containers = await this.engine.listManaged();
    return containers.filter(
      (container) => container.pool !== undefined && container.workspace.startsWith(this.folder + path.sep) && !this.options.adoptions.get(container.id),
    );
  }

  /** Creates warm containers up to `size`, and removes any beyond it. */
  async fill(size: number): Promise<PoolChange> {
    const change: PoolChange = { created: [], removed: [] };
    if (size > 0 && (await this.unavailable()) !== undefined) return change;
    const all = await this.waiting();
    // One that stopped (a reboot, a docker stop) is no longer warm: replaced, not counted.
    const waiting = all.filter((container) => container.status === 'running');
    for (const extra of [...all.filter((container) => container.status !== 'running'), ...waiting.slice(size)]) {
      await this.engine.remove(extra.id);
      await rm(this.slotFolder(extra.pool!), { recursive: true, force: true });
      change.removed.push(extra.id);
    }
    for (let count = waiting.length; count < size; count += 1) {
      change.created.push(await this.createOne());
    }
    return change;
  }

  /**
   * Gives a waiting warm container to `project`: its folders are mounted
   * into the slot, the adoption recorded, the container renamed. Undefined
   * when none is waiting (or the pool is off): the caller creates one.
   */
  async take(project: { name: string; workspace: string }, agentConfigDir: string, name: string): Promise<ObservedContainer | undefined> {
    if ((await this.unavailable()) !== undefined) return undefined;
    const candidate = (await this.waiting()).find((container) => container.status === 'running');
    if (!candidate) return undefined;
    const slot = candidate.pool!;
    const adoption: Adoption = { project: project.name, workspace: project.workspace, slot, agentConfigDir };
    // Recorded first: a berth killed in between leaves an adopted container, not a stray one with a project's files.
    await this.options.adoptions.set(candidate.id, adoption);
    try {
      await this.mountInto(adoption);
      await this.engine.rename(candidate.id, name);
    } catch (error) {
      await this.unmount(slot).catch(() => undefined);
      await this.options.adoptions.delete(candidate.id);
      throw error;
    }
    return this.engine.inspect(candidate.id);
  }

  /** After a reboot the host's bind mounts are gone: an adopted container gets its project's folders back before use. */
  async remount(containerId: string): Promise<void> {
    const adoption = this.options.adoptions.get(containerId);
    if (!adoption || (await isMountPoint(path.join(this.slotFolder(adoption.slot), 'workspace')))) return;
    await this.mountInto(adoption);
  }

  /** The container is gone: its slot's mounts and folders go too. */
  async release(containerId: string): Promise<void> {
    const adoption = this.options.adoptions.get(containerId);
    if (!adoption) return;
    await this.unmount(adoption.slot);
    await rm(this.slotFolder(adoption.slot), { recursive: true, force: true });
    await this.options.adoptions.delete(containerId);
  }

  private async createOne(): Promise<string> {
    const slot = randomBytes(6).toString('hex');
    const folders = { workspace: path.join(this.slotFolder(slot), 'workspace'), agentConfigDir: path.join(this.slotFolder(slot), 'agent') };
    for (const folder of Object.values(folders)) {
      await mkdir(folder, { recursive: true, mode: 0o700 });
      await chown(folder, AGENT_UID, AGENT_UID);
    }
    const spec = await this.options.specFor(folders);
    const warm: ContainerSpec = {
      ...spec,
      name: `${POOL_NAME_PREFIX}${slot}`,
      // The workspace label is the slot's folder: it tells this berth's pool from another's on the same engine.
      labels: { ...spec.labels, [LABELS.project]: '', [LABELS.workspace]: folders.workspace, [LABELS.pool]: slot },
      propagation: 'rslave',
      // No project's network yet: the one it joins when a project adopts it (see ContainerRuntime).
      network: (await this.engine.ensureNetwork({ name: POOL_NETWORK, labels: {}, internal: true })).id,
    };
    const container = await this.engine.create(warm);
    await this.engine.start(container.id);
    return container.id;
  }

  private async prepare(): Promise<string | undefined> {
    if (process.platform !== 'linux') return 'the warm pool needs Linux (mount propagation)';
    if (process.getuid?.() !== 0) return 'the warm pool needs berth to run as root (it bind-mounts workspaces into waiting containers)';
    if (!this.options.engineIsLocal) return 'the warm pool needs an engine on this machine';
    try {
      await mkdir(this.folder, { recursive: true, mode: 0o700 });
      if (!(await isMountPoint(this.folder))) await execa('mount', ['--bind', this.folder, this.folder]);
      await execa('mount', ['--make-rshared', this.folder]);
      return undefined;
    } catch (error) {
      return `the warm pool could not share ${this.folder}: ${((error as Error).message.split('\n')[0] ?? '').slice(0, 200)}`;
    }
  }

  /** Checked right before each mount: adopted.json is a file, and may have been edited by hand since the adoption. */
  private async mountInto(adoption: Adoption): Promise<void> {
    const slot = this.slotFolder(adoption.slot);
    const problem = await workspaceProblem(adoption.workspace, adoption.project, { home: this.options.home });
    if (problem) throw new BerthError(`the warm pool will not mount ${adoption.workspace} for project ${adoption.project}: ${problem}`);
    if (adoption.agentConfigDir !== agentConfigDirOf(this.options.home, adoption.project)) {
      throw new BerthError(`the warm pool will not mount ${adoption.agentConfigDir}: it is not the agent config folder of project ${adoption.project}`);
    }
    await mkdir(adoption.agentConfigDir, { recursive: true, mode: 0o700 });
    await execa('mount', ['--bind', adoption.workspace, path.join(slot, 'workspace')]);
    await execa('mount', ['--bind', adoption.agentConfigDir, path.join(slot, 'agent')]);
  }

  private async unmount(slot: string): Promise<void> {
    for (const folder of ['workspace', 'agent']) {
      const target = path.join(this.slotFolder(slot), folder);
      if (await isMountPoint(target)) await execa('umount', [target]);
    }
  }

  /** A slot's folder, removed and mounted on: a slot name (from a label, or adopted.json) never leads out of the pool. */
  private slotFolder(slot: string): string {
    if (!SLOT_PATTERN.test(slot)) throw new BerthError(`invalid warm pool slot ${JSON.stringify(slot)}`);
    return path.join(this.folder, slot);
  }
}
