// The figures a bench hands to `npm run bench` (bench/all.ts): each bench
// prints its own report as before, and when BENCH_FIGURES names a file it also
// appends one JSON line per figure there, which the runner gathers into one
// table and checks against the figures BENCHMARKS.md documents
// (bench/documented.json).
import { appendFileSync } from 'node:fs';

export interface Figure {
  /** The bench's name, as bench/all.ts runs it: `cli-start`, `tui-idle`… */
  bench: string;
  /** What was measured, one short line: its key in bench/documented.json, with the bench. */
  what: string;
  /** berth's figure, in `unit`. */
  value: number;
  unit: 'ms' | '%' | 'MB' | 'x' | 'count';
  /** The reference it was measured against in the same run (`node -e 0 51 ms`), when there is one. */
  reference?: string;
  /** berth's figure over the reference's. */
  ratio?: number;
  /** The target, as said: `at most 2x`, `under 1%`. */
  target?: string;
  met?: boolean;
}

/** Appends the figure for bench/all.ts; a value or ratio that is not a number (nothing to divide by) is left out. */
export function reportFigure(figure: Figure): void {
  const file = process.env.BENCH_FIGURES;
  if (!file || !Number.isFinite(figure.value)) return;
  const { ratio, ...rest } = figure;
  appendFileSync(file, `${JSON.stringify(ratio !== undefined && Number.isFinite(ratio) ? figure : rest)}\n`);
}
