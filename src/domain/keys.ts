/**
 * The control center's commands and the keys bound to them. One table serves
 * three readers: the input handler, the help overlay and the key hints, so
 * none of them can drift from the others. Users remap a command with the
 * setting `keys.<command>` (for example `berth config set keys.openChat "enter,o"`).
 * Pure: a key here is a description, not a terminal event.
 */

/** Where a command applies. Chat has a text input: only keys that type nothing are bound there. */
export type KeyContext = 'dashboard' | 'chat' | 'request' | 'logs' | 'everywhere';

interface CommandSpec {
  keys: readonly string[];
  context: KeyContext;
  /** Short: the help shows two columns of them at 80 columns. */
  description: string;
}

const command = (keys: readonly string[], context: KeyContext, description: string): CommandSpec => ({ keys, context, description });

export const COMMANDS = {
  up: command(['up', 'k'], 'dashboard', 'project above'),
  down: command(['down', 'j'], 'dashboard', 'project below'),
  pageUp: command(['pageup'], 'everywhere', 'scroll a page up'),
  pageDown: command(['pagedown'], 'everywhere', 'scroll a page down'),
  top: command(['home', 'g'], 'dashboard', 'first project'),
  bottom: command(['end', 'G'], 'dashboard', 'last project'),
  openChat: command(['enter', 'c'], 'dashboard', 'chat with the agent'),
  nextWaiting: command(['w'], 'dashboard', 'next one waiting for you'),
  newProject: command(['n'], 'dashboard', 'new project'),
  startStop: command(['s'], 'dashboard', 'start/stop the container'),
  restart: command(['r'], 'dashboard', 'restart the container'),
  refresh: command(['R'], 'dashboard', 'recreate the container'),
  removeContainer: command(['x'], 'dashboard', 'remove the container'),
  toggleMode: command(['m'], 'dashboard', 'switch workspace/container'),
  logs: command(['l'], 'dashboard', 'container logs'),
  network: command(['N'], 'dashboard', 'hosts it may reach (egress)'),
  shell: command(['e'], 'dashboard', 'shell in the project'),
  buildImage: command(['B'], 'dashboard', 'build the workspace image'),
  filter: command(['/'], 'dashboard', 'filter projects by name'),
  switchPane: command(['tab'], 'everywhere', 'switch panes'),
  // o where nothing is typed; in the chat, whose input line takes o, Ctrl-O.
  attach: command(['o', 'ctrl+o'], 'everywhere', "the agent's own TUI"),
  help: command(['?'], 'dashboard', 'this help'),
  cancel: command(['escape'], 'chat', 'cancel the turn, else back'),
  newConversation: command(['ctrl+n'], 'chat', 'start a new conversation'),
  // Ctrl-U: the chat input types nothing on Ctrl (and has no readline kill-line), and no terminal or tmux takes it.
  withdrawQueued: command(['ctrl+u'], 'chat', 'take back the last queued'),
  // While the agent waits for an answer, the chat's input line gives way to these.
  allowOnce: command(['y'], 'request', 'allow the call once'),
  allowAlways: command(['a'], 'request', 'always, in this project'),
  deny: command(['n'], 'request', 'deny, with a message'),
  back: command(['escape', 'q'], 'logs', 'back to the dashboard'),
  follow: command(['f'], 'logs', 'follow the end'),
  quit: command(['q'], 'dashboard', 'quit'),
  interrupt: command(['ctrl+c'], 'everywhere', 'quit from any screen'),
} as const satisfies Record<string, CommandSpec>;

export type Command = keyof typeof COMMANDS;
export const COMMAND_NAMES = Object.keys(COMMANDS) as Command[];

/** Named keys; any other key is one printable character, case-sensitive. */
export const KEY_NAMES = [
  'enter', 'escape', 'tab', 'space', 'backspace', 'delete',
  'up', 'down', 'left', 'right', 'pageup', 'pagedown', 'home', 'end',
] as const;
export type KeyName = (typeof KEY_NAMES)[number];

/** One key as a binding names it: `k`, `G`, `enter`, `ctrl+c`, `shift+tab`. */
export interface KeySpec {
  /** A KeyName, or a single character. */
  key: string;
  ctrl: boolean;
  shift: boolean;
}

/** A printable ASCII character but the comma (it separates keys in a setting), or a key's name. */
const KEY_SPEC_PATTERN = /^(ctrl\+|shift\+)?([!-+\--~]|[a-z]+)$/;

/** `ctrl+c` → { key: 'c', ctrl: true }; undefined when the text names no key. */
export function parseKeySpec(text: string): KeySpec | undefined {
  const match = KEY_SPEC_PATTERN.exec(text);
  if (!match) return undefined;
  const [, modifier, key = ''] = match;
  if (key.length > 1 && !(KEY_NAMES as readonly string[]).includes(key)) return undefined;
  if (modifier === 'shift+' && key.length === 1) return undefined; // a shifted character is written as itself: G, not shift+g
  return { key, ctrl: modifier === 'ctrl+', shift: modifier === 'shift+' };
}

/** `"enter, c"` → two KeySpecs; throws a one-line message naming the bad key. */
export function parseKeyList(text: string): KeySpec[] {
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (parts.length === 0) throw new Error('no key given');
  return parts.map((part) => {
    const spec = parseKeySpec(part);
    if (!spec) throw new Error(`${JSON.stringify(part.slice(0, 20))} is not a key (a character, ${KEY_NAMES.join(', ')}, with ctrl+ or shift+)`);
    return spec;
  });
}

/** True when the key would type a character into a text input. */
export function typesText(spec: KeySpec): boolean {
  return !spec.ctrl && (spec.key.length === 1 || spec.key === 'space' || spec.key === 'backspace' || spec.key === 'delete');
}

/** Command → its keys, after the user's remapping. */
export type Keymap = Readonly<Record<Command, readonly KeySpec[]>>;

/** The default keymap, with `overrides` (command → key list text, from settings) applied. */
export function buildKeymap(overrides: Partial<Record<Command, string>> = {}): Keymap {
  const keymap = {} as Record<Command, KeySpec[]>;
  for (const name of COMMAND_NAMES) {
    const text = overrides[name] ?? COMMANDS[name].keys.join(',');
    keymap[name] = parseKeyList(text);
  }
  return keymap;
}

/** The commands of a context, in table order; `everywhere` commands are part of every context. */
export function commandsOf(context: KeyContext): Command[] {
  return COMMAND_NAMES.filter((name) => COMMANDS[name].context === context || COMMANDS[name].context === 'everywhere');
}
