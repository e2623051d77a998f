/** What the terminal-safety tests look for in berth's output. */

/* eslint-disable no-control-regex */
/** Any character a terminal acts on, but the newline: C0 (ESC, BEL, BS, CR, tab), DEL and C1 (U+009B CSI). */
export const ACTED_ON = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F]/;
const SGR = /\u001B\[[0-9;]*m/g;
/* eslint-enable no-control-regex */

/** A frame without Ink's own styling (SGR): what is left must hold no control but the newline. */
export function unstyled(frame: string): string {
  return frame.replace(SGR, '');
}

/** An OSC 52 clipboard write, a screen clear, a cursor move, a title change, BEL, a C1 CSI, a backspace, a CR. */
export const HOSTILE = '\u001B]52;c;aGk=\u0007\u001B[2J\u001B[H\u001B]0;owned\u0007\u009B31m\u0008\r';
/** HOSTILE as berth shows it. */
export const HOSTILE_SHOWN = '^[]52;c;aGk=^G^[[2J^[[H^[]0;owned^G\\u009b31m^H^M';
