/**
 * The alternate screen buffer: berth draws there so that quitting gives the
 * user back the terminal exactly as it was. `restore` is idempotent and runs
 * on every way out: quit, Ctrl-C, a signal, or a crash.
 */
const ENTER_ALTERNATE_SCREEN = '\u001B[?1049h\u001B[H';
const LEAVE_ALTERNATE_SCREEN = '\u001B[?1049l';
const SHOW_CURSOR = '\u001B[?25h';
const EXIT_CODES = { SIGTERM: 143, SIGHUP: 129 } as const;
type ExitSignal = keyof typeof EXIT_CODES;
const EXIT_SIGNALS = Object.keys(EXIT_CODES) as ExitSignal[];

export interface FullScreen {
  /** Runs first on the way out: Ink must write its last frame before the screen is switched back. */
  onTeardown(teardown: () => void): void;
  restore(): void;
}

export function enterFullScreen(stream: NodeJS.WriteStream): FullScreen {
  let teardown: () => void = () => {};
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      teardown();
    } finally {
      stream.write(SHOW_CURSOR + LEAVE_ALTERNATE_SCREEN);
      process.off('exit', restore);
      for (const signal of EXIT_SIGNALS) process.off(signal, onSignal);
    }
  };
  const onSignal = (signal: ExitSignal) => {
    restore();
    process.exit(EXIT_CODES[signal]);
  };
  stream.write(ENTER_ALTERNATE_SCREEN);
  // Node runs 'exit' listeners after an uncaught exception, but a fatal
  // signal ends the process without them unless the signal is handled.
  process.on('exit', restore);
  for (const signal of EXIT_SIGNALS) process.on(signal, onSignal);
  return {
    onTeardown: (next) => {
      teardown = next;
    },
    restore,
  };
}
