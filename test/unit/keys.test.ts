import type { Key } from 'ink';
import { describe, expect, it } from 'vitest';
import { buildKeymap, COMMAND_NAMES, commandsOf, parseKeyList, parseKeySpec } from '../../src/domain/keys.js';
import { checkSettings, keyOverrides, parseSettingText } from '../../src/domain/settings.js';
import { commandFor, keysLabel } from '../../src/ui/keymap.js';

const NO_KEY: Key = {
  upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false,
  return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false,
  super: false, hyper: false, capsLock: false, numLock: false,
};
const key = (change: Partial<Key> = {}): Key => ({ ...NO_KEY, ...change });

describe('key specs', () => {
  it('reads characters, named keys and modifiers', () => {
    expect(parseKeySpec('k')).toEqual({ key: 'k', ctrl: false, shift: false });
    expect(parseKeySpec('G')).toEqual({ key: 'G', ctrl: false, shift: false });
    expect(parseKeySpec('ctrl+c')).toEqual({ key: 'c', ctrl: true, shift: false });
    expect(parseKeySpec('shift+tab')).toEqual({ key: 'tab', ctrl: false, shift: true });
    expect(parseKeySpec('pagedown')).toEqual({ key: 'pagedown', ctrl: false, shift: false });
  });

  it('refuses what names no key', () => {
    for (const bad of ['', 'ctrl+', 'enterr', 'shift+g', 'alt+x', 'a b', 'ctrl+ctrl+c', '\u0000']) {
      expect(parseKeySpec(bad), bad).toBeUndefined();
    }
    expect(() => parseKeyList('enter,,  ')).not.toThrow();
    expect(() => parseKeyList(' , ')).toThrow(/no key/);
    expect(() => parseKeyList('enter,bogus')).toThrow(/"bogus" is not a key/);
  });
});

describe('the keymap', () => {
  it('binds every command by default, and each default key parses', () => {
    const keymap = buildKeymap();
    for (const name of COMMAND_NAMES) expect(keymap[name].length, name).toBeGreaterThan(0);
  });

  it('gives no two commands of one screen the same key', () => {
    const keymap = buildKeymap();
    for (const context of ['dashboard', 'chat', 'logs'] as const) {
      const seen = new Map<string, string>();
      for (const command of commandsOf(context)) {
        for (const spec of keymap[command]) {
          const id = `${spec.ctrl ? 'ctrl+' : ''}${spec.shift ? 'shift+' : ''}${spec.key}`;
          expect(seen.get(id), `${context}: ${id} is bound to ${seen.get(id)} and ${command}`).toBeUndefined();
          seen.set(id, command);
        }
      }
    }
  });

  it('matches Ink key events to commands in their screen only', () => {
    const keymap = buildKeymap();
    expect(commandFor(keymap, 'dashboard', 'j', key())).toBe('down');
    expect(commandFor(keymap, 'dashboard', '', key({ downArrow: true }))).toBe('down');
    expect(commandFor(keymap, 'dashboard', '\r', key({ return: true }))).toBe('openChat');
    expect(commandFor(keymap, 'dashboard', 'R', key({ shift: true }))).toBe('refresh');
    expect(commandFor(keymap, 'dashboard', 'r', key())).toBe('restart');
    expect(commandFor(keymap, 'dashboard', 'c', key({ ctrl: true }))).toBe('interrupt');
    expect(commandFor(keymap, 'logs', 'j', key())).toBeUndefined();
    expect(commandFor(keymap, 'logs', 'f', key())).toBe('follow');
  });

  it('leaves keys that type text to the chat input', () => {
    const keymap = buildKeymap();
    expect(commandFor(keymap, 'chat', 'q', key(), true)).toBeUndefined();
    expect(commandFor(keymap, 'chat', '', key({ escape: true }), true)).toBe('cancel');
    expect(commandFor(keymap, 'chat', '', key({ tab: true }), true)).toBe('switchPane');
    expect(commandFor(keymap, 'chat', 'c', key({ ctrl: true }), true)).toBe('interrupt');
    // Ctrl-U (0x15) takes back the last queued message; a plain u is typed.
    expect(commandFor(keymap, 'chat', 'u', key({ ctrl: true }), true)).toBe('withdrawQueued');
    expect(commandFor(keymap, 'chat', 'u', key(), true)).toBeUndefined();
    expect(commandFor(keymap, 'dashboard', 'u', key({ ctrl: true }))).toBeUndefined();
  });

  it('is remapped by the keys.* settings, which are validated like every setting', () => {
    const settings = checkSettings({ keys: { openChat: 'o,ctrl+o', quit: 'Q' } });
    const keymap = buildKeymap(keyOverrides(settings));
    expect(commandFor(keymap, 'dashboard', 'o', key())).toBe('openChat');
    expect(commandFor(keymap, 'dashboard', 'c', key())).toBeUndefined();
    expect(commandFor(keymap, 'dashboard', 'Q', key({ shift: true }))).toBe('quit');
    expect(keysLabel(keymap, 'openChat')).toBe('o/Ctrl-o');
    expect(() => parseSettingText('keys.openChat', 'enter,nope')).toThrow(/setting keys.openChat: "nope" is not a key/);
    expect(() => checkSettings({ 'keys.quit': 42 })).toThrow(/setting keys.quit/);
  });
});
