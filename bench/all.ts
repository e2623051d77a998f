// `npm run bench`: every bench of bench/, one after the other, with fewer
// rounds than each runs on its own so that all of them take under 10 minutes
// here, then one table of their figures (each bench reports them through
// bench/figures.ts). Each figure is set against the one BENCHMARKS.md
// documents for it (bench/documented.json): one more than 20 % away is said,
// with the date of the documented one. Each bench's own report is printed as
// it runs; a bench that fails is named in the table and makes the run fail.
//   BENCH_SKIP=tui-idle,...   benches left out
//   BENCH_MARKDOWN=1          the table as Markdown, for BENCHMARKS.md
import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Figure } from './figures.js';

interface Run {
  bench: string;
  /** Its arguments and environment here: what keeps the whole run under 10 minutes. */
  args?: string[];
  env?: Record<string, string>;
}

const RUNS: Run[] = [
  { bench: 'cli-start', args: ['9'] },
  { bench: 'tui-first-frame', args: ['4'] },
  { bench: 'live-session', args: ['3'] },
  { bench: 'tui-idle', env: { BENCH_SECONDS: '60' } },
  { bench: 'warm-pool', args: ['3'] },
  { bench: 'stats-sampling', env: { BENCH_CONTAINERS: '20', BENCH_SECONDS: '20', BENCH_BASELINE_SECONDS: '5' } },
  { bench: 'egress-proxy', env: { BENCH_REQUESTS: '50', BENCH_STREAM_MB: '16' } },
  { bench: 'model-api-relay', env: { BENCH_REQUESTS: '50' } },
];

/** How far a figure may be from its documented one before the run says so. */
const TOLERANCE = 0.2;

interface Documented {
  value: number;
  /** When and how it was measured, as BENCHMARKS.md says. */
  date: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const skipped = new Set((process.env.BENCH_SKIP ?? '').split(',').map((name) => name.trim()).filter(Boolean));
  const documented = JSON.parse(await readFile(path.join(here, '..', '..', 'bench', 'documented.json'), 'utf8')) as Record<string, Documented>;
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-bench-all-'));
  const figuresFile = path.join(dir, 'figures.jsonl');
  const failed: string[] = [];
  const took: Record<string, number> = {};
  const startedAt = performance.now();
  try {
    for (const run of RUNS.filter((candidate) => !skipped.has(candidate.bench))) {
      console.log(`\n=== ${run.bench} ${(run.args ?? []).join(' ')}${Object.entries(run.env ?? {}).map(([name, value]) => ` ${name}=${value}`).join('')}`);
      const began = performance.now();
      const result = await execa(process.execPath, [path.join(here, `${run.bench}.js`), ...(run.args ?? [])], {
        env: { ...run.env, BENCH_FIGURES: figuresFile },
        stdio: 'inherit',
        reject: false,
      });
      took[run.bench] = (performance.now() - began) / 1000;
      if (result.exitCode !== 0) failed.push(`${run.bench} (exit ${result.exitCode ?? result.signal})`);
    }
    const figures = (await readFile(figuresFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as Figure);
    printSummary(figures, documented, took, (performance.now() - startedAt) / 1000);
    if (failed.length > 0) {
      console.log(`\nfailed: ${failed.join(', ')}`);
      process.exitCode = 1;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function printSummary(figures: readonly Figure[], documented: Record<string, Documented>, took: Record<string, number>, totalSeconds: number): void {
  const header = ['bench', 'what', 'berth', 'reference', 'ratio', 'target', '', 'documented'];
  const rows = figures.map((figure) => {
    const key = `${figure.bench}: ${figure.what}`;
    const before = documented[key];
    const drift = before && before.value !== 0 ? figure.value / before.value - 1 : undefined;
    const against = before
      ? `${format(before.value, figure.unit)} (${before.date})${drift !== undefined && Math.abs(drift) > TOLERANCE ? `: not reproduced, ${drift > 0 ? '+' : ''}${(drift * 100).toFixed(0)}%` : ''}`
      : 'none';
    return [figure.bench, figure.what, format(figure.value, figure.unit), figure.reference ?? '', figure.ratio === undefined ? '' : `${figure.ratio.toFixed(2)}x`, figure.target ?? '', figure.met === undefined ? '' : figure.met ? 'met' : 'missed', against];
  });
  console.log(`\nall benches: ${totalSeconds.toFixed(0)} s (${Object.entries(took).map(([bench, seconds]) => `${bench} ${seconds.toFixed(0)} s`).join(', ')})\n`);
  if (process.env.BENCH_MARKDOWN) {
    for (const row of [header, header.map(() => '---'), ...rows]) console.log(`| ${row.join(' | ')} |`);
    return;
  }
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => row[column]!.length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
  const missing = Object.keys(documented).filter((key) => !figures.some((figure) => `${figure.bench}: ${figure.what}` === key));
  if (missing.length > 0) console.log(`\ndocumented but not measured in this run: ${missing.join('; ')}`);
}

function format(value: number, unit: Figure['unit']): string {
  if (unit === 'count') return String(value);
  if (unit === 'x') return `${value.toFixed(2)}x`;
  return `${value.toFixed(unit === 'ms' && value >= 10 ? 0 : unit === 'MB' ? 0 : 2)} ${unit}`;
}

await main();
