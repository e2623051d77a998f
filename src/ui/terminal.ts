/**
 * The alternate screen buffer: berth draws there so that quitting gives the
 * user back the terminal exactly as it was. `restore` is idempotent and is
 * called on every way out: quit, Ctrl-C, a signal or a crash.
 */
const ENTER_ALTERNATE_SCREEN = '\u001B[?1049h\u001B[H';
const LEAVE_ALTERNATE_SCREEN = '\u001B[?1049l';
const SHOW_CURSOR = '\u001B[?25h';

export function enterFullScreen(stream: NodeJS.WriteStream): () => void {
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    stream.write(SHOW_CURSOR + LEAVE_ALTERNATE_SCREEN);
  };
  stream.write(ENTER_ALTERNATE_SCREEN);
  process.once('exit', restore);
  return restore;
}
