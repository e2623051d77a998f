/** Small bar charts in one line of text, for the stats history. Pure. */

const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

/**
 * The last `width` values as bars, the newest on the right; padded with
 * spaces on the left while there are fewer. `max` is the value of a full bar
 * (by default the largest value shown): pass a fixed one, such as 100% of the
 * CPUs a container may use, so that an idle container reads low rather than
 * its noise filling the chart.
 */
export function sparkline(values: readonly number[], width: number, max?: number): string {
  if (width <= 0) return '';
  const shown = values.slice(-width).map((value) => (Number.isFinite(value) ? Math.max(0, value) : 0));
  const top = max !== undefined && max > 0 ? max : Math.max(0, ...shown);
  const bars = shown.map((value) => {
    if (top <= 0) return BARS[0];
    const level = Math.round((Math.min(value, top) / top) * (BARS.length - 1));
    return BARS[level];
  });
  return bars.join('').padStart(width);
}

/**
 * Samples folded into time buckets of `bucketMs`, keeping each bucket's peak,
 * so a narrow chart spans minutes. Buckets are aligned to the clock, not to
 * the first sample, so the picture does not shift each time a sample arrives.
 */
export function bucketPeaks(samples: ReadonlyArray<{ time: number; value: number }>, bucketMs: number): number[] {
  const peaks: number[] = [];
  let currentBucket: number | undefined;
  for (const sample of samples) {
    const bucket = Math.floor(sample.time / Math.max(1, bucketMs));
    if (bucket === currentBucket) {
      peaks[peaks.length - 1] = Math.max(peaks[peaks.length - 1]!, sample.value);
    } else {
      peaks.push(sample.value);
      currentBucket = bucket;
    }
  }
  return peaks;
}
