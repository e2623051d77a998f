/**
 * What a model's tokens cost, to count a project's spend from the model API's
 * own usage figures. Dollars per million tokens, input and output, by model
 * family; a model berth does not know is priced as the dearest family it
 * might be, so that a spend cap errs on the side of stopping.
 */
const PER_MILLION: ReadonlyArray<readonly [RegExp, number, number]> = [
  [/haiku/i, 1, 5],
  [/sonnet/i, 3, 15],
  [/opus/i, 15, 75],
];
const UNKNOWN_MODEL: readonly [number, number] = [15, 75];

export function costUsd(usage: { model: string | null; tokensIn: number; tokensOut: number }): number {
  const known = PER_MILLION.find(([pattern]) => pattern.test(usage.model ?? ''));
  const [input, output] = known ? [known[1], known[2]] : UNKNOWN_MODEL;
  return (usage.tokensIn * input + usage.tokensOut * output) / 1_000_000;
}

/** The day a spend counts toward, in UTC: `2026-11-24`. */
export function spendDay(now: Date): string {
  return now.toISOString().slice(0, 10);
}
