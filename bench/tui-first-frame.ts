// Time from launching the built `berth` to its first full frame on a real
// terminal (tmux), with BENCH_PROJECTS (50) workspace projects and with none,
// against the least a Node program pays here to draw the same frame
// (frame-floor.ts): Node writing it at once, and Ink rendering its text.
//
// Each case first launches berth once and lets its screen settle, to learn
// what its full frame shows (fullFrameOf: the header and the last project row
// visible); then it launches berth and each floor program BENCH_RUNS times
// (10; or the first argument), in turn, and takes the time from just before
// tmux spawns it until capture-pane, polled every BENCH_POLL_MS (10), shows
// that frame. Warm runs: node and the files are in the page cache after the
// first launch. The TUI is a client of the berth daemon: each home's daemon is
// started before the first launch (untimed), so every launch attaches to a
// running one, and stopped at the end.
//   BENCH_COLUMNS, BENCH_ROWS   the terminal (120 x 40)
//   BENCH_BERTH_BIN             another build's bin/berth.js
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BuildOptions } from 'esbuild';
import { reportFigure } from './figures.js';
import { TmuxTerminal } from './tmux-terminal.js';
import { BERTH_BIN, berth, cleanUpOnce, fullFrameOf, hasHeader, median, numberFromEnv, packageRoot, percentile, projectNames, projectsShown } from './tui-support.js';

const runs = Number(process.argv[2] ?? numberFromEnv('BENCH_RUNS', 10));
const projects = numberFromEnv('BENCH_PROJECTS', 50);
const columns = numberFromEnv('BENCH_COLUMNS', 120);
const rows = numberFromEnv('BENCH_ROWS', 40);
const pollMs = numberFromEnv('BENCH_POLL_MS', 10);
const LAUNCH_TIMEOUT_MS = 30_000;

/** What is launched: berth, or a floor program drawing the frame berth settled on. */
const PROGRAMS = ['berth', 'node', 'ink'] as const;
type Program = (typeof PROGRAMS)[number];
const PROGRAM_NAMES: Record<Program, string> = { berth: 'berth', node: 'floor: Node writes the frame', ink: 'floor: Ink renders its text' };

interface CaseResult {
  projects: number;
  fullFrame: string;
  /** Milliseconds, ascending, per program. */
  times: Record<Program, number[]>;
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'berth-bench-tui-'));
  const terminal = await TmuxTerminal.start({ columns, rows, cwd: root });
  // Each home's daemon goes with the terminal and the folders.
  const homes: string[] = [];
  const cleanUp = async () => {
    await terminal.kill();
    for (const home of homes) await berth(home, ['daemon', 'stop', '--force']).catch((error: unknown) => console.error(String(error)));
    await rm(root, { recursive: true, force: true });
  };
  const finish = cleanUpOnce(cleanUp);
  try {
    const floor = await bundleFloor(path.join(root, 'floor'));
    const results: CaseResult[] = [];
    for (const count of [...new Set([projects, 0])]) {
      const home = path.join(root, `home-${count}`);
      await mkdir(home);
      homes.push(home);
      console.log(`adding ${count} workspace projects…`);
      for (const name of projectNames(count)) await berth(home, ['project', 'add', name, '--mode', 'workspace']);
      // Restart starts one when none runs.
      await berth(home, ['daemon', 'restart']);
      console.log(`launching berth and the floors ${runs} times each with ${count} projects…`);
      results.push(await measure(terminal, home, count, floor));
    }
    console.log(`\ntime from launch to the first full frame (${BERTH_BIN}, tmux ${columns}x${rows}, ${runs} warm runs each, in turn, screen polled every ${pollMs} ms)`);
    const table = [
      ['projects', 'program', 'min', 'median', 'p95', 'berth / this', 'full frame when'],
      ...results.flatMap((result) =>
        PROGRAMS.map((program) => [
          String(result.projects),
          PROGRAM_NAMES[program],
          ms(result.times[program][0] ?? 0),
          ms(median(result.times[program])),
          ms(percentile(result.times[program], 0.95)),
          program === 'berth' ? '' : `${(median(result.times.berth) / median(result.times[program])).toFixed(2)}x`,
          result.fullFrame,
        ]),
      ),
    ];
    for (const result of results) {
      const berthMs = median(result.times.berth);
      const inkMs = median(result.times.ink);
      const target = result.projects > 0 ? { target: 'under 300 ms', met: berthMs < 300 } : {};
      reportFigure({ bench: 'tui-first-frame', what: `first full frame, ${result.projects} projects`, value: berthMs, unit: 'ms', reference: `Ink alone renders its text ${ms(inkMs)}`, ratio: berthMs / inkMs, ...target });
    }
    const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
    for (const row of table) console.log(row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
  } finally {
    await finish();
  }
}

/** frame-floor.ts (compiled next to this file), bundled into `dir` as berth's TUI is; the bundle's path. */
async function bundleFloor(dir: string): Promise<string> {
  const { build } = await import('esbuild');
  const { bundleOptions } = (await import(pathToFileURL(path.join(packageRoot(), 'scripts', 'bundle', 'options.mjs')).href)) as { bundleOptions: BuildOptions };
  await build({ ...bundleOptions, entryPoints: [fileURLToPath(new URL('./frame-floor.js', import.meta.url))], outdir: dir });
  return path.join(dir, 'frame-floor.js');
}

async function measure(terminal: TmuxTerminal, home: string, count: number, floor: string): Promise<CaseResult> {
  const frameFile = path.join(home, 'settled-frame.txt');
  const launch = (program: Program) =>
    program === 'berth' ? terminal.launch([process.execPath, BERTH_BIN], { BERTH_HOME: home }) : terminal.launch([process.execPath, floor, program, frameFile], {});

  // Learn the full frame from a settled screen.
  await launch('berth');
  await terminal.waitFor(hasHeader, { timeoutMs: LAUNCH_TIMEOUT_MS, pollMs: 50 });
  const settled = await terminal.settle({ quietMs: 1_000, timeoutMs: 10_000 });
  if (count > 0 && projectsShown(settled).length === 0) throw new Error(`no project row on the settled screen:\n${settled}`);
  const fullFrame = fullFrameOf(settled);
  await quit(terminal);
  // As berth draws it: up to its lowest line (berth's frame is a line short of the terminal).
  const lines = settled.split('\n');
  await writeFile(frameFile, lines.slice(0, lines.findLastIndex((line) => line.trim() !== '') + 1).join('\n'));

  const times: Record<Program, number[]> = { berth: [], node: [], ink: [] };
  for (let run = 0; run < runs; run += 1) {
    for (const program of PROGRAMS) {
      const startedAt = await launch(program);
      const { at } = await terminal.waitFor(fullFrame.matches, { timeoutMs: LAUNCH_TIMEOUT_MS, pollMs });
      times[program].push(at - startedAt);
      await quit(terminal);
    }
  }
  for (const program of PROGRAMS) times[program].sort((a, b) => a - b);
  return { projects: count, fullFrame: fullFrame.describe, times };
}

/** q quits berth; the next launch kills it anyway if it does not. A pause lets the machine settle between runs. */
async function quit(terminal: TmuxTerminal): Promise<void> {
  await terminal.press('q');
  await terminal.waitForExit(3_000);
  await sleep(300);
}

const ms = (value: number) => `${value.toFixed(0)} ms`;

await main();
