/**
 * The alternate screen buffer: berth draws there so that quitting gives the
 * user back the terminal exactly as it was. `restore` is idempotent and runs
 * on every way out: quit, a signal (the caller's, once its turns are
 * recorded), or a crash. Bracketed paste is on
 * while berth has the terminal: a paste comes as one unit (paced-input.ts).
 */
/** Mode 2004: the terminal marks a paste with ESC[200~ … ESC[201~. Off while a shell has the terminal. */
export const BRACKETED_PASTE_ON = '\u001B[?2004h';
export const BRACKETED_PASTE_OFF = '\u001B[?2004l';
const ENTER_ALTERNATE_SCREEN = `\u001B[?1049h\u001B[H${BRACKETED_PASTE_ON}`;
const LEAVE_ALTERNATE_SCREEN = `${BRACKETED_PASTE_OFF}\u001B[?1049l`;
const SHOW_CURSOR = '\u001B[?25h';

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
    }
  };
  stream.write(ENTER_ALTERNATE_SCREEN);
  // Node runs 'exit' listeners after an uncaught exception too.
  process.on('exit', restore);
  return {
    onTeardown: (next) => {
      teardown = next;
    },
    restore,
  };
}
