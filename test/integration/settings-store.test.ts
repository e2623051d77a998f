/**
 * `berth config set` and `unset` against the real settings file: under the
 * lock, so that berth processes setting keys at once keep every one; and a file
 * with one bad value repaired by setting or unsetting that key, while every
 * other command still refuses it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBerth } from '../helpers/berth-cli.js';
import { useTempDirs } from '../helpers/temp.js';

const tempDir = useTempDirs();

const TEN_KEYS: Record<string, string> = {
  'container.cpus': '3',
  'container.pids': '1000',
  'container.nofile': '5000',
  'container.nproc': '1000',
  'container.memory': '1g',
  'claude.model': 'opus',
  'policies.maxRunning': '3',
  'policies.warmPool': '2',
  'policies.maxCommit': '50',
  'limits.dailyUsd': '7',
};

async function setValues(home: string): Promise<Record<string, unknown>> {
  const result = await runBerth(['config', 'list', '--json'], { home });
  expect(result.stderr).toBe('');
  const entries = JSON.parse(result.stdout) as Array<{ key: string; value: unknown; source: string }>;
  return Object.fromEntries(entries.filter((entry) => entry.source === 'set').map((entry) => [entry.key, String(entry.value)]));
}

describe('berth config set, unset', () => {
  it('keeps all of ten keys set at once by ten berth processes', async () => {
    const home = await tempDir();
    const results = await Promise.all(Object.entries(TEN_KEYS).map(([key, value]) => runBerth(['config', 'set', key, value], { home })));
    for (const result of results) expect(result, result.stderr).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await setValues(home)).toEqual(TEN_KEYS);
  });

  it('drops a value with unset, so its default applies, and refuses an unknown key in one line', async () => {
    const home = await tempDir();
    await runBerth(['config', 'set', 'policies.maxRunning', '3'], { home });
    await runBerth(['config', 'set', 'claude.model', 'opus'], { home });
    expect(await runBerth(['config', 'unset', 'policies.maxRunning'], { home })).toEqual({ exitCode: 0, stdout: 'policies.maxRunning = 5 (the default)\n', stderr: '' });
    expect(await setValues(home)).toEqual({ 'claude.model': 'opus' });
    const before = await readFile(path.join(home, 'settings.json'), 'utf8');
    expect(await runBerth(['config', 'unset', 'colour'], { home })).toEqual({ exitCode: 1, stdout: '', stderr: 'berth: unknown setting "colour": see berth config list\n' });
    expect(await readFile(path.join(home, 'settings.json'), 'utf8')).toBe(before);
  });

  describe('a settings file with one bad value', () => {
    const badFile = (home: string) =>
      writeFile(path.join(home, 'settings.json'), JSON.stringify({ policies: { maxRunning: 0 }, claude: { model: 'opus' } }));

    it('is refused in one line by every other command, and changed by none', async () => {
      const home = await tempDir();
      await badFile(home);
      const before = await readFile(path.join(home, 'settings.json'), 'utf8');
      for (const args of [['config', 'list'], ['config', 'get', 'claude.model'], ['config', 'set', 'policies.tick', '10s'], ['config', 'unset', 'claude.model']]) {
        const result = await runBerth(args, { home });
        expect(result.exitCode, args.join(' ')).toBe(1);
        expect(result.stderr, args.join(' ')).toMatch(/^berth: settings file .*settings\.json: setting policies\.maxRunning: must be between 1 and 1000, got 0\n$/);
      }
      expect(await readFile(path.join(home, 'settings.json'), 'utf8')).toBe(before);
    });

    it('is repaired by setting that key to a good value', async () => {
      const home = await tempDir();
      await badFile(home);
      expect(await runBerth(['config', 'set', 'policies.maxRunning', '4'], { home })).toEqual({ exitCode: 0, stdout: 'policies.maxRunning = 4\n', stderr: '' });
      expect(await setValues(home)).toEqual({ 'policies.maxRunning': '4', 'claude.model': 'opus' });
    });

    it('is repaired by unsetting that key', async () => {
      const home = await tempDir();
      await badFile(home);
      expect((await runBerth(['config', 'unset', 'policies.maxRunning'], { home })).exitCode).toBe(0);
      expect(await setValues(home)).toEqual({ 'claude.model': 'opus' });
    });

    it('is repaired by unsetting a key berth does not know', async () => {
      const home = await tempDir();
      await writeFile(path.join(home, 'settings.json'), JSON.stringify({ colour: 'red', claude: { model: 'opus' } }));
      expect((await runBerth(['config', 'list'], { home })).stderr).toMatch(/unknown setting "colour"/);
      expect(await runBerth(['config', 'unset', 'colour'], { home })).toEqual({ exitCode: 0, stdout: 'colour removed\n', stderr: '' });
      expect(await setValues(home)).toEqual({ 'claude.model': 'opus' });
    });
  });
});

describe('the settings read once per change of the file', () => {
  it('answers from memory while the file is unchanged, and reads it again once another process changed it', async () => {
    const { SettingsStore } = await import('../../src/store/settings-store.js');
    const home = await tempDir();
    const store = new SettingsStore(home);
    const first = store.load();
    expect(store.load()).toBe(first);
    // Another berth process (a new store on the same file) changes a setting.
    await new SettingsStore(home).set('chat.sessionIdle', '2m');
    const after = store.load();
    expect(after).not.toBe(first);
    expect(after['chat.sessionIdle']).toBe('2m');
    expect(store.load()).toBe(after);
    // A hand edit too.
    await writeFile(path.join(home, 'settings.json'), JSON.stringify({ chat: { sessionIdle: '3m' } }));
    expect(store.load()['chat.sessionIdle']).toBe('3m');
  });

  it('reads a file of null as no settings, and refuses one that holds no object, or no JSON, in one line naming it', async () => {
    const home = await tempDir();
    const file = path.join(home, 'settings.json');
    await writeFile(file, 'null');
    expect((await runBerth(['config', 'get', 'chat.sessionIdle'], { home })).stdout.trim()).toBe('15m');
    for (const [content, problem] of [['[1, 2]', 'holds no JSON object of settings'], ['{"chat": ', 'is not valid JSON']] as const) {
      await writeFile(file, content);
      const result = await runBerth(['config', 'get', 'chat.sessionIdle'], { home });
      expect(result.exitCode).toBe(1);
      expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^berth: settings file ${file} ${problem}`))]);
      expect(await readFile(file, 'utf8')).toBe(content);
    }
  });
});
