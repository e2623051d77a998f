// Real connections to the local Docker engine by every kind of address berth
// accepts: a unix socket (by DOCKER_HOST), tcp (socat relaying to the socket),
// tcp with TLS (a relay that checks client certificates), ssh (an sshd on
// 127.0.0.1 running `docker system dial-stdio`), and an address where nothing answers. Each engine execs in one container,
// since an exec (a hijacked stream) is what a proxy or tunnel breaks first.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEngine, createDockerode } from '../../src/runtime/docker/connect.js';
import { resolveEngineEndpoint, type EngineEndpoint, type Env } from '../../src/runtime/engine-endpoint.js';
import { EngineUnavailable } from '../../src/runtime/errors.js';
import type { ContainerEngine } from '../../src/runtime/types.js';
import { TEST_RUN_LABEL, dockerRequired, newTestRunId, removeTestContainers } from '../helpers/engine.js';
import { describeWithEngine } from '../helpers/podman.js';

const run = promisify(execFile);
const DOCKER_SOCKET = '/var/run/docker.sock';
const SOCAT = '/usr/bin/socat';
const SSHD = '/usr/sbin/sshd';

/** Tests that need a tool scripts/setup-podman.sh installs: skipped without it, unless CI requires everything. */
function itWith(tool: string, name: string, test: () => Promise<void>): void {
  const missing = !existsSync(tool) && !dockerRequired;
  if (missing) console.warn(`skipped: ${name}: no ${tool} (scripts/setup-podman.sh installs it)`);
  it.skipIf(missing)(name, test);
}

await describeWithEngine(`unix://${DOCKER_SOCKET}`, 'engine addresses, connected for real', () => {
  const runId = newTestRunId();
  const started: ChildProcess[] = [];
  const dirs: string[] = [];
  let docker: Dockerode;
  let containerId: string;

  beforeAll(async () => {
    docker = createDockerode(resolveEngineEndpoint({ flag: `unix://${DOCKER_SOCKET}`, env: {} }));
    const container = await docker.createContainer({
      Image: 'debian:bookworm-slim',
      Entrypoint: ['sleep', 'infinity'],
      Labels: { [TEST_RUN_LABEL]: runId },
      HostConfig: { NetworkMode: 'none', Init: true },
    });
    await container.start();
    containerId = container.id;
  });

  afterAll(async () => {
    // Whole process groups: socat and sshd fork a child per connection.
    for (const child of started) if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    if (docker) await removeTestContainers(docker, runId);
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-endpoint-'));
    dirs.push(dir);
    return dir;
  }

  /** Starts `argv` in a process group of its own and waits until it accepts connections on `port`. */
  async function startListener(argv: string[], port: number): Promise<void> {
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    started.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    for (let attempt = 0; attempt < 200; attempt += 1) {
      if (child.exitCode !== null) throw new Error(`${argv[0]} exited (${child.exitCode}): ${stderr}`);
      if (await accepts(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${argv[0]} does not listen on ${port}: ${stderr}`);
  }

  async function execThrough(engine: ContainerEngine): Promise<{ stdout: string; stderr: string; exitCode: number | null }> {
    let stdout = '';
    let stderr = '';
    const outcome = await engine.exec(containerId, {
      argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'],
      user: 'root',
      workdir: '/',
      timeoutMs: 30_000,
      onStdout: (text) => (stdout += text),
      onStderr: (text) => (stderr += text),
    });
    return { stdout, stderr, exitCode: outcome.exitCode };
  }

  const EXEC_RESULT = { stdout: 'out\n', stderr: 'err\n', exitCode: 3 };

  it('reaches the engine at DOCKER_HOST=unix:///var/run/docker.sock', async () => {
    const endpoint = resolveEngineEndpoint({ env: { DOCKER_HOST: `unix://${DOCKER_SOCKET}`, HOME: '/nowhere' } });
    const engine = connectEngine(endpoint);
    expect(await engine.info()).toMatchObject({ endpoint: `unix://${DOCKER_SOCKET}`, product: 'docker' });
    expect(await execThrough(engine)).toEqual(EXEC_RESULT);
  });

  it('uses the --engine address even when DOCKER_HOST points at nothing', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'tcp://127.0.0.1:1';
    try {
      const endpoint = resolveEngineEndpoint({ flag: `unix://${DOCKER_SOCKET}`, env: process.env });
      expect((await connectEngine(endpoint).info()).product).toBe('docker');
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });

  it('says in one line that nothing answers at unix:///nonexistent, naming it', async () => {
    const engine = connectEngine(resolveEngineEndpoint({ flag: 'unix:///nonexistent', env: {} }));
    const error = await rejectionOf(engine.info());
    expect(error).toBeInstanceOf(EngineUnavailable);
    expect(error.message).toContain('unix:///nonexistent');
    expect(error.message).not.toContain('\n');
  });

  it('gives up on a tcp connect that never completes, saying so in one line', async () => {
    // A listener that never accepts: once its accept queue is full, the kernel drops further SYNs.
    const port = await freePort();
    const script =
      `require('net').createServer().listen({ port: ${port}, host: '127.0.0.1', backlog: 1 }, () => ` +
      'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0))';
    await startListener([process.execPath, '-e', script], port);
    const fillers = [0, 1, 2].map(() => connect(port, '127.0.0.1').on('error', () => undefined));
    try {
      const endpoint = resolveEngineEndpoint({ env: { DOCKER_HOST: `tcp://127.0.0.1:${port}` } });
      const error = await rejectionOf(connectEngine(endpoint, { connectTimeoutMs: 500 }).info());
      expect(error).toBeInstanceOf(EngineUnavailable);
      expect(error.message).toContain(`tcp://127.0.0.1:${port}`);
      expect(error.message).toContain('ETIMEDOUT');
      expect(error.message).not.toContain('\n');
    } finally {
      for (const filler of fillers) filler.destroy();
    }
  });

  itWith(SOCAT, 'reaches the engine over tcp://127.0.0.1:<port>', async () => {
    const port = await freePort();
    await startListener([SOCAT, `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `UNIX-CONNECT:${DOCKER_SOCKET}`], port);
    const endpoint = resolveEngineEndpoint({ env: { DOCKER_HOST: `tcp://127.0.0.1:${port}` } });
    const engine = connectEngine(endpoint);
    expect(await engine.info()).toMatchObject({ endpoint: `tcp://127.0.0.1:${port}`, product: 'docker' });
    expect(await execThrough(engine)).toEqual(EXEC_RESULT);
  });

  // A TLS server of Node's rather than socat's: socat fails TLS session resumption when it checks client certificates.
  describe('tcp with TLS', () => {
    let port: number;
    let certs: string;
    let server: TlsServer;

    beforeAll(async () => {
      certs = await tempDir();
      await makeCertificates(certs);
      const read = (name: string) => readFile(path.join(certs, name));
      server = createTlsServer(
        { cert: await read('server-cert.pem'), key: await read('server-key.pem'), ca: await read('ca.pem'), requestCert: true, rejectUnauthorized: true },
        (client) => {
          const engine = connect(DOCKER_SOCKET);
          client.pipe(engine).pipe(client);
          const close = () => (client.destroy(), engine.destroy());
          client.on('error', close).on('close', close);
          engine.on('error', close).on('close', close);
        },
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });

    afterAll(() => new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined))));

    it('reaches the engine with DOCKER_TLS_VERIFY=1 and the certificates of DOCKER_CERT_PATH', async () => {
      const env: Env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: path.join(certs, 'client') };
      const engine = connectEngine(resolveEngineEndpoint({ env }));
      expect((await engine.info()).product).toBe('docker');
      expect(await execThrough(engine)).toEqual(EXEC_RESULT);
    });

    it('refuses an engine whose certificate its CA did not sign', async () => {
      const other = await tempDir();
      await makeCertificates(other);
      const env: Env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: path.join(other, 'client') };
      const error = await rejectionOf(connectEngine(resolveEngineEndpoint({ env })).info());
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toMatch(/certificate/i);
      expect(error.message).not.toContain('\n');
    });
  });

  describe('ssh', () => {
    let port: number;
    let home: string;
    const user = userInfo().username;

    beforeAll(async () => {
      if (!existsSync(SSHD) && !dockerRequired) return;
      const dir = await tempDir();
      home = await tempDir();
      await mkdir(path.join(home, '.ssh'), { mode: 0o700 });
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(home, '.ssh', 'id_ed25519')]);
      await writeFile(path.join(dir, 'authorized_keys'), await readFile(path.join(home, '.ssh', 'id_ed25519.pub')));
      port = await freePort();
      const hostKey = (await readFile(path.join(dir, 'host_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
      await writeFile(path.join(home, '.ssh', 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`);
      const config = [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${path.join(dir, 'host_key')}`,
        `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        `AllowUsers ${user}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
      ];
      await writeFile(path.join(dir, 'sshd_config'), `${config.join('\n')}\n`);
      // sshd refuses to start without its privilege separation folder.
      await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
      await startListener([SSHD, '-D', '-e', '-f', path.join(dir, 'sshd_config')], port);
    });

    const sshEndpoint = (): EngineEndpoint =>
      resolveEngineEndpoint({ env: { DOCKER_HOST: `ssh://${user}@127.0.0.1:${port}`, HOME: home, USER: user } });

    itWith(SSHD, 'reaches the engine over ssh://user@127.0.0.1:<port> with a key from ~/.ssh', async () => {
      const engine = connectEngine(sshEndpoint());
      expect(await engine.info()).toMatchObject({ endpoint: `ssh://${user}@127.0.0.1:${port}`, product: 'docker' });
      expect(await execThrough(engine)).toEqual(EXEC_RESULT);
    });

    itWith(SSHD, 'refuses a host whose key is not the one in known_hosts', async () => {
      const knownHosts = path.join(home, '.ssh', 'known_hosts');
      const saved = await readFile(knownHosts, 'utf8');
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(home, 'impostor')]);
      const impostor = (await readFile(path.join(home, 'impostor.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
      await writeFile(knownHosts, `[127.0.0.1]:${port} ${impostor}\n`);
      try {
        const error = await rejectionOf(connectEngine(sshEndpoint()).info());
        expect(error).toBeInstanceOf(Error);
        expect(error.message).toMatch(/host/i);
        expect(error.message).not.toContain('\n');
      } finally {
        await writeFile(knownHosts, saved);
      }
    });
  });
});

async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate (in `client/`, named as DOCKER_CERT_PATH wants). */
async function makeCertificates(dir: string): Promise<void> {
  const file = (name: string) => path.join(dir, name);
  await mkdir(file('client'));
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...newKey, '-keyout', file('ca-key.pem'), '-out', file('ca.pem'), '-subj', '/CN=berth test CA', '-days', '1']);
  const sign = async (name: string, subject: string, extension: string, keyOut: string, certOut: string) => {
    await run('openssl', ['req', ...newKey, '-keyout', keyOut, '-out', file(`${name}.csr`), '-subj', subject]);
    await writeFile(file(`${name}.ext`), `${extension}\n`);
    await run('openssl', [
      'x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca-key.pem'),
      '-CAcreateserial', '-out', certOut, '-days', '1', '-extfile', file(`${name}.ext`),
    ]);
  };
  await sign('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1', file('server-key.pem'), file('server-cert.pem'));
  await sign('client', '/CN=berth test client', 'extendedKeyUsage=clientAuth', file('client/key.pem'), file('client/cert.pem'));
  await writeFile(file('client/ca.pem'), await readFile(file('ca.pem')));
}
