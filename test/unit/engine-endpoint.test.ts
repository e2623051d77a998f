import { createHash, createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BerthError } from '../../src/domain/errors.js';
import {
  DEFAULT_DOCKER_SOCKET,
  localSocket,
  parseEngineAddress,
  resolveEngineEndpoint,
  type Env,
  type SshEndpoint,
} from '../../src/runtime/engine-endpoint.js';
import { createDockerode, dockerodeOptions } from '../../src/runtime/docker/connect.js';
import { EngineUnavailable } from '../../src/runtime/errors.js';
import { useTempDirs } from '../helpers/temp.js';

const tempDir = useTempDirs();

/** An environment whose Docker config folder is empty unless a test fills it. */
async function cleanEnv(extra: Env = {}): Promise<Env> {
  const home = await tempDir('berth-home-');
  return { HOME: home, USER: 'ada', ...extra };
}

function thrown(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('which engine: precedence', () => {
  it('takes the --engine flag over the setting, DOCKER_HOST and contexts', async () => {
    const env = await cleanEnv({ DOCKER_HOST: 'tcp://env:1', DOCKER_CONTEXT: 'missing' });
    const endpoint = resolveEngineEndpoint({ flag: 'unix:///flag.sock', setting: 'tcp://setting:2', env });
    expect(endpoint).toMatchObject({ kind: 'unix', socketPath: '/flag.sock', from: '--engine' });
  });

  it('takes the setting over DOCKER_HOST', async () => {
    const env = await cleanEnv({ DOCKER_HOST: 'tcp://env:1' });
    expect(resolveEngineEndpoint({ setting: 'tcp://setting:2', env })).toMatchObject({ host: 'setting', from: 'setting engine' });
  });

  it('treats an empty flag or setting as not given', async () => {
    const env = await cleanEnv({ DOCKER_HOST: 'tcp://env:1' });
    expect(resolveEngineEndpoint({ flag: '', setting: '', env })).toMatchObject({ host: 'env', from: 'DOCKER_HOST' });
  });

  it('takes DOCKER_HOST over the Docker context, as the docker CLI does', async () => {
    const env = await withContext('remote', 'tcp://context:2375', { DOCKER_HOST: 'unix:///env.sock' });
    expect(resolveEngineEndpoint({ env })).toMatchObject({ socketPath: '/env.sock', from: 'DOCKER_HOST' });
  });

  it('falls back to the local socket', async () => {
    expect(resolveEngineEndpoint({ env: await cleanEnv() })).toMatchObject({ kind: 'unix', from: 'the default socket' });
  });
});

describe('the local socket', () => {
  const exists = (files: string[]) => (file: string) => files.includes(file);

  it("is Docker's when it exists, even when Podman's does too", () => {
    expect(localSocket({}, exists([DEFAULT_DOCKER_SOCKET, '/run/podman/podman.sock'])).socketPath).toBe(DEFAULT_DOCKER_SOCKET);
  });

  it("is Podman's, rootless first, when Docker's is missing", () => {
    const env = { XDG_RUNTIME_DIR: '/run/user/1000' };
    expect(localSocket(env, exists(['/run/podman/podman.sock'])).socketPath).toBe('/run/podman/podman.sock');
    expect(localSocket(env, exists(['/run/user/1000/podman/podman.sock', '/run/podman/podman.sock'])).address).toBe(
      'unix:///run/user/1000/podman/podman.sock',
    );
  });

  it("is Docker's when there is none, so the error names the usual place", () => {
    expect(localSocket({}, exists([])).address).toBe(`unix://${DEFAULT_DOCKER_SOCKET}`);
  });
});

describe('engine addresses', () => {
  const parse = (address: string, env: Env = { USER: 'ada', HOME: '/home/ada' }) => parseEngineAddress(address, 'DOCKER_HOST', env);

  it('reads unix sockets and named pipes', () => {
    expect(parse('unix:///run/podman/podman.sock')).toEqual({
      kind: 'unix',
      address: 'unix:///run/podman/podman.sock',
      from: 'DOCKER_HOST',
      socketPath: '/run/podman/podman.sock',
    });
    expect(parse('npipe:////./pipe/docker_engine')).toMatchObject({ kind: 'npipe', pipePath: '//./pipe/docker_engine' });
  });

  it('reads tcp addresses, with the default port and without a scheme as DOCKER_HOST allows', () => {
    expect(parse('tcp://10.0.0.5:2380')).toEqual({
      kind: 'tcp',
      address: 'tcp://10.0.0.5:2380',
      from: 'DOCKER_HOST',
      host: '10.0.0.5',
      port: 2380,
    });
    expect(parse('tcp://docker.example')).toMatchObject({ host: 'docker.example', port: 2375, address: 'tcp://docker.example:2375' });
    expect(parse('localhost:2375')).toMatchObject({ kind: 'tcp', host: 'localhost', port: 2375 });
    expect(parse('tcp://[::1]:2375')).toMatchObject({ host: '::1', address: 'tcp://[::1]:2375' });
  });

  it('uses TLS for tcp when DOCKER_TLS_VERIFY or DOCKER_TLS is set, with the certificates of DOCKER_CERT_PATH', () => {
    const verified = parse('tcp://h', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs', HOME: '/home/ada' });
    expect(verified).toMatchObject({ port: 2376, tls: { certDir: '/certs', verify: true } });
    const encrypted = parse('tcp://h:2376', { DOCKER_TLS: '1', HOME: '/home/ada' });
    expect(encrypted).toMatchObject({ tls: { certDir: '/home/ada/.docker', verify: false } });
    expect(parse('tcp://h:2376', { DOCKER_TLS_VERIFY: '1', DOCKER_CONFIG: '/cfg' })).toMatchObject({ tls: { certDir: '/cfg' } });
    expect(parse('tcp://h:2376')).not.toHaveProperty('tls');
  });

  it('reads ssh addresses: the user defaults to $USER, the port to 22, keys to ~/.ssh', () => {
    expect(parse('ssh://deploy@build.example:2222')).toEqual({
      kind: 'ssh',
      address: 'ssh://deploy@build.example:2222',
      from: 'DOCKER_HOST',
      host: 'build.example',
      port: 2222,
      user: 'deploy',
      auth: {
        identityFiles: ['/home/ada/.ssh/id_ed25519', '/home/ada/.ssh/id_ecdsa', '/home/ada/.ssh/id_rsa'],
        knownHostsFile: '/home/ada/.ssh/known_hosts',
      },
    });
    expect(parse('ssh://build.example:22')).toMatchObject({ user: 'ada', port: 22, address: 'ssh://ada@build.example' });
    expect(parse('ssh://h', { USER: 'ada', SSH_AUTH_SOCK: '/tmp/agent.sock' })).toMatchObject({ auth: { agentSocket: '/tmp/agent.sock' } });
  });

  it.each([
    ['unix://relative.sock', 'expected unix:///absolute/path/to/socket'],
    ['unix://', 'expected unix:///absolute/path/to/socket'],
    ['http://h:2375', 'expected unix://, tcp://, ssh:// or npipe://'],
    ['tcp://', 'no host'],
    ['tcp://h:99999', 'expected tcp://host:port'],
    ['tcp://h:2375/v1.41', 'unexpected path "/v1.41"'],
    ['tcp://user@h:2375', 'no user names in tcp addresses'],
    ['ssh://ada:secret@h', 'no passwords in addresses'],
    ['/var/run/docker.sock', 'no host'],
  ])('refuses %s in one line naming where it came from', (address, why) => {
    const error = thrown(() => parseEngineAddress(address, 'setting engine', {}));
    expect(error).toBeInstanceOf(BerthError);
    expect(error.message).toContain(`setting engine ${JSON.stringify(address)} is not an engine address: ${why}`);
    expect(error.message).not.toContain('\n');
  });
});

/** A Docker config folder whose current context (or DOCKER_CONTEXT) is `name`, as `docker context create` writes it. */
async function withContext(name: string, host: string, extra: Env = {}, options: { viaEnv?: boolean; skipTlsVerify?: boolean } = {}): Promise<Env> {
  const env = await cleanEnv(extra);
  const configDir = path.join(env.HOME!, '.docker');
  const digest = createHash('sha256').update(name).digest('hex');
  await mkdir(path.join(configDir, 'contexts', 'meta', digest), { recursive: true });
  const meta = { Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: options.skipTlsVerify ?? false } } };
  await writeFile(path.join(configDir, 'contexts', 'meta', digest, 'meta.json'), JSON.stringify(meta));
  if (options.viaEnv) return { ...env, DOCKER_CONTEXT: name };
  await writeFile(path.join(configDir, 'config.json'), JSON.stringify({ auths: {}, currentContext: name }));
  return env;
}

describe('Docker contexts', () => {
  it('follows currentContext in ~/.docker/config.json', async () => {
    const env = await withContext('remote', 'ssh://deploy@build.example');
    expect(resolveEngineEndpoint({ env })).toMatchObject({
      kind: 'ssh',
      user: 'deploy',
      host: 'build.example',
      from: 'docker context "remote"',
    });
  });

  it('follows DOCKER_CONTEXT, and DOCKER_CONFIG for where the contexts are', async () => {
    const env = await withContext('rootless', 'unix:///run/user/1000/docker.sock', {}, { viaEnv: true });
    expect(resolveEngineEndpoint({ env })).toMatchObject({ socketPath: '/run/user/1000/docker.sock' });
    const moved = { DOCKER_CONFIG: path.join(env.HOME!, '.docker'), DOCKER_CONTEXT: 'rootless', HOME: '/nowhere' };
    expect(resolveEngineEndpoint({ env: moved })).toMatchObject({ socketPath: '/run/user/1000/docker.sock' });
  });

  it('treats the context "default" as the local socket', async () => {
    const env = await withContext('default', 'tcp://never:1');
    expect(resolveEngineEndpoint({ env })).toMatchObject({ from: 'the default socket' });
  });

  it("uses a context's TLS files, not DOCKER_TLS_VERIFY's", async () => {
    const env = await withContext('tls', 'tcp://secure.example:2376', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/env-certs' });
    const plain = resolveEngineEndpoint({ env });
    expect(plain).not.toHaveProperty('tls');
    const certDir = path.join(env.HOME!, '.docker', 'contexts', 'tls', createHash('sha256').update('tls').digest('hex'), 'docker');
    await mkdir(certDir, { recursive: true });
    expect(resolveEngineEndpoint({ env })).toMatchObject({ tls: { certDir, verify: true } });
    const skipping = await withContext('tls', 'tcp://secure.example:2376', {}, { skipTlsVerify: true });
    await mkdir(certDir.replace(env.HOME!, skipping.HOME!), { recursive: true });
    expect(resolveEngineEndpoint({ env: skipping })).toMatchObject({ tls: { verify: false } });
  });

  it('names a context that does not exist, and a malformed host in one', async () => {
    const missing = thrown(() => resolveEngineEndpoint({ env: { HOME: '/nowhere', DOCKER_CONTEXT: 'gone' } }));
    expect(missing).toBeInstanceOf(BerthError);
    expect(missing.message).toMatch(/^docker context "gone" \(from DOCKER_CONTEXT\) not found: no \/nowhere\/\.docker\/contexts\/meta\/[0-9a-f]{64}\/meta\.json$/);
    const env = await withContext('broken', 'tcp://');
    expect(thrown(() => resolveEngineEndpoint({ env })).message).toBe('docker context "broken" "tcp://" is not an engine address: no host');
  });

  it('names a config.json that is not JSON', async () => {
    const env = await cleanEnv();
    await mkdir(path.join(env.HOME!, '.docker'));
    await writeFile(path.join(env.HOME!, '.docker', 'config.json'), '{ not json');
    expect(thrown(() => resolveEngineEndpoint({ env })).message).toBe(`${env.HOME}/.docker/config.json is not valid JSON`);
  });
});

describe('dockerode options', () => {
  const savedDockerHost = process.env.DOCKER_HOST;
  afterEach(() => {
    if (savedDockerHost === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = savedDockerHost;
  });

  it('ignore DOCKER_HOST once the endpoint is chosen, even one docker-modem cannot parse', () => {
    process.env.DOCKER_HOST = 'tcp://[not-an-address';
    const docker = createDockerode(parseEngineAddress('unix:///run/podman/podman.sock', '--engine', {}));
    const modem = docker.modem as { socketPath?: string; host?: string };
    expect(modem).toMatchObject({ socketPath: '/run/podman/podman.sock', host: undefined });
    expect(process.env.DOCKER_HOST).toBe('tcp://[not-an-address');
  });

  it('read the TLS files, and name the one missing', async () => {
    const certDir = await tempDir();
    for (const name of ['ca.pem', 'cert.pem', 'key.pem']) await writeFile(path.join(certDir, name), `${name} content`);
    const endpoint = parseEngineAddress('tcp://h:2376', 'DOCKER_HOST', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certDir });
    expect(dockerodeOptions(endpoint)).toMatchObject({ protocol: 'https', host: 'h', port: 2376 });
    expect(String(dockerodeOptions(endpoint).ca)).toBe('ca.pem content');
    const missing = parseEngineAddress('tcp://h:2376', 'DOCKER_HOST', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/no/certs' });
    const error = thrown(() => dockerodeOptions(missing));
    expect(error).toBeInstanceOf(BerthError);
    expect(error.message).toBe(
      'TLS file /no/certs/ca.pem for tcp://h:2376 (DOCKER_HOST) is missing: set DOCKER_CERT_PATH to the folder of ca.pem, cert.pem and key.pem',
    );
  });
});

describe('ssh host keys', () => {
  const hostKey = publicKeyBlob();
  const otherKey = publicKeyBlob();

  async function sshEndpoint(knownHosts: string, address = 'ssh://deploy@build.example:2222'): Promise<SshEndpoint> {
    const env = await cleanEnv();
    await mkdir(path.join(env.HOME!, '.ssh'));
    await writeFile(path.join(env.HOME!, '.ssh', 'known_hosts'), knownHosts);
    return parseEngineAddress(address, 'DOCKER_HOST', env) as SshEndpoint;
  }

  function verifierOf(endpoint: SshEndpoint): (key: Buffer) => boolean {
    const sshOptions = dockerodeOptions(endpoint).sshOptions as { hostVerifier: (key: Buffer) => boolean };
    return sshOptions.hostVerifier;
  }

  it('accepts only a key that known_hosts lists for [host]:port', async () => {
    const lines = [
      `build.example ssh-ed25519 ${otherKey.toString('base64')}`,
      `# a comment`,
      `other.example,[build.example]:2222 ssh-ed25519 ${hostKey.toString('base64')} deploy@laptop`,
    ];
    const verify = verifierOf(await sshEndpoint(lines.join('\n')));
    expect(verify(hostKey)).toBe(true);
    expect(verify(otherKey)).toBe(false);
  });

  it('matches hashed names and wildcards, and honours negation', async () => {
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('build.example').digest('base64')}`;
    const verifyHashed = verifierOf(await sshEndpoint(`${hashed} ssh-ed25519 ${hostKey.toString('base64')}\n`, 'ssh://build.example'));
    expect(verifyHashed(hostKey)).toBe(true);
    const verifyGlob = verifierOf(await sshEndpoint(`*.example ssh-ed25519 ${hostKey.toString('base64')}\n`, 'ssh://build.example'));
    expect(verifyGlob(hostKey)).toBe(true);
    const negated = `*.example,!build.example ssh-ed25519 ${hostKey.toString('base64')}\n`;
    await expect(sshEndpoint(negated, 'ssh://build.example').then(verifierOf)).rejects.toThrow(EngineUnavailable);
  });

  it('refuses a host that known_hosts does not list, saying how to record it', async () => {
    const endpoint = await sshEndpoint(`elsewhere.example ssh-ed25519 ${hostKey.toString('base64')}\n`);
    const error = thrown(() => dockerodeOptions(endpoint));
    expect(error).toBeInstanceOf(EngineUnavailable);
    expect(error.message).toBe(
      `[build.example]:2222 is not in ${endpoint.auth.knownHostsFile}: run ssh -p 2222 deploy@build.example once to check and record its host key`,
    );
  });

  it('uses the first key file that needs no passphrase, and the agent instead when there is one', async () => {
    const endpoint = await sshEndpoint(`[build.example]:2222 ssh-ed25519 ${hostKey.toString('base64')}\n`);
    const sshDir = path.dirname(endpoint.auth.knownHostsFile);
    // id_ed25519 encrypted (OpenSSH format), id_ecdsa plain: berth cannot ask for a passphrase, so it takes id_ecdsa.
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', path.join(sshDir, 'id_ed25519')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-f', path.join(sshDir, 'id_ecdsa')]);
    const sshOptions = (target: SshEndpoint) => dockerodeOptions(target).sshOptions as { privateKey?: Buffer; agent?: string };
    expect(String(sshOptions(endpoint).privateKey)).toBe(await readFile(path.join(sshDir, 'id_ecdsa'), 'utf8'));
    const withAgent = { ...endpoint, auth: { ...endpoint.auth, agentSocket: '/tmp/agent.sock' } };
    expect(sshOptions(withAgent)).toMatchObject({ agent: '/tmp/agent.sock' });
    expect(sshOptions(withAgent).privateKey).toBeUndefined();
  });

  it('asks the server for the kinds of key known_hosts holds', async () => {
    const rsa = `[build.example]:2222 ssh-rsa ${otherKey.toString('base64')}\n`;
    const sshOptions = dockerodeOptions(await sshEndpoint(rsa)).sshOptions as { algorithms: { serverHostKey: string[] } };
    expect(sshOptions.algorithms.serverHostKey).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });
});

/** The SSH wire form of a fresh ed25519 public key, as known_hosts stores it in base64. */
function publicKeyBlob(): Buffer {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const withLength = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  return Buffer.concat([withLength(Buffer.from('ssh-ed25519')), withLength(raw)]);
}
