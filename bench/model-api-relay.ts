// What reaching the host's loopback from a project container costs: the first
// reachableUrl (read the gateway inside, open the relay), a later one (cached
// gateway, shared relay), and the relay's overhead on requests and on a stream,
// measured with curl in the container against the same target listening on the
// gateway address itself.
//
// Needs the workspace image (berth-workspace:dev, or BENCH_IMAGE) and an engine.
//   BENCH_REQUESTS   sequential curl requests per path (200)
//   BENCH_STREAM_MB  size of the streamed answer (64)
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultSettings, type Settings } from '../src/domain/settings.js';
import { ContainerRuntime } from '../src/runtime/container-runtime.js';
import { DockerEngine } from '../src/runtime/docker/docker-engine.js';
import type { RuntimeProject } from '../src/runtime/types.js';
import { reportFigure } from './figures.js';

const IMAGE = process.env.BENCH_IMAGE ?? 'berth-workspace:dev';
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const STREAM_MB = Number(process.env.BENCH_STREAM_MB ?? 64);
const CHUNK = Buffer.alloc(64 * 1024, 'x');

async function main(): Promise<void> {
  const home = await mkdtemp(path.join(tmpdir(), 'berth-bench-home-'));
  const workspace = await mkdtemp(path.join(tmpdir(), 'berth-bench-ws-'));
  await chmod(workspace, 0o777);
  const settings = { ...defaultSettings(), 'container.image': IMAGE, 'container.stopTimeout': '1s' } as Settings;
  const runtime = new ContainerRuntime(new DockerEngine(), {
    paths: { home },
    settingsFor: () => settings,
    extraLabels: { 'berth.bench': randomUUID() },
    hostHome: home,
  });
  const project = { name: `bench-relay-${randomUUID().slice(0, 6)}`, path: workspace };
  const target = await startTarget();
  try {
    await runtime.ensure(project);
    const targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;

    let started = performance.now();
    const first = await runtime.reachableUrl(project, targetUrl);
    const firstMs = performance.now() - started;
    started = performance.now();
    const second = await runtime.reachableUrl(project, targetUrl);
    const laterMs = performance.now() - started;
    console.log(`first reachableUrl (gateway read in the container + relay opened): ${firstMs.toFixed(1)} ms`);
    console.log(`later reachableUrl (cached gateway, shared relay):                 ${laterMs.toFixed(1)} ms`);
    console.log(`relay: ${first.url}`);

    // The baseline: the same target listening on the gateway address itself, as if it needed no relay.
    const direct = await startTarget(new URL(first.url).hostname);
    let gatewayP50: number | undefined;
    for (const [label, url] of [
      ['listening on the gateway', `http://${new URL(first.url).hostname}:${(direct.address() as AddressInfo).port}`],
      ['through the relay       ', first.url.replace(/\/$/, '')],
    ] as const) {
      const small = await curlTimes(runtime, project, `${url}/small`, REQUESTS);
      const [stream] = await curlTimes(runtime, project, `${url}/stream`, 1, '%{speed_download}');
      console.log(
        `${label}: ${REQUESTS} curl requests from the container, p50 ${ms(small, 0.5)} ms, p99 ${ms(small, 0.99)} ms; ` +
          `${(stream! / 1e6).toFixed(0)} MB/s streamed`,
      );
      const p50 = Number(ms(small, 0.5));
      if (gatewayP50 === undefined) gatewayP50 = p50;
      else reportFigure({ bench: 'model-api-relay', what: 'curl request through the relay, p50', value: p50, unit: 'ms', reference: `on the gateway ${gatewayP50} ms`, ratio: p50 / gatewayP50 });
    }
    direct.close();
    await first.close();
    await second.close();
  } finally {
    await runtime.close();
    await runtime.remove(project).catch(() => undefined);
    target.close();
    await rm(home, { recursive: true, force: true });
    await rm(workspace, { recursive: true, force: true });
  }
}

/** curl run `count` times in one exec in the container; what `-w` printed each time, as numbers. */
async function curlTimes(runtime: ContainerRuntime, project: RuntimeProject, url: string, count: number, format = '%{time_total}'): Promise<number[]> {
  let stdout = '';
  const outcome = await runtime.exec(project, {
    argv: ['sh', '-c', 'i=0; while [ $i -lt "$1" ]; do curl -sS -o /dev/null -w "$2\\n" "$3" || exit 1; i=$((i+1)); done', 'bench', String(count), format, url],
    timeoutMs: 600_000,
    onStdout: (text) => (stdout += text),
  });
  if (outcome.exitCode !== 0) throw new Error(`curl ${url} failed in the container`);
  return stdout.trim().split('\n').map(Number);
}

function ms(seconds: number[], quantile: number): string {
  const sorted = [...seconds].sort((a, b) => a - b);
  return (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * quantile))]! * 1000).toFixed(2);
}

/** A small answer, or STREAM_MB of chunks, as an SSE answer arrives. */
async function startTarget(host = '127.0.0.1'): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/stream') return void res.end('ok');
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let left = (STREAM_MB * 1024 * 1024) / CHUNK.length;
    const pump = () => {
      while (left > 0) {
        left -= 1;
        if (!res.write(CHUNK)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  server.keepAliveTimeout = 1;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return server;
}

await main();
