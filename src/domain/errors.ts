/**
 * Errors meant for the user: their message is one line that says what went
 * wrong and, where it helps, what to do. Anything else that escapes is a bug.
 */
export class BerthError extends Error {
  override name = 'BerthError';
  /** Process exit code when this error ends a CLI command. */
  readonly exitCode: number = 1;
}

/** The command line itself was wrong: exit code 2, as usage errors customarily are. */
export class UsageError extends BerthError {
  override name = 'UsageError';
  override readonly exitCode: number = 2;
}

/** Any error as the one line a user reads: its message's first line. */
export function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
