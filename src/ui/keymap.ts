/**
 * From a terminal key (as Ink reports it) to a command of the keymap. The
 * keymap itself, its defaults and its remapping live in domain/keys.ts.
 */
import type { Key } from 'ink';
import { COMMANDS, commandsOf, typesText, type Command, type KeyContext, type KeySpec, type Keymap } from '../domain/keys.js';

/** The KeySpec an Ink key event stands for; undefined for keys berth binds nothing to. */
export function keySpecOf(input: string, key: Key): KeySpec | undefined {
  const named = (name: string): KeySpec => ({ key: name, ctrl: key.ctrl, shift: key.shift });
  if (key.upArrow) return named('up');
  if (key.downArrow) return named('down');
  if (key.leftArrow) return named('left');
  if (key.rightArrow) return named('right');
  if (key.pageUp) return named('pageup');
  if (key.pageDown) return named('pagedown');
  if (key.home) return named('home');
  if (key.end) return named('end');
  if (key.return) return named('enter');
  if (key.escape) return named('escape');
  if (key.tab) return named('tab');
  if (key.backspace) return named('backspace');
  if (key.delete) return named('delete');
  if (input === ' ') return { key: 'space', ctrl: false, shift: false };
  if (input.length === 1) return { key: input, ctrl: key.ctrl, shift: false };
  return undefined;
}

function sameKey(a: KeySpec, b: KeySpec): boolean {
  return a.key === b.key && a.ctrl === b.ctrl && (a.shift === b.shift || a.key.length === 1);
}

/**
 * The command a key runs in `context`, or undefined. With `textInput` (the
 * chat's input line has the focus) keys that type text are left to it.
 */
export function commandFor(keymap: Keymap, context: KeyContext, input: string, key: Key, textInput = false): Command | undefined {
  const pressed = keySpecOf(input, key);
  if (!pressed || (textInput && typesText(pressed))) return undefined;
  for (const command of commandsOf(context)) {
    if (keymap[command].some((bound) => sameKey(bound, pressed))) return command;
  }
  return undefined;
}

/** The keys of a command as the help and the hints show them: "Enter/c". */
export function keysLabel(keymap: Keymap, command: Command): string {
  return keymap[command].map(formatKey).join('/');
}

/** The first key of a command, for a short hint. */
export function firstKeyLabel(keymap: Keymap, command: Command): string {
  const first = keymap[command][0];
  return first ? formatKey(first) : '';
}

function formatKey(spec: KeySpec): string {
  const names: Record<string, string> = { enter: 'Enter', escape: 'Esc', tab: 'Tab', pageup: 'PgUp', pagedown: 'PgDn', space: 'Space', home: 'Home', end: 'End', backspace: 'Backspace', delete: 'Del' };
  const arrows: Record<string, string> = { up: '↑', down: '↓', left: '←', right: '→' };
  return `${spec.ctrl ? 'Ctrl-' : ''}${spec.shift ? 'Shift-' : ''}${arrows[spec.key] ?? names[spec.key] ?? spec.key}`;
}

export function describeCommand(command: Command): string {
  return COMMANDS[command].description;
}
