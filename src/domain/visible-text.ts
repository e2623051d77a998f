/**
 * Text from outside berth (the agent, the model, a tool, a container, a file
 * name, an engine's error) as a terminal may safely draw it: every control
 * character that a terminal would act on (ESC starting a clipboard write, a
 * screen clear or a title change; a C1 control such as U+009B CSI; BEL, a
 * backspace, a carriage return) becomes characters that show what it was, so
 * nothing is executed and nothing is hidden.
 *
 *   C0 and DEL in caret notation: ESC → `^[`, BEL → `^G`, CR → `^M`, DEL → `^?`;
 *   C1 as its escape: U+009B → `\u009b`.
 */

/** Newlines kept (multi-line text: a reply, a tool's output, a log) or shown as `⏎` (one line: a name, a field). */
export type VisibleLayout = 'lines' | 'line';

/* eslint-disable no-control-regex */
const ANY_CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
const CONTROLS = /\r\n|[\u0000-\u001F\u007F-\u009F]/g;
/* eslint-enable no-control-regex */

/**
 * `text` with its control characters made visible. With 'lines' (the default)
 * newlines and tabs stay what they are (a CR before a newline goes, as a
 * terminal would show it); with 'line' a newline is `⏎` and a tab a space.
 */
export function visibleText(text: string, layout: VisibleLayout = 'lines'): string {
  // Most text has no control at all: return it as it is, without a copy.
  if (!ANY_CONTROL.test(text)) return text;
  return text.replace(CONTROLS, (control) => {
    if (control === '\r\n' || control === '\n') return layout === 'lines' ? '\n' : '⏎';
    if (control === '\t') return layout === 'lines' ? '\t' : ' ';
    const code = control.charCodeAt(0);
    if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
    if (code === 0x7f) return '^?';
    return `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
