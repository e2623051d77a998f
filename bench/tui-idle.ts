// What berth costs while idle with BENCH_CONTAINERS (50) running containers
// shown live, against `docker stats` of the same containers: CPU% and memory
// of berth's processes (the control center and its daemon), the processes
// they start, what the engine's daemons (dockerd, containerd) spend for them,
// and what berth writes to the terminal.
//
// Adds that many container projects to a temporary BERTH_HOME and starts
// their containers with the CLI (`berth up`). Then three windows of
// BENCH_SECONDS (60; or the first argument) each, after a BENCH_WARMUP_SECONDS
// (5) warm-up: nothing open (the engine's daemons alone); berth open in tmux
// (its CPU time and RSS read from /proc every second, every byte it writes
// recorded with tmux pipe-pane, every process it or its daemon starts counted
// by a preload); `docker stats` open in tmux instead. Targets (issue 16):
// berth's processes under 1% of a core, none started, under 150 MB of RSS in
// all; the engine's daemons at most 0.5x what `docker stats` adds to them.
// Quits berth, removes the containers and the folder after, also on failure or Ctrl-C.
//   BENCH_IMAGE                 an existing image for the containers; by default
//                               berth-workspace:dev is built from docker/ (cached: seconds)
//   BENCH_MEMORY                memory limit of each container (256m)
//   BENCH_COLUMNS, BENCH_ROWS   the terminal (120 x 60)
//   BENCH_BERTH_BIN             another build's bin/berth.js
import { open, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Dockerode from 'dockerode';
import { reportFigure } from './figures.js';
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
  sum,
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

    const engineDaemons = await pidsOf(['dockerd', 'containerd']);
    console.log(`the engine alone: warming up ${warmupSeconds} s, then measuring ${seconds} s…`);
    await sleep(warmupSeconds * 1000, undefined, { signal: interrupted.signal });
    const alone = await cpuOver(engineDaemons);

    // Every process berth or its daemon starts writes a line (NODE_OPTIONS reaches the daemon the control center starts).
    const started = path.join(root, 'started.txt');
    const spy = path.join(root, 'spawn-spy.cjs');
    await writeFile(spy, SPAWN_SPY(started));
    terminal = await TmuxTerminal.start({ columns, rows, cwd: root });
    const launchedAt = await terminal.launch([process.execPath, BERTH_BIN], { BERTH_HOME: home, NODE_OPTIONS: `--require ${spy}` });
    const first = await terminal.waitFor((screen) => hasHeader(screen) && projectsShown(screen).length > 0, { timeoutMs: 60_000, pollMs: 20 });
    console.log(`berth: first frame after ${(first.at - launchedAt).toFixed(0)} ms; warming up ${warmupSeconds} s, then measuring ${seconds} s…`);
    await sleep(warmupSeconds * 1000, undefined, { signal: interrupted.signal });

    const pid = await berthPid(await terminal.panePid());
    const daemon = JSON.parse(await berth(home, ['daemon', 'status', '--json'])) as { pid?: number };
    if (daemon.pid === undefined) throw new Error('the control center runs no daemon');
    if (!(await readFile(`/proc/${daemon.pid}/environ`, 'utf8')).includes(spy)) console.log("the daemon's environment lacks the preload: what it starts is not counted");
    const output = path.join(root, 'terminal-output');
    await terminal.pipeOutputTo(output);
    const startedBefore = await linesOf(started);
    const engineDuringBerth = cpuOver(engineDaemons);
    const measured = await measureIdle([pid, daemon.pid], output);
    const withBerth = await engineDuringBerth;
    const startedMeanwhile = (await linesOf(started)).slice(startedBefore.length);
    await terminal.stopPipe();
    await sleep(200);
    const written = await readFile(output, 'latin1').catch(() => '');
    const screen = await terminal.screen();
    await terminal.press('q');
    await terminal.waitForExit(5_000);
    await terminal.kill();
    terminal = undefined;
    await berth(home, ['daemon', 'stop', '--force']);

    terminal = await TmuxTerminal.start({ columns, rows, cwd: root });
    await terminal.launch(['docker', 'stats'], {});
    console.log(`docker stats: warming up ${warmupSeconds} s, then measuring ${seconds} s…`);
    await sleep(warmupSeconds * 1000, undefined, { signal: interrupted.signal });
    const statsPids = await pidsOf(['docker'], (command) => command.includes(' stats'));
    const [withStats, statsItself] = await Promise.all([cpuOver(engineDaemons), cpuOver(statsPids)]);
    await terminal.kill();
    terminal = undefined;

    const wallSeconds = measured.wallMs / 1000;
    const frames = occurrences(written, FRAME_START);
    const shown = new Set(projectsShown(screen)).size;
    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
    console.log(`\nberth idle with ${containers} running containers (${BERTH_BIN}, tmux ${columns}x${rows}, ${wallSeconds.toFixed(1)} s after a ${warmupSeconds} s warm-up)`);
    const berthAdds = withBerth - alone;
    const statsAdds = withStats - alone;
    const verdict = (met: boolean) => (met ? 'met' : 'missed');
    printTable([
      ['projects on screen', `${shown} of ${containers}`],
      ['CPU (% of one core), control center and daemon', `mean ${measured.cpuMean.toFixed(2)}%, max ${Math.max(...measured.cpu).toFixed(1)}% over 1 s windows (${measured.cpuSeconds.toFixed(2)} s CPU in all); target under 1%: ${verdict(measured.cpuMean < 1)}`],
      ['RSS, control center and daemon', `start ${mb(measured.rss[0] ?? 0)}, end ${mb(measured.rss.at(-1) ?? 0)}, max ${mb(Math.max(...measured.rss))}; target under 150 MB: ${verdict(Math.max(...measured.rss) < 150 * 1024 ** 2)}`],
      ['processes started while idle', `${startedMeanwhile.length}${startedMeanwhile.length > 0 ? ` (${[...new Set(startedMeanwhile)].slice(0, 3).join('; ')})` : ''}; target none: ${verdict(startedMeanwhile.length === 0)}`],
      ['dockerd + containerd (% of one core)', `alone ${alone.toFixed(2)}%, with berth ${withBerth.toFixed(2)}%, with docker stats ${withStats.toFixed(2)}%`],
      ['what each adds to them', `berth ${berthAdds.toFixed(2)}%, docker stats ${statsAdds.toFixed(2)}%: ${(berthAdds / statsAdds).toFixed(2)}x; target at most 0.5x: ${verdict(berthAdds <= 0.5 * statsAdds)}`],
      ['docker stats itself (% of one core)', statsItself.toFixed(2)],
      ['written to the terminal', `${(written.length / wallSeconds / 1024).toFixed(2)} KB/s (${written.length} bytes), max ${(Math.max(...measured.bytes) / 1024).toFixed(2)} KB in 1 s`],
      ['frames written', `${(frames / wallSeconds).toFixed(2)}/s (${frames} frames), max ${Math.max(...measured.frames)} in 1 s`],
      ['full-screen clears', String(occurrences(written, CLEAR_SCREEN))],
    ]);
    const maxRss = Math.max(...measured.rss) / 1024 ** 2;
    const bench = 'tui-idle';
    reportFigure({ bench, what: `CPU of the control center and its daemon, ${containers} running containers`, value: measured.cpuMean, unit: '%', reference: `docker stats ${statsItself.toFixed(2)}%`, ratio: measured.cpuMean / statsItself, target: 'under 1%', met: measured.cpuMean < 1 });
    reportFigure({ bench, what: `RSS of the control center and its daemon, at most`, value: maxRss, unit: 'MB', target: 'under 150 MB', met: maxRss < 150 });
    reportFigure({ bench, what: 'processes started while idle', value: startedMeanwhile.length, unit: 'count', target: 'none', met: startedMeanwhile.length === 0 });
    reportFigure({ bench, what: "CPU berth adds to the engine's daemons", value: berthAdds, unit: '%', reference: `docker stats adds ${statsAdds.toFixed(2)}%`, ratio: berthAdds / statsAdds, target: 'at most 0.5x', met: berthAdds <= 0.5 * statsAdds });
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

/** What starts a process in Node, wrapped to write a line to `file` first; loaded with --require before anything else. */
const SPAWN_SPY = (file: string) => `
const childProcess = require('node:child_process');
const { appendFileSync } = require('node:fs');
for (const name of ['exec', 'execSync', 'execFile', 'execFileSync', 'spawn', 'spawnSync', 'fork']) {
  const original = childProcess[name];
  childProcess[name] = function (...args) {
    appendFileSync(${JSON.stringify(file)}, name + ' ' + String(args[0]).replace(/\\n/g, ' ') + '\\n');
    return original.apply(this, args);
  };
}
`;

async function linesOf(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

/** The live processes whose program name is one of `names` (and whose command line passes `matching`). */
async function pidsOf(names: readonly string[], matching: (command: string) => boolean = () => true): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = (await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '')).trim();
    const command = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
    if (names.includes(comm) && matching(command)) pids.push(Number(entry));
  }
  if (pids.length === 0) throw new Error(`no ${names.join(' or ')} process runs`);
  return pids;
}

async function ticksOf(pids: readonly number[]): Promise<number> {
  return sum(await Promise.all(pids.map(processCpuTicks)));
}

/** The CPU of `pids` together over `seconds`, in % of one core. */
async function cpuOver(pids: readonly number[]): Promise<number> {
  const ticksPerSecond = await clockTicksPerSecond();
  const begin = { at: performance.now(), ticks: await ticksOf(pids) };
  await sleep(seconds * 1000, undefined, { signal: interrupted.signal });
  return cpuPercent((await ticksOf(pids)) - begin.ticks, performance.now() - begin.at, ticksPerSecond);
}

async function measureIdle(pids: readonly number[], outputFile: string): Promise<IdleFigures> {
  const ticksPerSecond = await clockTicksPerSecond();
  const rss = async () => sum(await Promise.all(pids.map(processRss)));
  const figures: IdleFigures = { wallMs: 0, cpuSeconds: 0, cpuMean: 0, cpu: [], bytes: [], frames: [], rss: [await rss()] };
  const output = new OutputReader(outputFile);
  const begin = { at: performance.now(), ticks: await ticksOf(pids) };
  let previous = begin;
  try {
    for (let second = 1; second <= seconds; second += 1) {
      await sleep(Math.max(0, begin.at + second * 1000 - performance.now()), undefined, { signal: interrupted.signal });
      const now = { at: performance.now(), ticks: await ticksOf(pids) };
      figures.cpu.push(cpuPercent(now.ticks - previous.ticks, now.at - previous.at, ticksPerSecond));
      figures.rss.push(await rss());
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
