// What the TUI costs while idle with BENCH_CONTAINERS (50) running containers
// shown live: its own CPU% and memory, and what it writes to the terminal.
//
// Adds that many container projects to a temporary BERTH_HOME and starts
// their containers with the CLI (`berth up`), opens berth in tmux, waits for
// its first frame and BENCH_WARMUP_SECONDS (5), then for BENCH_SECONDS (60; or
// the first argument) reads the berth process's CPU time and RSS from /proc
// every second and records every byte it writes to the terminal
// (tmux pipe-pane). Quits berth, removes the containers and the folder after,
// also on failure or Ctrl-C.
//   BENCH_IMAGE                 an existing image for the containers; by default
//                               berth-workspace:dev is built from docker/ (cached: seconds)
//   BENCH_MEMORY                memory limit of each container (256m)
//   BENCH_COLUMNS, BENCH_ROWS   the terminal (120 x 60)
//   BENCH_BERTH_BIN             another build's bin/berth.js
import { open, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Dockerode from 'dockerode';
import { TmuxTerminal } from './tmux-terminal.js';
import {
  BERTH_BIN,
  berth,
  berthPid,
  clockTicksPerSecond,
  hasHeader,
  numberFromEnv,
  printTable,
  processCpuTicks,
  processRss,
  projectNames,
  projectsShown,
} from './tui-support.js';

const seconds = Number(process.argv[2] ?? numberFromEnv('BENCH_SECONDS', 60));
const containers = numberFromEnv('BENCH_CONTAINERS', 50);
const warmupSeconds = numberFromEnv('BENCH_WARMUP_SECONDS', 5);
const columns = numberFromEnv('BENCH_COLUMNS', 120);
const rows = numberFromEnv('BENCH_ROWS', 60);
const memory = process.env.BENCH_MEMORY || '256m';
const UP_CONCURRENCY = 4;
const BUILT_IMAGE = 'berth-workspace:dev';

/**
 * Frames are counted as Ink's synchronized-update openings (BSU, CSI ? 2026 h).
 * Ink 6 brackets every frame it writes to a terminal, whole or incremental,
 * in BSU … ESU, and writes nothing when a render changed nothing: one BSU is
 * one frame that reached the terminal. Counting write bursts instead would
 * depend on how the pty and tmux's pipe split or merge the writes.
 */
const FRAME_START = '\u001B[?2026h';
/** Ink clears the whole screen (ED 2) only when a frame is as tall as the terminal or taller: a flicker. */
const CLEAR_SCREEN = '\u001B[2J';

// `on`, not `once`: execa's exit handler re-raises a signal nobody else listens to, which would skip the clean-up.
const interrupted = new AbortController();
process.on('SIGINT', () => interrupted.abort());
process.on('SIGTERM', () => interrupted.abort());

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'berth-bench-idle-'));
  const home = path.join(root, 'home');
  await mkdir(home);
  const docker = new Dockerode();
  let terminal: TmuxTerminal | undefined;
  try {
    await docker.ping();
    const image = process.env.BENCH_IMAGE || (await buildImage(home));
    await configure(home, image);
    const names = projectNames(containers);
    console.log(`adding ${containers} container projects and starting their containers (${image}, ${memory} each)…`);
    for (const name of names) await berth(home, ['project', 'add', name, '--mode', 'container']);
    await inBatches(names, UP_CONCURRENCY, (name) => berth(home, ['up', name]));
    const running = (await ourContainers(docker, home)).filter((container) => container.State === 'running').length;
    if (running !== containers) throw new Error(`${running} of ${containers} containers run`);
    interrupted.signal.throwIfAborted();

    terminal = await TmuxTerminal.start({ columns, rows, cwd: root });
    const launchedAt = await terminal.launch([process.execPath, BERTH_BIN], { BERTH_HOME: home });
    const first = await terminal.waitFor((screen) => hasHeader(screen) && projectsShown(screen).length > 0, { timeoutMs: 60_000, pollMs: 20 });
    console.log(`first frame after ${(first.at - launchedAt).toFixed(0)} ms; warming up ${warmupSeconds} s, then measuring ${seconds} s…`);
    await sleep(warmupSeconds * 1000, undefined, { signal: interrupted.signal });

    const pid = await berthPid(await terminal.panePid());
    const output = path.join(root, 'terminal-output');
    await terminal.pipeOutputTo(output);
    const measured = await measureIdle(pid, output);
    await terminal.stopPipe();
    await sleep(200);
    const written = await readFile(output, 'latin1').catch(() => '');
    const screen = await terminal.screen();

    const wallSeconds = measured.wallMs / 1000;
    const frames = occurrences(written, FRAME_START);
    const shown = new Set(projectsShown(screen)).size;
    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
    console.log(`\nberth idle with ${containers} running containers (${BERTH_BIN}, tmux ${columns}x${rows}, ${wallSeconds.toFixed(1)} s after a ${warmupSeconds} s warm-up)`);
    printTable([
      ['projects on screen', `${shown} of ${containers}`],
      ['CPU (% of one core)', `mean ${measured.cpuMean.toFixed(2)}%, max ${Math.max(...measured.cpu).toFixed(1)}% over 1 s windows (${measured.cpuSeconds.toFixed(2)} s CPU in all)`],
      ['RSS', `start ${mb(measured.rss[0] ?? 0)}, end ${mb(measured.rss.at(-1) ?? 0)}, max ${mb(Math.max(...measured.rss))}`],
      ['written to the terminal', `${(written.length / wallSeconds / 1024).toFixed(2)} KB/s (${written.length} bytes), max ${(Math.max(...measured.bytes) / 1024).toFixed(2)} KB in 1 s`],
      ['frames written', `${(frames / wallSeconds).toFixed(2)}/s (${frames} frames), max ${Math.max(...measured.frames)} in 1 s`],
      ['full-screen clears', String(occurrences(written, CLEAR_SCREEN))],
    ]);
    if (process.env.BENCH_SHOW_SCREEN) console.log(`\nthe last screen:\n${screen}`);
  } finally {
    if (terminal) {
      await terminal.press('q').catch(() => undefined);
      await terminal.waitForExit(5_000).catch(() => false);
      await terminal.kill();
    }
    const removed = await removeContainers(docker, home).catch((error: unknown) => {
      console.error(`could not remove the bench's containers: ${error instanceof Error ? error.message : String(error)}`);
      return 0;
    });
    if (removed > 0) console.log(`removed ${removed} containers`);
    await rm(root, { recursive: true, force: true });
  }
}

interface IdleFigures {
  wallMs: number;
  cpuSeconds: number;
  cpuMean: number;
  /** Per 1 s window: % of one core, bytes and frames written. */
  cpu: number[];
  bytes: number[];
  frames: number[];
  /** Bytes, at the start and after every window. */
  rss: number[];
}

async function measureIdle(pid: number, outputFile: string): Promise<IdleFigures> {
  const ticksPerSecond = await clockTicksPerSecond();
  const figures: IdleFigures = { wallMs: 0, cpuSeconds: 0, cpuMean: 0, cpu: [], bytes: [], frames: [], rss: [await processRss(pid)] };
  const output = new OutputReader(outputFile);
  const begin = { at: performance.now(), ticks: await processCpuTicks(pid) };
  let previous = begin;
  try {
    for (let second = 1; second <= seconds; second += 1) {
      await sleep(Math.max(0, begin.at + second * 1000 - performance.now()), undefined, { signal: interrupted.signal });
      const now = { at: performance.now(), ticks: await processCpuTicks(pid) };
      figures.cpu.push(cpuPercent(now.ticks - previous.ticks, now.at - previous.at, ticksPerSecond));
      figures.rss.push(await processRss(pid));
      const chunk = await output.next();
      figures.bytes.push(chunk.bytes);
      figures.frames.push(chunk.frames);
      previous = now;
    }
  } finally {
    await output.close();
  }
  figures.wallMs = previous.at - begin.at;
  figures.cpuSeconds = (previous.ticks - begin.ticks) / ticksPerSecond;
  figures.cpuMean = cpuPercent(previous.ticks - begin.ticks, figures.wallMs, ticksPerSecond);
  return figures;
}

/** Reads what was appended to the terminal's output file since the last call, counting frame starts across chunk borders. */
class OutputReader {
  private offset = 0;
  private tail = '';
  private file: Awaited<ReturnType<typeof open>> | undefined;

  constructor(private readonly path: string) {}

  async next(): Promise<{ bytes: number; frames: number }> {
    // pipe-pane's `cat` creates the file with its first byte.
    this.file ??= await open(this.path, 'r').catch(() => undefined);
    if (!this.file) return { bytes: 0, frames: 0 };
    const { size } = await this.file.stat();
    const buffer = Buffer.alloc(size - this.offset);
    await this.file.read(buffer, 0, buffer.length, this.offset);
    this.offset = size;
    // latin1: one character per byte, and the escape sequences are ASCII.
    const text = this.tail + buffer.toString('latin1');
    this.tail = text.slice(-(FRAME_START.length - 1));
    return { bytes: buffer.length, frames: occurrences(text, FRAME_START) };
  }

  async close(): Promise<void> {
    await this.file?.close();
  }
}

async function buildImage(home: string): Promise<string> {
  console.log(`building ${BUILT_IMAGE} from docker/ (from the engine's cache: seconds; cold: minutes)…`);
  // --network host, as the tests build it: reaches the package registries behind a proxy too.
  await berth(home, ['image', 'build', '--network', 'host', '--tag', BUILT_IMAGE]);
  return BUILT_IMAGE;
}

async function configure(home: string, image: string): Promise<void> {
  await berth(home, ['config', 'set', 'container.image', image]);
  await berth(home, ['config', 'set', 'container.memory', memory]);
  // Let all of them run: the supervisor would stop those above the cap, and limits are caps, not reservations.
  await berth(home, ['config', 'set', 'policies.maxRunning', String(Math.min(1000, Math.max(5, containers)))]);
  await berth(home, ['config', 'set', 'policies.maxCommit', '1000']);
}

/** The containers berth made for this bench's projects: their workspaces lie under its home. */
async function ourContainers(docker: Dockerode, home: string): Promise<Dockerode.ContainerInfo[]> {
  const listed = await docker.listContainers({ all: true, filters: { label: ['berth.managed=true'] } });
  return listed.filter((container) => (container.Labels['berth.workspace'] ?? '').startsWith(home + path.sep));
}

async function removeContainers(docker: Dockerode, home: string): Promise<number> {
  const ours = await ourContainers(docker, home);
  // Not abortable: this is the clean-up after Ctrl-C too.
  await inBatches(ours, 8, (container) => docker.getContainer(container.Id).remove({ force: true, v: true }), new AbortController().signal);
  return ours.length;
}

async function inBatches<T>(
  items: readonly T[],
  size: number,
  work: (item: T) => Promise<unknown>,
  signal = interrupted.signal,
): Promise<void> {
  for (let start = 0; start < items.length; start += size) {
    signal.throwIfAborted();
    await Promise.all(items.slice(start, start + size).map(work));
  }
}

function cpuPercent(ticks: number, wallMs: number, ticksPerSecond: number): number {
  return wallMs <= 0 ? 0 : ((ticks / ticksPerSecond) * 100_000) / wallMs;
}

function occurrences(text: string, needle: string): number {
  let count = 0;
  for (let index = text.indexOf(needle); index !== -1; index = text.indexOf(needle, index + needle.length)) count += 1;
  return count;
}

await main().catch((error: unknown) => {
  if (!interrupted.signal.aborted) throw error;
  console.error('interrupted: cleaned up');
  process.exitCode = 130;
});
