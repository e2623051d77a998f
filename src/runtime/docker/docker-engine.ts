import { randomInt } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { BerthError } from '../../domain/errors.js';
import { ContainerNameTaken, EngineUnavailable } from '../errors.js';
import type {
  BuildOptions,
  ContainerEngine,
  ContainerSpec,
  EngineEvent,
  EngineInfo,
  ExecOutcome,
  ExecRequest,
  NetworkSpec,
  ObservedContainer,
  ObservedNetwork,
  RawStats,
} from '../types.js';
import { LABELS, PROJECT_SUBNET_PREFIX } from '../../domain/container.js';
import { imageMissing } from '../../domain/container-spec.js';
import { firstHostOf, formatCidr, nextFreeSubnet, parseCidr, type Subnet } from '../../domain/ipv4.js';
import { hostInterfaces } from '../host-interfaces.js';
import { processInputOf, startTimeLimit } from '../process/exec-controls.js';
import { newRunMarker, RUN_MARKER } from '../process/run-processes.js';
import { createOptionsOf } from './create-options.js';
import { dockerodeClass } from './dockerode-class.js';
import { watchDockerEvents } from './docker-events.js';
import { readRawStats } from './docker-stats.js';
import { observedFromInspect } from './observed.js';

/**
 * KILL_SCRIPT kills every process of its user in the container whose
 * environment carries a run's marker ($1=$2), whatever process group or
 * session it moved to, but the pid $3. All of them are stopped first, then
 * killed (a shell whose child died first would run its next command); until
 * none is found, since a process may fork while it is being killed. grep -z
 * reads /proc/<pid>/environ whole.
 */
const KILL_SCRIPT =
  'for round in 1 2 3 4 5; do ' +
  'pids=$(grep -lxzF -- "$1=$2" /proc/[0-9]*/environ 2>/dev/null | sed "s|/proc/||; s|/environ||" | grep -vx "${3:-0}"); ' +
  '[ -n "$pids" ] || exit 0; kill -s STOP $pids 2>/dev/null; kill -s KILL $pids 2>/dev/null; sleep 0.1; done';
/**
 * Runs the user's argv as "$@" (never through shell interpolation), with the
 * run's marker in its environment, which everything it starts inherits; once
 * it exits, what it left in the background goes too (KILL_SCRIPT, unmarked
 * itself, sparing the wrapper), as on the host. Docker has no API to kill an
 * exec: a stop runs KILL_SCRIPT in a second exec.
 */
const EXEC_WRAPPER = `"$@"; s=$?; env -u ${RUN_MARKER} sh -c '${KILL_SCRIPT}' berth-kill ${RUN_MARKER} "$${RUN_MARKER}" $$; exit $s`;
/** How long a kill (or a read of the engine's events) may take before berth gives up on it: the engine is in trouble. */
const ENGINE_STEP_TIMEOUT_MS = 15_000;
/** After a stop, how often the kill is repeated (a cancel may come before the command started) and for how long, before berth stops reading. */
const KILL_REPEAT_MS = 500;
const KILL_GRACE_MS = 10_000;
const CONNECTION_ERRORS = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EACCES', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

/** A subnet taken by another process between the list and the create: so many tries at the next one. */
const SUBNET_TRIES = 20;

/** The label docker/Dockerfile puts on the workspace image: how berth knows its own images. */
const WORKSPACE_IMAGE_LABEL = 'org.opencontainers.image.title';
/** Any version Podman 4 serves its libpod API under. */
const LIBPOD_VERSION_PREFIX = '/v4.0.0';

export interface DockerEngineOptions {
  /**
   * The client; without one, docker-modem's for DOCKER_HOST or the local
   * socket. For an explicit address, connectEngine (connect.ts) builds it.
   */
  docker?: Dockerode;
  /** Where the engine is (`unix:///…`, `tcp://host:port`, `ssh://user@host`), for messages; else read from the client. */
  endpoint?: string;
  /** Who owns an adopted warm container (see runtime/warm-pool.ts). */
  owners?: { owner(containerId: string): { project: string; workspace: string } | undefined };
}

/** berth's containers on Docker (or an engine speaking its API), through dockerode. */
export class DockerEngine implements ContainerEngine {
  readonly docker: Dockerode;
  private readonly endpointOption: string | undefined;
  private readonly owners: DockerEngineOptions['owners'];
  private product: Promise<string> | undefined;

  constructor(options: DockerEngineOptions = {}) {
    this.docker = options.docker ?? new (dockerodeClass())();
    this.endpointOption = options.endpoint;
    this.owners = options.owners;
  }

  async info(): Promise<EngineInfo> {
    const version = await this.call(() => this.docker.version());
    const components = (version as { Components?: Array<{ Name?: string }> }).Components ?? [];
    const isPodman = components.some((component) => /podman/i.test(component.Name ?? ''));
    return {
      endpoint: await this.endpoint(),
      product: isPodman ? 'podman' : 'docker',
      version: version.Version,
      apiVersion: version.ApiVersion,
    };
  }

  async memoryTotal(): Promise<number> {
    const info = (await this.call(() => this.docker.info())) as { MemTotal?: number };
    return info.MemTotal ?? 0;
  }

  async runHealthcheck(id: string): Promise<boolean> {
    if ((await this.productName()) !== 'podman') return false;
    // Podman runs healthchecks from systemd timers; without systemd only this libpod call runs one.
    // Podman answers libpod paths only under a version; docker-modem adds its own when it has one.
    const versioned = (this.docker.modem as { version?: string }).version ? '' : LIBPOD_VERSION_PREFIX;
    await this.call(
      () =>
        new Promise<void>((resolve, reject) => {
          this.docker.modem.dial(
            { path: `${versioned}/libpod/containers/${encodeURIComponent(id)}/healthcheck`, method: 'GET', statusCodes: { 200: true, 404: 'no such container', 409: 'no healthcheck or not running', 500: 'server error' } },
            (error: unknown) => (error ? reject(error) : resolve()),
          );
        }),
    );
    return true;
  }

  /** docker or podman, asked once; docker when the engine does not say. */
  private productName(): Promise<string> {
    return (this.product ??= this.info().then((info) => info.product, () => 'docker'));
  }

  async rename(id: string, name: string): Promise<void> {
    await this.call(() => this.docker.getContainer(id).rename({ name }));
  }

  async pruneImages(): Promise<{ removed: number; reclaimedBytes: number }> {
    const result = await this.call(() =>
      this.docker.pruneImages({ filters: JSON.stringify({ dangling: ['true'], label: [`${WORKSPACE_IMAGE_LABEL}=berth-workspace`] }) }),
    );
    return { removed: result.ImagesDeleted?.length ?? 0, reclaimedBytes: result.SpaceReclaimed ?? 0 };
  }

  async listManaged(): Promise<ObservedContainer[]> {
    const listed = await this.call(() =>
      this.docker.listContainers({ all: true, filters: { label: [`${LABELS.managed}=true`] } }),
    );
    // The listing lacks health, limits and start time; inspect each (one that vanished meanwhile is skipped).
    const inspected = await Promise.all(listed.map((entry) => this.inspect(entry.Id)));
    return inspected.filter((container): container is ObservedContainer => container !== undefined);
  }

  async inspect(idOrName: string): Promise<ObservedContainer | undefined> {
    try {
      const observed = observedFromInspect(await this.docker.getContainer(idOrName).inspect());
      // A warm container adopted by a project keeps its pool labels: the adoption record says whose it is.
      const owner = this.owners?.owner(observed.id);
      return owner ? { ...observed, ...owner } : observed;
    } catch (error) {
      if (isGone(error)) return undefined;
      throw await this.translate(error);
    }
  }

  async create(spec: ContainerSpec): Promise<ObservedContainer> {
    let id: string;
    try {
      id = (await this.docker.createContainer(createOptionsOf(spec, await this.productName()))).id;
    } catch (error) {
      const status = statusOf(error);
      if (isNameConflict(error)) throw new ContainerNameTaken(`a container named ${spec.name} exists already`);
      if (status === 404) throw imageMissing(spec.image);
      throw await this.translate(error);
    }
    const created = await this.inspect(id);
    if (!created) throw new BerthError(`container ${spec.name} vanished right after it was created`);
    return created;
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (error) {
      // 304: running already (another berth process started it).
      if (statusOf(error) !== 304) throw await this.translate(error);
    }
  }

  async stop(id: string, timeoutMs: number): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: Math.ceil(timeoutMs / 1000) });
    } catch (error) {
      // 304: stopped already; 404: gone already. Either way it is not running.
      if (statusOf(error) !== 304 && !isGone(error)) throw await this.translate(error);
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (error) {
      if (!isGone(error)) throw await this.translate(error);
    }
  }

  async exec(id: string, request: ExecRequest & { user: string; workdir: string }): Promise<ExecOutcome> {
    const startedAt = Date.now();
    const outcome = (exitCode: number | null, stop?: 'timeout' | 'cancel'): ExecOutcome => ({
      exitCode,
      timedOut: stop === 'timeout',
      cancelled: stop === 'cancel',
      durationMs: Date.now() - startedAt,
    });
    if (request.signal?.aborted) return outcome(null, 'cancel');

    const marker = request.runMarker ?? newRunMarker();
    const withStdin = request.onStdin !== undefined;
    const { exec, stream } = await this.call(async () => {
      const created = await this.docker.getContainer(id).exec({
        Cmd: ['sh', '-c', EXEC_WRAPPER, 'berth-exec', ...request.argv],
        Env: Object.entries({ ...request.env, [RUN_MARKER]: marker }).map(([key, value]) => `${key}=${value}`),
        User: request.user,
        WorkingDir: request.workdir,
        // Without it the command's stdin is /dev/null: one that reads it sees its end at once.
        AttachStdin: withStdin,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
      });
      return { exec: created, stream: await created.start({ hijack: true, stdin: withStdin }) };
    });

    const stdout = textSink(request.onStdout);
    const stderr = textSink(request.onStderr);
    // Without a TTY the engine multiplexes both streams into one, in framed chunks.
    this.docker.modem.demuxStream(stream, stdout, stderr);
    const streamEnded = endOf(stream);

    let stop: 'timeout' | 'cancel' | undefined;
    let killing: Promise<unknown> = Promise.resolve();
    const stopWith = (reason: 'timeout' | 'cancel') => {
      if (stop) return;
      stop = reason;
      killing = this.killUntilEnded(id, marker, request.user, streamEnded).then((ended) => ended || stream.destroy(), () => stream.destroy());
    };
    const clearTimeLimit = startTimeLimit(request.timeoutMs, () => stopWith('timeout'));
    const onAbort = () => stopWith('cancel');
    request.signal?.addEventListener('abort', onAbort, { once: true });
    // Unframed, unlike the output: what is written to the hijacked connection is the command's stdin, and its half-close the end of it.
    request.onStdin?.(processInputOf(stream));
    try {
      await streamEnded;
      // Without this, a final frame could still be in the demuxer when the callers read their output.
      await Promise.all([endWriter(stdout), endWriter(stderr)]);
    } finally {
      clearTimeLimit();
      request.signal?.removeEventListener('abort', onAbort);
    }
    if (stop) {
      // Not over until the kill is: the caller's claim on the project must outlast what it ends.
      await killing;
      return outcome(null, stop);
    }
    // The container stopped or went away under the command: it did not exit by itself.
    const exitCode = await this.call(() => exitCodeOf(exec)).catch(async (error: unknown) => {
      if ((await this.inspect(id).catch(() => undefined))?.status !== 'running') return null;
      throw error;
    });
    return outcome(exitCode);
  }

  async oomKillsSince(id: string, since: Date): Promise<number> {
    const until = Math.ceil(Date.now() / 1000);
    const options = {
      since: Math.floor(since.getTime() / 1000),
      until,
      filters: { container: [id], event: ['oom'] },
      // Some engines hang on a span's events (Podman without its events log): not a reason to hang a turn.
      abortSignal: AbortSignal.timeout(ENGINE_STEP_TIMEOUT_MS),
    } as Parameters<Dockerode['getEvents']>[0];
    // With `until`, the engine sends the events of the span and ends the stream.
    const stream = await this.call(() => this.docker.getEvents(options));
    let text = '';
    for await (const chunk of stream as AsyncIterable<Buffer | string>) text += chunk.toString();
    return text.split('\n').filter((line) => line.includes('"oom"')).length;
  }

  /** Kills the run, again every KILL_REPEAT_MS until its output ends; false when it did not end within KILL_GRACE_MS. */
  private async killUntilEnded(id: string, marker: string, user: string, ended: Promise<void>): Promise<boolean> {
    const done = ended.then(() => true, () => true);
    const deadline = Date.now() + KILL_GRACE_MS;
    while (Date.now() < deadline) {
      await this.endRun(id, marker, user);
      if (await Promise.race([done, sleep(KILL_REPEAT_MS).then(() => false)])) return true;
    }
    return false;
  }

  async endRun(id: string, marker: string, user: string): Promise<void> {
    let stream: NodeJS.ReadableStream & { destroy(): void };
    try {
      const killer = await this.docker.getContainer(id).exec({
        Cmd: ['sh', '-c', KILL_SCRIPT, 'berth-kill', RUN_MARKER, marker],
        User: user,
        AttachStdout: true,
        AttachStderr: true,
      });
      stream = (await killer.start({ hijack: true, stdin: false })) as typeof stream;
    } catch (error) {
      // The container is gone or not running: so is the run.
      if (isGone(error) || statusOf(error) === 409) return;
      throw await this.translate(error);
    }
    stream.resume();
    const timer = setTimeout(() => stream.destroy(), ENGINE_STEP_TIMEOUT_MS);
    try {
      await endOf(stream);
    } finally {
      clearTimeout(timer);
    }
  }

  stats(id: string): Promise<RawStats> {
    return readRawStats(this.docker, id);
  }

  watchEvents(onEvent: (event: EngineEvent) => void, signal: AbortSignal): void {
    watchDockerEvents(this.docker, onEvent, signal);
  }

  async logs(
    id: string,
    options: { follow: boolean; tail: number; signal?: AbortSignal; onChunk: (text: string) => void },
  ): Promise<void> {
    const container = this.docker.getContainer(id);
    const tail = options.tail >= 0 ? options.tail : undefined;
    const sink = textSink(options.onChunk);
    let source: NodeJS.ReadableStream;
    if (options.follow) {
      source = await this.call(() => container.logs({ follow: true, stdout: true, stderr: true, tail }));
    } else {
      const buffer = await this.call(() => container.logs({ follow: false, stdout: true, stderr: true, tail }));
      source = Readable.from([buffer]);
    }
    const readable = source as Readable;
    const onAbort = () => readable.destroy();
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.docker.modem.demuxStream(readable, sink, sink);
      await endOf(readable);
      await endWriter(sink);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async imageExists(tag: string): Promise<boolean> {
    try {
      await this.docker.getImage(tag).inspect();
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw await this.translate(error);
    }
  }

  async buildImage(contextDir: string, tag: string, options: BuildOptions): Promise<void> {
    const src = await readdir(contextDir).catch(() => {
      throw new BerthError(`cannot read the image folder ${contextDir}`);
    });
    const progress = await this.call(() =>
      this.docker.buildImage(
        { context: contextDir, src },
        // forcerm: a failed step's container goes too, not only those of the steps that worked.
        { t: tag, rm: true, forcerm: true, buildargs: options.buildArgs ?? {}, networkmode: options.networkMode },
      ),
    );
    let failure: string | undefined;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        progress,
        (error) => (error ? reject(error) : resolve()),
        (event: BuildEvent) => {
          // A failed step arrives as an event, not as a stream error.
          if (event.error) failure ??= event.error;
          const text = event.stream ?? event.status ?? event.error;
          for (const line of (text ?? '').split('\n')) if (line.trim()) options.onProgress?.(line.trimEnd());
        },
      );
    }).catch(async (error: unknown) => {
      throw await this.translate(error);
    });
    if (failure) throw new BerthError(`building ${tag} failed: ${firstLine(failure)}`);
  }

  async openShell(id: string, options: { user: string; workdir: string; argv: string[]; env?: Record<string, string> }): Promise<number> {
    const { stdin, stdout } = process;
    const { exec, stream } = await this.call(async () => {
      const created = await this.docker.getContainer(id).exec({
        Cmd: options.argv,
        User: options.user,
        WorkingDir: options.workdir,
        Env: [`TERM=${process.env.TERM || 'xterm-256color'}`, ...Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`)],
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: true,
      });
      return { exec: created, stream: await created.start({ hijack: true, stdin: true, Tty: true }) };
    });
    // Node turns SIGWINCH into 'resize' on a TTY stdout.
    const resize = async () => {
      if (stdout.isTTY) await exec.resize({ h: stdout.rows, w: stdout.columns }).catch(() => undefined);
    };
    const wasRaw = stdin.isTTY ? stdin.isRaw : false;
    if (stdin.isTTY) stdin.setRawMode(true);
    stdout.on('resize', resize);
    // Sized before the first key arrives, so that nothing runs in an 80x24 default.
    await resize();
    stdin.pipe(stream);
    stream.pipe(stdout, { end: false });
    try {
      await endOf(stream);
    } finally {
      stdin.unpipe(stream);
      stream.unpipe(stdout);
      stdout.off('resize', resize);
      if (stdin.isTTY) stdin.setRawMode(wasRaw);
      stdin.pause();
    }
    return (await this.call(() => exitCodeOf(exec))) ?? 1;
  }

  /** Where the engine is, for messages. */
  async ensureNetwork(spec: NetworkSpec): Promise<ObservedNetwork> {
    const existing = await this.inspectNetwork(spec.name);
    if (existing) return existing;
    const internal = spec.internal && (await this.productName()) === 'docker';
    const pool = spec.subnetPool === undefined ? undefined : parseCidr(spec.subnetPool);
    const taken: Subnet[] = [];
    for (let attempt = 0; attempt < SUBNET_TRIES; attempt += 1) {
      let subnet: Subnet | undefined;
      if (pool) {
        // Afresh on each try: whoever took the last one may have made others meanwhile.
        taken.push(...(await this.subnetsInUse()));
        subnet = nextFreeSubnet(pool, PROJECT_SUBNET_PREFIX, taken, randomInt(2 ** (PROJECT_SUBNET_PREFIX - pool.prefixLength)));
        if (!subnet) throw new BerthError(`network.subnetPool ${spec.subnetPool} has no free /${PROJECT_SUBNET_PREFIX} left: widen it (berth config set network.subnetPool …)`);
      }
      try {
        await this.docker.createNetwork({
          Name: spec.name,
          Driver: 'bridge',
          CheckDuplicate: true,
          Internal: internal,
          Labels: { ...spec.labels, [LABELS.managed]: 'true' },
          ...(subnet && { IPAM: { Driver: 'default', Config: [{ Subnet: formatCidr(subnet), Gateway: firstHostOf(subnet) }] } }),
        });
        break;
      } catch (error) {
        // Another berth process made it meanwhile: theirs will do.
        if (isNameConflict(error) || /already exists/i.test(engineMessageOf(error))) break;
        // Another process took the same subnet a moment ago: the next one.
        if (subnet && /overlap|in use|already used|conflict/i.test(engineMessageOf(error))) {
          taken.push(subnet);
          continue;
        }
        throw await this.translate(error);
      }
    }
    const created = await this.inspectNetwork(spec.name);
    if (!created) throw new BerthError(`network ${spec.name} could not be created: its subnets kept being taken`);
    return created;
  }

  /**
   * The subnets of every network of the engine, berth's or not, and of this
   * machine's interfaces (another engine's bridges, the LAN): Podman refuses
   * a subnet the host routes already, Docker silently shadows it.
   */
  private async subnetsInUse(): Promise<Subnet[]> {
    const networks = await this.call(() => this.docker.listNetworks());
    const ofEngine = networks.flatMap((network) => (network.IPAM?.Config ?? []).map((config) => config.Subnet ?? ''));
    const ofHost = (await hostInterfaces()).flatMap((found) => found.addresses.map((held) => `${held.address}/${held.prefixLength}`));
    return [...ofEngine, ...ofHost].flatMap((text) => {
      const subnet = parseCidr(text);
      return subnet ? [subnet] : [];
    });
  }

  async listNetworks(): Promise<ObservedNetwork[]> {
    const networks = await this.call(() => this.docker.listNetworks({ filters: { label: [`${LABELS.managed}=true`] } }));
    return networks.map(observedNetworkOf);
  }

  async removeNetwork(name: string): Promise<void> {
    try {
      await this.docker.getNetwork(name).remove();
    } catch (error) {
      // 404: gone already; 403/409 (Podman: 500): a container still uses it, and it stays for that one.
      const status = statusOf(error);
      if (status === 404 || status === 403 || status === 409 || /in use|not found|active endpoints/i.test(engineMessageOf(error))) return;
      throw await this.translate(error);
    }
  }

  async connectNetwork(id: string, network: string): Promise<void> {
    try {
      await this.docker.getNetwork(network).connect({ Container: id });
    } catch (error) {
      if (!/already (exists|connected)|is already/i.test(engineMessageOf(error))) throw await this.translate(error);
    }
  }

  async disconnectNetwork(id: string, network: string): Promise<void> {
    try {
      await this.docker.getNetwork(network).disconnect({ Container: id, Force: true });
    } catch (error) {
      if (!/is not connected|not found|no such/i.test(engineMessageOf(error)) && statusOf(error) !== 404) throw await this.translate(error);
    }
  }

  /**
   * The network of this name. Two berth processes racing can both create it
   * (the engine's duplicate check is not atomic): every process then takes
   * the oldest, and the others are removed while no container uses them.
   */
  private async inspectNetwork(name: string): Promise<ObservedNetwork | undefined> {
    const all = await this.call(() => this.docker.listNetworks({ filters: { name: [name] } }));
    const same = all
      .filter((network) => network.Name === name)
      .sort((a, b) => (a.Created ?? '').localeCompare(b.Created ?? '') || a.Id.localeCompare(b.Id));
    const [kept, ...extra] = same;
    for (const duplicate of extra) {
      await this.docker.getNetwork(duplicate.Id).remove().catch(() => undefined);
    }
    return kept && observedNetworkOf(kept);
  }

  async endpoint(): Promise<string> {
    if (this.endpointOption) return this.endpointOption;
    const modem = this.docker.modem as { getSocketPath?: () => Promise<string> | undefined; host?: string; port?: number | string; protocol?: string };
    const socketPath = await modem.getSocketPath?.();
    if (socketPath) return `unix://${socketPath}`;
    if (modem.host) return `${modem.protocol === 'ssh' ? 'ssh' : 'tcp'}://${modem.host}${modem.port ? `:${modem.port}` : ''}`;
    return 'the default Docker socket';
  }

  private async call<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw await this.translate(error);
    }
  }

  /** Any engine failure as a one-line BerthError. */
  private async translate(error: unknown): Promise<BerthError> {
    if (error instanceof BerthError) return error;
    const code = (error as { code?: string } | null)?.code;
    if (code && CONNECTION_ERRORS.has(code)) {
      return new EngineUnavailable(`no container engine answers at ${await this.endpoint()} (${code}): is it running?`);
    }
    const message = engineMessageOf(error) || (error instanceof Error ? error.message : String(error));
    return new BerthError(`container engine: ${firstLine(message)}`);
  }
}

interface BuildEvent {
  stream?: string;
  status?: string;
  error?: string;
}

/** Docker's and Podman's network answers, in berth's words. */
function observedNetworkOf(info: { Id: string; Name: string; Internal?: boolean; IPAM?: { Config?: Array<{ Subnet?: string; Gateway?: string }> | null } | null }): ObservedNetwork {
  const config = info.IPAM?.Config?.find((entry) => entry.Subnet?.includes('.'));
  return {
    id: info.Id,
    name: info.Name,
    internal: info.Internal === true,
    ...(config?.Gateway && { gateway: config.Gateway.replace(/\/\d+$/, '') }),
    ...(config?.Subnet && { subnet: config.Subnet }),
  };
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Docker says 409; Podman's compatible API says 500 with this message. */
function isNameConflict(error: unknown): boolean {
  return statusOf(error) === 409 || (statusOf(error) === 500 && /name .* is already in use/.test(engineMessageOf(error)));
}

/** Docker says 404; Podman, while it removes a container, may say 500 with this message. */
function isGone(error: unknown): boolean {
  return statusOf(error) === 404 || (statusOf(error) === 500 && /no such container/i.test(engineMessageOf(error)));
}

function engineMessageOf(error: unknown): string {
  return (error as { json?: { message?: string } } | null)?.json?.message ?? '';
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

/** A writable that hands decoded text (never a split UTF-8 character) to `onText`. */
function textSink(onText: ((text: string) => void) | undefined): PassThrough {
  const sink = new PassThrough();
  sink.setEncoding('utf8');
  sink.on('data', (text: string) => onText?.(text));
  return sink;
}

function endWriter(sink: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    sink.once('end', resolve);
    sink.end();
  });
}

/** Resolves when a stream ends, closes or fails: the exec's inspect says how it went. */
function endOf(stream: NodeJS.ReadableStream | NodeJS.ReadWriteStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => resolve();
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done);
  });
}

// The attach stream can end a moment before the engine records the exit.
async function exitCodeOf(exec: Dockerode.Exec): Promise<number | null> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const info = await exec.inspect();
    if (!info.Running) return info.ExitCode;
    await sleep(25);
  }
  throw new BerthError(`exec ${exec.id.slice(0, 12)} still running after its output ended`);
}
