// What berth's egress proxy costs a project container: curl requests and a
// stream to an "outside" server (a container on the engine's default bridge),
// from the project's container through the proxy (plain HTTP, and CONNECT),
// against the same curl from a container on the default bridge, which reaches
// the server directly.
//
// Needs the workspace image (berth-workspace:dev, or BENCH_IMAGE) and an engine.
//   BENCH_REQUESTS   sequential curl requests per path (200)
//   BENCH_STREAM_MB  size of the streamed answer (64)
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Dockerode from 'dockerode';
import { parseHostList } from '../src/domain/egress.js';
import { defaultSettings, type Settings } from '../src/domain/settings.js';
import { ContainerRuntime } from '../src/runtime/container-runtime.js';
import { DockerEngine } from '../src/runtime/docker/docker-engine.js';
import { reportFigure } from './figures.js';

const IMAGE = process.env.BENCH_IMAGE ?? 'berth-workspace:dev';
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const STREAM_MB = Number(process.env.BENCH_STREAM_MB ?? 64);
const PORT = 8080;
const SERVER = `const c=Buffer.alloc(65536,'x');require('http').createServer((q,s)=>{if(q.url!=='/stream')return s.end('ok');let n=${STREAM_MB}*16;const p=()=>{while(n>0){n--;if(!s.write(c))return s.once('drain',p)}s.end()};p()}).listen(${PORT})`;
const CURL_LOOP = 'i=0; while [ $i -lt "$1" ]; do curl -sS -o /dev/null -w "$2\\n" $4 "$3" || exit 1; i=$((i+1)); done';

async function main(): Promise<void> {
  const docker = new Dockerode();
  const label = { 'berth.bench': randomUUID() };
  const home = await mkdtemp(path.join(tmpdir(), 'berth-bench-home-'));
  const workspace = await mkdtemp(path.join(tmpdir(), 'berth-bench-ws-'));
  await chmod(workspace, 0o777);
  const settings = { ...defaultSettings(), 'container.image': IMAGE, 'container.stopTimeout': '1s' } as Settings;
  const started: Dockerode.Container[] = [];
  const run = async (cmd: string[]) => {
    const container = await docker.createContainer({ Image: IMAGE, Cmd: cmd, Labels: label, User: 'agent' });
    started.push(container);
    await container.start();
    return container;
  };
  const target = await run(['node', '-e', SERVER]);
  const address = Object.values((await target.inspect()).NetworkSettings.Networks)[0]!.IPAddress;
  const runtime = new ContainerRuntime(new DockerEngine(), {
    paths: { home },
    settingsFor: () => settings,
    extraLabels: label,
    hostHome: home,
    egress: { allowlist: async () => parseHostList(`${address}:${PORT}`), forbiddenAddress: async () => undefined },
  });
  const project = { name: `bench-egress-${randomUUID().slice(0, 6)}`, path: workspace };
  try {
    await runtime.ensure(project);
    const client = await run(['sleep', 'infinity']);
    const url = `http://${address}:${PORT}`;
    const inProject = (argv: string[]) => execIn(async (onStdout) => (await runtime.exec(project, { argv, timeoutMs: 600_000, onStdout })).exitCode);
    const inClient = (argv: string[]) => execIn((onStdout) => execDocker(client, argv, onStdout));
    let directP50: number | undefined;
    for (const [name, exec, flags] of [
      ['direct, default bridge  ', inClient, ''],
      ['through the proxy (HTTP)', inProject, ''],
      ['through the proxy (CONNECT)', inProject, '-p'],
    ] as const) {
      const small = await exec(['sh', '-c', CURL_LOOP, 'bench', String(REQUESTS), '%{time_total}', `${url}/small`, flags]);
      const [stream] = await exec(['sh', '-c', CURL_LOOP, 'bench', '1', '%{speed_download}', `${url}/stream`, flags]);
      console.log(`${name}: ${REQUESTS} requests, p50 ${ms(small, 0.5)} ms, p99 ${ms(small, 0.99)} ms; ${(stream! / 1e6).toFixed(0)} MB/s streamed`);
      const p50 = Number(ms(small, 0.5));
      if (directP50 === undefined) directP50 = p50;
      else reportFigure({ bench: 'egress-proxy', what: `curl request ${name.trim()}, p50`, value: p50, unit: 'ms', reference: `direct ${directP50} ms`, ratio: p50 / directP50 });
    }
  } finally {
    await runtime.close();
    await runtime.remove(project).catch(() => undefined);
    await Promise.all(started.map((container) => container.remove({ force: true }).catch(() => undefined)));
    await rm(home, { recursive: true, force: true });
    await rm(workspace, { recursive: true, force: true });
  }
}

async function execIn(run: (onStdout: (text: string) => void) => Promise<number | null>): Promise<number[]> {
  let stdout = '';
  const exitCode = await run((text) => (stdout += text));
  if (exitCode !== 0) throw new Error(`curl failed (exit ${exitCode}): ${stdout}`);
  return stdout.trim().split('\n').map(Number);
}

async function execDocker(container: Dockerode.Container, argv: string[], onStdout: (text: string) => void): Promise<number | null> {
  const exec = await container.exec({ Cmd: argv, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new (await import('node:stream')).PassThrough();
  out.on('data', (chunk: Buffer) => onStdout(chunk.toString()));
  container.modem.demuxStream(stream, out, process.stderr);
  await new Promise((resolve) => stream.on('end', resolve));
  return (await exec.inspect()).ExitCode;
}

function ms(seconds: number[], quantile: number): string {
  const sorted = [...seconds].sort((a, b) => a - b);
  return (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * quantile))]! * 1000).toFixed(2);
}

await main();
