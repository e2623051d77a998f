/**
 * Which container engine berth talks to, and how to reach it. The first of
 * these that is given wins (3 before 4, as in the docker CLI):
 *   1. the `--engine` flag;  2. the setting `engine`;  3. DOCKER_HOST;
 *   4. the Docker context named by DOCKER_CONTEXT, else `currentContext` in
 *      ~/.docker/config.json (docker-modem does not read contexts, so we do);
 *   5. the local socket: /var/run/docker.sock, else a Podman socket that exists.
 * Only steps 4 and 5 look at files; the rest is parsing. A malformed address
 * is a one-line BerthError naming where it came from.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import path from 'node:path';
import { BerthError } from '../domain/errors.js';
import { quote } from '../domain/project.js';

export type EngineEndpoint = UnixEndpoint | PipeEndpoint | TcpEndpoint | SshEndpoint;

interface EndpointBase {
  /** The address in its canonical form, e.g. `tcp://10.0.0.5:2376`, for messages and the TUI header. */
  address: string;
  /** Where the address came from, for messages: `--engine`, `DOCKER_HOST`, `docker context "remote"`, ... */
  from: string;
}

export interface UnixEndpoint extends EndpointBase {
  kind: 'unix';
  socketPath: string;
}

/** A Windows named pipe (`npipe:////./pipe/docker_engine`). */
export interface PipeEndpoint extends EndpointBase {
  kind: 'npipe';
  pipePath: string;
}

export interface TcpEndpoint extends EndpointBase {
  kind: 'tcp';
  host: string;
  port: number;
  /** Absent: plain HTTP. */
  tls?: TlsMaterial;
}

/** Where `ca.pem`, `cert.pem` and `key.pem` are, as DOCKER_CERT_PATH or a context's TLS folder gives them. */
export interface TlsMaterial {
  certDir: string;
  /** Check the engine's certificate against ca.pem (DOCKER_TLS_VERIFY; a context's SkipTLSVerify turns it off). */
  verify: boolean;
}

/** The engine behind `docker system dial-stdio` on a host reached over SSH. */
export interface SshEndpoint extends EndpointBase {
  kind: 'ssh';
  host: string;
  port: number;
  user: string;
  auth: SshAuth;
}

/** How berth authenticates over SSH without the ssh binary: an agent, else the usual key files. */
export interface SshAuth {
  agentSocket?: string;
  /** Tried in order when they exist; unencrypted keys only (encrypted ones belong in the agent). */
  identityFiles: string[];
  /** The engine's host key must be listed here, as ssh's StrictHostKeyChecking demands. */
  knownHostsFile: string;
}

export type Env = Record<string, string | undefined>;

export interface EndpointChoice {
  /** The `--engine` flag. */
  flag?: string;
  /** The setting `engine` ('' when unset). */
  setting?: string;
  env: Env;
}

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

const DEFAULT_PORTS = { tcp: 2375, tls: 2376, ssh: 22 } as const;

export function resolveEngineEndpoint({ flag, setting, env }: EndpointChoice): EngineEndpoint {
  if (flag) return parseEngineAddress(flag, '--engine', env);
  if (setting) return parseEngineAddress(setting, 'setting engine', env);
  if (env.DOCKER_HOST) return parseEngineAddress(env.DOCKER_HOST, 'DOCKER_HOST', env);
  return contextEndpoint(env) ?? localSocket(env, existsSync);
}

/**
 * `unix:///path`, `npipe:////./pipe/name`, `tcp://host[:port]` (or a bare
 * `host:port`, as DOCKER_HOST allows), `ssh://[user@]host[:port]`. TLS for
 * tcp follows DOCKER_TLS_VERIFY, DOCKER_TLS and DOCKER_CERT_PATH.
 */
export function parseEngineAddress(address: string, from: string, env: Env): EngineEndpoint {
  return parseAddress(address, from, env, tlsFromEnv(env));
}

function parseAddress(address: string, from: string, env: Env, tls: TlsMaterial | undefined): EngineEndpoint {
  const fail = (why: string): never => {
    throw new BerthError(`${from} ${quote(address)} is not an engine address: ${why}`);
  };
  const text = address.trim();
  const scheme = /^([a-z]+):\/\//.exec(text)?.[1];
  if (scheme === 'unix' || scheme === 'npipe') {
    const target = text.slice(scheme.length + 3);
    if (scheme === 'unix' && !target.startsWith('/')) fail('expected unix:///absolute/path/to/socket');
    if (scheme === 'npipe' && !target) fail('expected npipe:////./pipe/name');
    return scheme === 'unix'
      ? { kind: 'unix', address: `unix://${target}`, from, socketPath: target }
      : { kind: 'npipe', address: `npipe://${target}`, from, pipePath: target };
  }
  if (scheme !== undefined && scheme !== 'tcp' && scheme !== 'ssh') {
    fail('expected unix://, tcp://, ssh:// or npipe://');
  }
  let url: URL;
  try {
    url = new URL(scheme ? text : `tcp://${text}`);
  } catch {
    return fail(scheme === 'ssh' ? 'expected ssh://[user@]host[:port]' : 'expected tcp://host:port');
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) fail('no host');
  if (url.pathname !== '' && url.pathname !== '/') fail(`unexpected path ${quote(url.pathname)}`);
  if (url.search || url.hash) fail('unexpected ? or #');
  if (url.protocol === 'ssh:') {
    if (url.password) fail('no passwords in addresses: use an ssh agent or key');
    const port = url.port ? Number(url.port) : DEFAULT_PORTS.ssh;
    const user = decodeURIComponent(url.username) || env.USER || env.LOGNAME || currentUser();
    const shown = `ssh://${user}@${url.hostname}${port === DEFAULT_PORTS.ssh ? '' : `:${port}`}`;
    return { kind: 'ssh', address: shown, from, host, port, user, auth: sshAuthFrom(env) };
  }
  if (url.username) fail('no user names in tcp addresses');
  const port = url.port ? Number(url.port) : tls ? DEFAULT_PORTS.tls : DEFAULT_PORTS.tcp;
  return { kind: 'tcp', address: `tcp://${url.hostname}:${port}`, from, host, port, ...(tls && { tls }) };
}

/** As the docker CLI reads them: DOCKER_TLS_VERIFY (any value) verifies; DOCKER_TLS alone encrypts only. */
function tlsFromEnv(env: Env): TlsMaterial | undefined {
  const verify = Boolean(env.DOCKER_TLS_VERIFY);
  if (!verify && !env.DOCKER_TLS) return undefined;
  return { certDir: env.DOCKER_CERT_PATH || dockerConfigDir(env), verify };
}

function sshAuthFrom(env: Env): SshAuth {
  const sshDir = path.join(homeOf(env), '.ssh');
  return {
    ...(env.SSH_AUTH_SOCK && { agentSocket: env.SSH_AUTH_SOCK }),
    identityFiles: ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((name) => path.join(sshDir, name)),
    knownHostsFile: path.join(sshDir, 'known_hosts'),
  };
}

/** As ssh does without a user in the address; a uid without a passwd entry has no name to offer. */
function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'root');
  }
}

function homeOf(env: Env): string {
  return env.HOME || homedir();
}

function dockerConfigDir(env: Env): string {
  return env.DOCKER_CONFIG || path.join(homeOf(env), '.docker');
}

interface ContextMeta {
  Endpoints?: { docker?: { Host?: unknown; SkipTLSVerify?: unknown } };
}

/** The endpoint of the current Docker context, or undefined for the `default` context (the local socket). */
function contextEndpoint(env: Env): EngineEndpoint | undefined {
  const configDir = dockerConfigDir(env);
  let name = env.DOCKER_CONTEXT;
  let namedBy = 'DOCKER_CONTEXT';
  if (!name) {
    const configFile = path.join(configDir, 'config.json');
    const config = readJson<{ currentContext?: unknown }>(configFile);
    if (typeof config?.currentContext !== 'string') return undefined;
    name = config.currentContext;
    namedBy = configFile;
  }
  if (!name || name === 'default') return undefined;
  const from = `docker context ${quote(name)}`;
  // The docker CLI files each context under the sha256 of its name.
  const digest = createHash('sha256').update(name).digest('hex');
  const metaFile = path.join(configDir, 'contexts', 'meta', digest, 'meta.json');
  const meta = readJson<ContextMeta>(metaFile);
  if (!meta) throw new BerthError(`${from} (from ${namedBy}) not found: no ${metaFile}`);
  const docker = meta.Endpoints?.docker;
  if (typeof docker?.Host !== 'string' || !docker.Host) throw new BerthError(`${from} has no docker endpoint in ${metaFile}`);
  // A context keeps its own TLS files (when it has any); DOCKER_TLS* do not apply to it.
  const certDir = path.join(configDir, 'contexts', 'tls', digest, 'docker');
  const tls = existsSync(certDir) ? { certDir, verify: docker.SkipTLSVerify !== true } : undefined;
  return parseAddress(docker.Host, from, env, tls);
}

/** Parsed JSON, or undefined when the file does not exist; a file that is not JSON is an error naming it. */
function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BerthError(`cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new BerthError(`${file} is not valid JSON`);
  }
}

/** Docker's socket; when it is missing and Podman's exists (rootless first), Podman's. */
export function localSocket(env: Env, exists: (file: string) => boolean): UnixEndpoint {
  const podman = [env.XDG_RUNTIME_DIR && path.join(env.XDG_RUNTIME_DIR, 'podman', 'podman.sock'), '/run/podman/podman.sock'];
  const found = [DEFAULT_DOCKER_SOCKET, ...podman].find((candidate) => candidate && exists(candidate));
  // Nothing there: name Docker's socket, the one most users expect, in the error to come.
  const socketPath = found || DEFAULT_DOCKER_SOCKET;
  return { kind: 'unix', address: `unix://${socketPath}`, from: 'the default socket', socketPath };
}
