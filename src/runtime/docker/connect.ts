/**
 * From an engine endpoint (see ../engine-endpoint.ts) to a dockerode client
 * and a DockerEngine. berth resolves the endpoint itself, so
 * docker-modem must not read DOCKER_HOST again: it would override the
 * `--engine` flag, and it throws on a DOCKER_HOST it cannot parse.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Socket } from 'node:net';
import path from 'node:path';
import type Dockerode from 'dockerode';
import type { ServerHostKeyAlgorithm } from 'ssh2';
import { BerthError } from '../../domain/errors.js';
import type { EngineEndpoint, SshAuth, SshEndpoint, TcpEndpoint } from '../engine-endpoint.js';
import { EngineUnavailable } from '../errors.js';
import { DockerEngine, type DockerEngineOptions } from './docker-engine.js';
import { dockerodeClass } from './dockerode-class.js';

/** How long a TCP connect or an SSH handshake may take before the engine counts as unreachable. */
export const CONNECT_TIMEOUT_MS = 10_000;

type SshOptions = NonNullable<Dockerode.DockerOptions['sshOptions']>;

export interface ConnectOptions {
  /** Bound on a TCP connect or an SSH handshake; CONNECT_TIMEOUT_MS unless given. */
  connectTimeoutMs?: number;
}

/**
 * The engine at `endpoint`. Nothing is dialled yet: the first call does, and
 * fails with EngineUnavailable naming the address when nothing answers.
 */
export function connectEngine(endpoint: EngineEndpoint, options: ConnectOptions & Pick<DockerEngineOptions, 'owners'> = {}): DockerEngine {
  return new DockerEngine({ docker: createDockerode(endpoint, options), endpoint: endpoint.address, ...(options.owners && { owners: options.owners }) });
}

/** A dockerode client for exactly this endpoint, whatever DOCKER_HOST says. */
export function createDockerode(endpoint: EngineEndpoint, connectOptions: ConnectOptions = {}): Dockerode {
  const options = dockerodeOptions(endpoint, connectOptions);
  const dockerHost = process.env.DOCKER_HOST;
  // docker-modem merges its reading of DOCKER_HOST under our options (its host beats our socketPath): hide it.
  // Synchronous, so nothing else can observe the variable missing.
  delete process.env.DOCKER_HOST;
  try {
    return new (dockerodeClass())(options);
  } finally {
    if (dockerHost !== undefined) process.env.DOCKER_HOST = dockerHost;
  }
}

/** The dockerode options for an endpoint; reads TLS and SSH key files, naming any that is missing. */
export function dockerodeOptions(endpoint: EngineEndpoint, { connectTimeoutMs = CONNECT_TIMEOUT_MS }: ConnectOptions = {}): Dockerode.DockerOptions {
  switch (endpoint.kind) {
    case 'unix':
      return { socketPath: endpoint.socketPath };
    case 'npipe':
      return { socketPath: endpoint.pipePath };
    case 'tcp':
      return tcpOptions(endpoint, connectTimeoutMs);
    case 'ssh':
      return {
        protocol: 'ssh',
        host: endpoint.host,
        port: endpoint.port,
        username: endpoint.user,
        sshOptions: { ...sshOptions(endpoint), readyTimeout: connectTimeoutMs },
      };
  }
}

function tcpOptions(endpoint: TcpEndpoint, connectTimeoutMs: number): Dockerode.DockerOptions {
  const base = { host: endpoint.host, port: endpoint.port };
  // `agent` is docker-modem's pass-through to http.request, missing from the types.
  const withAgent = (options: Dockerode.DockerOptions, agent: HttpAgent) => ({ ...options, agent }) as Dockerode.DockerOptions;
  if (!endpoint.tls) return withAgent({ ...base, protocol: 'http' }, withConnectTimeout(new HttpAgent(), connectTimeoutMs));
  const { certDir, verify } = endpoint.tls;
  const read = (name: string, required: boolean): Buffer | undefined => {
    const file = path.join(certDir, name);
    try {
      return readFileSync(file);
    } catch {
      if (!required) return undefined;
      throw new BerthError(`TLS file ${file} for ${describe(endpoint)} is missing: set DOCKER_CERT_PATH to the folder of ca.pem, cert.pem and key.pem`);
    }
  };
  // A client certificate is optional without verification, as with the docker CLI's --tls.
  const ca = read('ca.pem', verify);
  const cert = read('cert.pem', verify);
  const key = read('key.pem', verify);
  const files = { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) };
  // docker-modem has no option to skip verification; the agent does it.
  const agent = withConnectTimeout(new HttpsAgent({ rejectUnauthorized: verify, ...files }), connectTimeoutMs);
  return withAgent({ ...base, protocol: 'https', ...files }, agent);
}

/**
 * A bound on the TCP connect only: an unreachable host otherwise takes the
 * kernel's minutes to fail. Requests themselves may be long (a stop waits for
 * the container, events and logs stream), so docker-modem's timeouts do not fit.
 */
function withConnectTimeout<A extends HttpAgent>(agent: A, timeoutMs: number): A {
  const create = agent.createConnection.bind(agent);
  agent.createConnection = (options, callback) => {
    const socket = create(options, callback);
    if (socket instanceof Socket && socket.connecting) {
      const timer = setTimeout(() => {
        const error = Object.assign(new Error(`connect to ${options.host}:${options.port} timed out`), { code: 'ETIMEDOUT' });
        socket.destroy(error);
      }, timeoutMs);
      const clear = () => clearTimeout(timer);
      socket.once('connect', clear).once('close', clear);
    }
    return socket;
  };
  return agent;
}

function sshOptions(endpoint: SshEndpoint): SshOptions {
  const knownKeys = knownHostKeys(endpoint);
  const privateKey = endpoint.auth.agentSocket ? undefined : firstUsableKey(endpoint.auth);
  return {
    ...(endpoint.auth.agentSocket && { agent: endpoint.auth.agentSocket }),
    ...(privateKey && { privateKey }),
    // Ask for the kinds of host key known_hosts holds, then insist on one of them.
    algorithms: { serverHostKey: hostKeyAlgorithms(knownKeys) },
    hostVerifier: (key: Buffer) => knownKeys.some((known) => known.blob.equals(key)),
  };
}

function firstUsableKey(auth: SshAuth): Buffer | undefined {
  for (const file of auth.identityFiles) {
    let text: Buffer;
    try {
      text = readFileSync(file);
    } catch {
      continue;
    }
    if (!isEncryptedKey(text.toString('utf8'))) return text;
  }
  return undefined;
}

/** An encrypted key needs a passphrase berth cannot ask for: those are for the ssh agent. */
function isEncryptedKey(text: string): boolean {
  if (/ENCRYPTED/.test(text)) return true;
  const body = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END/.exec(text)?.[1];
  if (!body) return false;
  // openssh-key-v1\0, then the cipher name as a length-prefixed string: "none" when unencrypted.
  const bytes = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  const magic = 'openssh-key-v1\0'.length;
  if (bytes.length < magic + 4) return false;
  const length = bytes.readUInt32BE(magic);
  return bytes.toString('latin1', magic + 4, magic + 4 + length) !== 'none';
}

interface KnownKey {
  type: string;
  blob: Buffer;
}

/**
 * The host's keys in known_hosts (plain or hashed names, `[host]:port` off
 * port 22). None is an error: berth does not trust a host key on first use.
 */
function knownHostKeys(endpoint: SshEndpoint): KnownKey[] {
  const file = endpoint.auth.knownHostsFile;
  const name = endpoint.port === 22 ? endpoint.host : `[${endpoint.host}]:${endpoint.port}`;
  const hint = `run ssh -p ${endpoint.port} ${endpoint.user}@${endpoint.host} once to check and record its host key`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new EngineUnavailable(`no ${file} to check the host key of ${describe(endpoint)}: ${hint}`);
  }
  const keys: KnownKey[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#') || fields[0].startsWith('@')) continue;
    const [patterns, type, base64] = fields;
    if (!patterns || !type || !base64 || !hostMatches(patterns, name)) continue;
    keys.push({ type, blob: Buffer.from(base64, 'base64') });
  }
  if (keys.length === 0) throw new EngineUnavailable(`${name} is not in ${file}: ${hint}`);
  return keys;
}

function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [salt, hash] = patterns.slice(3).split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    const glob = new RegExp(`^${(negated ? pattern.slice(1) : pattern).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
    if (!glob.test(name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

const HOST_KEY_ALGORITHMS: Record<string, ServerHostKeyAlgorithm[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

function hostKeyAlgorithms(keys: KnownKey[]): ServerHostKeyAlgorithm[] {
  return [...new Set(keys.flatMap((key) => HOST_KEY_ALGORITHMS[key.type] ?? []))];
}

/** `tcp://10.0.0.5:2376 (DOCKER_HOST)`: the address and where it came from. */
function describe(endpoint: EngineEndpoint): string {
  return `${endpoint.address} (${endpoint.from})`;
}
