// How suites that need a Docker engine decide to run.
//
// The engine is pinged once per test process (vitest runs each file in its own
// fork). When it answers, `describeWithDocker` is a plain `describe`. When it
// does not, the suite is skipped with its reason printed once, unless
// BERTH_REQUIRE_DOCKER=1 (CI), where a missing engine must fail, not vanish.
import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { describe, it } from 'vitest';
import { HostFirewall } from '../../src/runtime/host-firewall.js';

/** Label that marks every container a test creates, valued with its run id. */
export const TEST_RUN_LABEL = 'berth.test';

const PING_TIMEOUT_MS = 5_000;

export type EngineStatus =
  | { readonly answers: true; readonly where: string }
  | { readonly answers: false; readonly where: string; readonly reason: string };

/** A client for the engine named by DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), as docker-modem reads them. */
export function createDockerClient(): Docker {
  return new Docker();
}

/**
 * A fresh id for one run of one suite: the value of TEST_RUN_LABEL on its
 * containers. It starts with the whole run's mark (see helpers/leftovers.ts),
 * by which the run's end finds what the suite left.
 */
export function newTestRunId(): string {
  return `${process.env.BERTH_TEST_RUN ?? 'solo'}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/** Force-removes (with volumes) every container, running or not, whose TEST_RUN_LABEL is `runId`. */
export async function removeTestContainers(docker: Docker, runId: string): Promise<number> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${TEST_RUN_LABEL}=${runId}`] },
  });
  await Promise.all(containers.map((info) => removeIgnoringGone(docker.getContainer(info.Id))));
  return containers.length;
}

/**
 * Removes berth's containers whose workspace is under one of `homes` as
 * `berth project rm` would: with berth's networks they were on (those no
 * other container is on) and the host firewall's rules for those networks.
 * For suites that make containers through berth and remove them themselves.
 */
export async function removeBerthContainers(docker: Docker, homes: readonly string[]): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: ['berth.managed=true'] } });
  const ours = containers.filter((info) => homes.some((home) => info.Labels['berth.workspace']?.startsWith(home)));
  await Promise.all(ours.map((info) => removeIgnoringGone(docker.getContainer(info.Id))));
  for (const name of new Set(ours.flatMap((info) => Object.keys(info.NetworkSettings?.Networks ?? {})))) {
    const network = docker.getNetwork(name);
    const labels = (await network.inspect().catch(() => undefined))?.Labels as Record<string, string> | undefined;
    // One that another container is on (the warm pool's, say) stays: the engine refuses.
    if (labels?.['berth.managed'] === 'true') await network.remove().catch(() => undefined);
  }
  await new HostFirewall().forgetGone();
}

async function removeIgnoringGone(container: Docker.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: true });
  } catch (error) {
    // A test may have removed it already, or the engine is still removing it.
    if (!isStatus(error, 404) && !isStatus(error, 409)) throw error;
  }
}

/** Whether a dockerode error carries this HTTP status. */
export function isStatus(error: unknown, statusCode: number): boolean {
  return typeof error === 'object' && error !== null && 'statusCode' in error && error.statusCode === statusCode;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

/** Runs `cmd` in a running container without a TTY and waits for its end. */
export async function execInContainer(
  docker: Docker,
  container: Docker.Container,
  cmd: string[],
  options: { env?: string[]; user?: string } = {},
): Promise<ExecResult> {
  const exec = await container.exec({
    Cmd: cmd,
    Env: options.env,
    User: options.user,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const collected = Promise.all([collect(stdout), collect(stderr)]);
  // Without a TTY the engine multiplexes both streams into one, in framed chunks.
  docker.modem.demuxStream(stream, stdout, stderr);
  await finished(stream);
  stdout.end();
  stderr.end();
  const [out, err] = await collected;
  return { stdout: out, stderr: err, exitCode: await exitCodeOf(exec) };
}

// The attach stream can end a moment before the engine records the exit.
async function exitCodeOf(exec: Docker.Exec): Promise<number | null> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const info = await exec.inspect();
    if (!info.Running) return info.ExitCode;
    await sleep(20);
  }
  throw new Error(`exec ${exec.id} still running after its output ended`);
}

async function collect(stream: Readable): Promise<string> {
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) text += chunk;
  return text;
}

interface BuildEvent {
  stream?: string;
  error?: string;
}

/**
 * Builds `contextDir` (honouring its .dockerignore) into `tag`, as
 * `docker build --network host` would, so a build can reach package registries
 * where containers on the default bridge cannot. Rejects with the engine's error.
 */
export async function buildImage(
  docker: Docker,
  contextDir: string,
  tag: string,
  buildArgs: Record<string, string> = {},
): Promise<void> {
  const src = await readdir(contextDir);
  const progress = await docker.buildImage(
    { context: contextDir, src },
    // forcerm: a failed step's container goes too.
    { t: tag, networkmode: 'host', buildargs: buildArgs, rm: true, forcerm: true },
  );
  const events = await new Promise<BuildEvent[]>((resolve, reject) => {
    docker.modem.followProgress(progress, (error, output: BuildEvent[]) => (error ? reject(error) : resolve(output)));
  });
  // A failed step arrives as an event, not as a stream error.
  const failure = events.find((event) => event.error);
  if (failure) {
    const log = events.map((event) => event.stream ?? '').join('').split('\n').slice(-20).join('\n');
    throw new Error(`building ${tag} failed: ${failure.error}\n${log}`);
  }
}

/** Pings the engine, bounded so an unreachable TCP host cannot stall collection. */
export async function probeEngine(): Promise<EngineStatus> {
  let docker: Docker;
  try {
    docker = createDockerClient();
  } catch (error) {
    // docker-modem throws on a DOCKER_HOST it cannot parse.
    return { answers: false, where: describeDockerHost(), reason: messageOf(error) };
  }
  const where = await endpointOf(docker);
  try {
    await withTimeout(docker.ping(), PING_TIMEOUT_MS, `no answer within ${PING_TIMEOUT_MS} ms`);
    return { answers: true, where };
  } catch (error) {
    return { answers: false, where, reason: messageOf(error) };
  }
}

function describeDockerHost(): string {
  return process.env.DOCKER_HOST || 'the default socket';
}

async function endpointOf(docker: Docker): Promise<string> {
  if (process.env.DOCKER_HOST) return process.env.DOCKER_HOST;
  // Without DOCKER_HOST, docker-modem picks ~/.docker/run/docker.sock or
  // /var/run/docker.sock; ask it which, so the message names the real one.
  const modem = docker.modem as { getSocketPath?: () => Promise<string> | undefined };
  const socketPath = await modem.getSocketPath?.();
  return socketPath ? `unix://${socketPath}` : describeDockerHost();
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}

/** The engine as this test process found it. */
export const dockerEngine: EngineStatus = await probeEngine();

export const dockerRequired = process.env.BERTH_REQUIRE_DOCKER === '1';

let skipNoticePrinted = false;

/**
 * `describe` for suites that need the Docker engine: runs them when it answers,
 * otherwise skips them (saying why, once) or, with BERTH_REQUIRE_DOCKER=1,
 * fails them with the reason. `fn` runs even when skipped, to list its tests:
 * reach the engine only in hooks and tests, never in `fn`'s own body.
 */
export function describeWithDocker(name: string, fn: () => void): void {
  if (dockerEngine.answers) {
    describe(name, fn);
    return;
  }
  const reason = `no Docker engine at ${dockerEngine.where}: ${dockerEngine.reason}`;
  if (dockerRequired) {
    describe(name, () => {
      it('needs a Docker engine (BERTH_REQUIRE_DOCKER=1)', () => {
        throw new Error(reason);
      });
    });
    return;
  }
  if (!skipNoticePrinted) {
    skipNoticePrinted = true;
    console.warn(`skipped: ${reason} (set BERTH_REQUIRE_DOCKER=1 to fail instead)`);
  }
  describe.skip(name, fn);
}
