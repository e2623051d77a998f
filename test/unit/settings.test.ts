import { describe, expect, it } from 'vitest';
import { checkSettings, defaultSettings, parseSettingText, SETTING_KEYS } from '../../src/domain/settings.js';

describe('settings schema', () => {
  it('has a valid default for every key', () => {
    expect(checkSettings({})).toEqual(defaultSettings());
    for (const key of SETTING_KEYS) expect(() => parseSettingText(key, String(defaultSettings()[key]))).not.toThrow();
  });

  it('turns command-line text into typed values', () => {
    expect(parseSettingText('policies.idleTimeout', '15m')).toBe('15m');
    expect(parseSettingText('policies.maxRunning', '8')).toBe(8);
    expect(parseSettingText('container.cpus', '1.5')).toBe(1.5);
    expect(parseSettingText('claude.mountHostCli', 'true')).toBe(true);
    expect(parseSettingText('policies.workspaceMaxAge', 'off')).toBe('off');
    expect(parseSettingText('container.memory', '512m')).toBe('512m');
  });

  it.each([
    ['policies.idleTimeout', '15', /policies\.idleTimeout: expected a duration such as 30s, 15m, 2h or 7d, got "15"/],
    ['policies.idleTimeout', 'off', /policies\.idleTimeout: expected a duration/],
    ['policies.tick', '2h', /policies\.tick: must be between 1s and 1h/],
    ['policies.maxRunning', '0', /policies\.maxRunning: must be between 1 and 1000, got 0/],
    ['policies.maxRunning', '2.5', /policies\.maxRunning: expected a whole number/],
    ['policies.maxRunning', 'five', /policies\.maxRunning: expected a whole number, got "five"/],
    ['container.memory', '10m', /container\.memory: must be between 256m and 1024g/],
    ['claude.mountHostCli', 'yes', /claude\.mountHostCli: expected true or false/],
    ['defaults.mode', 'vm', /defaults\.mode: expected one of workspace, container/],
    ['claude.model', 'sonnet; rm -rf /', /claude\.model: expected a model name/],
    ['nope', '1', /unknown setting "nope"/],
    ['policies', '1', /unknown setting "policies"/],
  ])('refuses %s = %j naming the key', (key, text, message) => {
    expect(() => parseSettingText(key, text)).toThrow(message);
  });

  it('validates a loaded file: nested keys, types, ranges and unknown keys', () => {
    expect(checkSettings({ policies: { idleTimeout: '2h', maxRunning: 3 } })).toMatchObject({
      'policies.idleTimeout': '2h',
      'policies.maxRunning': 3,
    });
    expect(() => checkSettings({ policies: { maxRunning: '3' } })).toThrow(/policies\.maxRunning: expected a whole number/);
    expect(() => checkSettings({ policies: { idleTimeout: 60 } })).toThrow(/policies\.idleTimeout: expected a duration/);
    expect(() => checkSettings({ policies: { surprise: true } })).toThrow(/unknown setting "policies\.surprise"/);
    expect(() => checkSettings({ container: { pids: 1 } })).toThrow(/container\.pids: must be between 64/);
  });
});
