// What the TUI benches share: the built binary, its CLI, how a "full frame"
// is recognised on a captured screen, /proc readings and summary numbers.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/** The repository's root: the nearest folder above this file with bin/berth.js (this file runs from bench/ or .bench-build/bench/). */
export function packageRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'bin', 'berth.js')) && existsSync(path.join(dir, 'package.json'))) return dir;
    if (dir === path.dirname(dir)) throw new Error('bench: cannot find bin/berth.js above this file');
  }
}

/** The built binary, as users run it; BENCH_BERTH_BIN measures another build. */
export const BERTH_BIN = process.env.BENCH_BERTH_BIN ? path.resolve(process.env.BENCH_BERTH_BIN) : path.join(packageRoot(), 'bin', 'berth.js');

/** Runs a berth subcommand with its data under `home`; throws with its output when it fails. */
export async function berth(home: string, args: string[]): Promise<string> {
  const result = await execa(process.execPath, [BERTH_BIN, ...args], {
    env: { BERTH_HOME: home, NO_COLOR: '1' },
    stdin: 'ignore',
    reject: false,
  });
  if (result.exitCode !== 0) throw new Error(`berth ${args.join(' ')} failed (${result.exitCode}):\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** `bench-00`, `bench-01`, …: zero-padded so that the registry's order is the numeric one. */
export function projectNames(count: number): string[] {
  const digits = Math.max(2, String(count - 1).length);
  return Array.from({ length: count }, (_, index) => `bench-${String(index).padStart(digits, '0')}`);
}

const PROJECT_NAME = /\bbench-\d+\b/g;

/**
 * The header: the screen's first line starts with "berth" (after any border),
 * in the first list (`berth … 0.1.0`) and in the dashboard (`berth <version> …`).
 */
export function hasHeader(screen: string): boolean {
  return /^[^\w]*berth\b/.test(screen.split('\n')[0] ?? '');
}

/** The bench project names on screen, top to bottom. */
export function projectsShown(screen: string): string[] {
  return screen.match(PROJECT_NAME) ?? [];
}

/**
 * What marks a full frame, learnt from a screen that has settled: the header
 * and the last project row shown (the list is windowed, so that is the last
 * visible one, not the last project); with no project, the header and the
 * lowest line drawn (the key hints or the status line at the bottom).
 */
export interface FullFrame {
  describe: string;
  matches: (screen: string) => boolean;
}

export function fullFrameOf(settled: string): FullFrame {
  // The highest-numbered name, not the lowest on screen: a details pane below the list may repeat the selected one.
  const lastProject = projectsShown(settled).sort().at(-1);
  if (lastProject) {
    return {
      describe: `header and the row of ${lastProject}`,
      matches: (screen) => hasHeader(screen) && new RegExp(`\\b${lastProject}\\b`).test(screen),
    };
  }
  const lines = settled.split('\n');
  const lowest = lines.findLastIndex((line) => line.trim() !== '');
  return {
    describe: `header and line ${lowest + 1} drawn`,
    matches: (screen) => hasHeader(screen) && (screen.split('\n')[lowest] ?? '').trim() !== '',
  };
}

/** Clock ticks per second of /proc/<pid>/stat times. */
export async function clockTicksPerSecond(): Promise<number> {
  const result = await execa('getconf', ['CLK_TCK'], { reject: false });
  const ticks = Number(result.stdout.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
}

/** utime + stime of the process, all its threads, in clock ticks. */
export async function processCpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command (which may hold spaces) start at field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Resident set size in bytes. */
export async function processRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kilobytes = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (kilobytes === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kilobytes) * 1024;
}

/** The berth process in the pane: the pane's own process when it was exec'd, else its child running berth. */
export async function berthPid(panePid: number): Promise<number> {
  const isBerth = async (pid: number) => (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes('berth');
  if (await isBerth(panePid)) return panePid;
  const children = (await execa('pgrep', ['-P', String(panePid)], { reject: false })).stdout.split('\n').filter(Boolean).map(Number);
  for (const child of children) if (await isBerth(child)) return child;
  throw new Error(`no berth process in the pane (pid ${panePid})`);
}

export function numberFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number ≥ 0, not ${JSON.stringify(text)}`);
  return value;
}

export const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
export const mean = (values: readonly number[]) => (values.length === 0 ? 0 : sum(values) / values.length);
/** Nearest-rank percentile of sorted values. */
export const percentile = (sorted: readonly number[], fraction: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * fraction) - 1))] ?? 0;
export function median(sorted: readonly number[]): number {
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return 0;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export function printTable(rows: ReadonlyArray<readonly [string, string]>): void {
  const width = Math.max(...rows.map(([name]) => name.length));
  for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value}`);
}

/**
 * Runs `cleanUp` once, at the end of the bench or on Ctrl-C and SIGTERM
 * (then exiting 130). `on`, not `once`: execa's exit handler re-raises a
 * signal nobody else listens to. Call the returned function in a `finally`.
 */
export function cleanUpOnce(cleanUp: () => Promise<void>): () => Promise<void> {
  let started: Promise<void> | undefined;
  const run = () => (started ??= cleanUp());
  const interrupt = () => void run().finally(() => process.exit(130));
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  return () => {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    return run();
  };
}
