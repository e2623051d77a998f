/**
 * Ctrl-C, kill and a terminal that goes away (SIGINT, SIGTERM, SIGHUP) end
 * a command that runs work (a turn, a command in a project) the orderly way:
 * the work is cancelled, so that it ends everything it started and records
 * how it ended, and then berth exits with the signal's code. Without this,
 * Node dies at once and the agent runs on, unsupervised.
 *
 * A second signal while the work winds down exits at once (what runs on the
 * host is killed on the way out; a later berth ends the rest).
 */
const EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
export type StopSignal = keyof typeof EXIT_CODES;
const STOP_SIGNALS = Object.keys(EXIT_CODES) as StopSignal[];
/**
 * conf's when-exit re-raises every signal it sees (process.kill of itself),
 * so one signal arrives twice; and some senders send two at once (systemd's
 * SIGTERM and SIGHUP): a signal this soon after the first is not a second one.
 */
const ECHO_MS = 1_000;

export interface SignalStop {
  /** Aborted on the first signal. */
  readonly signal: AbortSignal;
  /** The signal that arrived, if one did. */
  received(): StopSignal | undefined;
  /** The exit code for the signal that arrived: 128 + its number. */
  exitCode(): number | undefined;
  dispose(): void;
}

export function stopOnSignals(): SignalStop {
  const controller = new AbortController();
  let received: { signal: StopSignal; at: number } | undefined;
  // `on`, not `once`, and kept until dispose: signal-exit (write-file-atomic's) and when-exit
  // (conf's) re-raise a signal that no other listener is left to handle, killing berth mid-cancel.
  const onSignal = (signal: StopSignal) => {
    if (received === undefined) {
      received = { signal, at: Date.now() };
      controller.abort();
    } else if (Date.now() - received.at > ECHO_MS) {
      // A second signal, of any kind, once the first's echo has passed (systemd sends SIGTERM and SIGHUP together).
      process.exit(EXIT_CODES[received.signal]);
    }
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  return {
    signal: controller.signal,
    received: () => received?.signal,
    exitCode: () => (received === undefined ? undefined : EXIT_CODES[received.signal]),
    dispose: () => {
      for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    },
  };
}
