/**
 * Bad input where it enters berth: settings values (berth's and a project's),
 * workspace paths and chat messages, each fed hostile values (traversal, shell
 * metacharacters, very long strings, unicode look-alikes, control characters).
 * Each is refused with one clear line, and nothing on disk changes.
 * (Project names have their own suite in cli-projects.test.ts.)
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBerth } from '../helpers/berth-cli.js';
import { snapshotTree, useTempDirs } from '../helpers/temp.js';

const tempDir = useTempDirs();

const SHELL = ['$(touch pwned)', '`touch pwned`', 'x;touch pwned', 'x && touch pwned', 'x|touch pwned'];
const LONG = 'a'.repeat(5000);

/** Setting → hostile values, each of which its schema must refuse. */
const HOSTILE_SETTINGS: Record<string, string[]> = {
  'container.image': ['../../etc/passwd', 'Image:Latest', 'ｂｅｒｔｈ', LONG, ...SHELL],
  engine: ['http://evil.example', 'unix:///tmp/x sock', 'file:///etc/passwd', LONG, ...SHELL],
  'claude.model': ['sonnet;id', 'sonnet with spaces', LONG, ...SHELL],
  'claude.apiKeyFile': ['relative/key', '../key', `/${LONG}`.repeat(2), 'key\nfile'],
  'container.memory': ['-1g', '1g;id', '１g', '99999g', '1gb', '0'],
  'container.cpus': ['-1', 'NaN', 'Infinity', '1e9', '２'],
  'policies.idleTimeout': ['-5m', '1.5h', '１m', '5m;id', '0s', '1y'],
  'policies.maxRunning': ['0', '-1', '1.5', '1e3', '５'],
  'claude.permissionMode': ['root', 'bypassPermissions;id', 'ACCEPTEDITS'],
  'keys.openChat': ['', ',', 'ctrl+', 'alt+x', 'enter,bogus', '\u001b[A', 'ｅnter'],
  'container.readOnlyRoot': ['yes', '1', 'TRUE', ''],
  'net.allow': ['../../etc/passwd', 'http://github.com', 'аpi.github.com', 'a_b.com', 'github.com:99999', '*.com', LONG, ...SHELL],
  'network.subnetPool': ['10.0.0.0/8', '10.239.0.0', '999.0.0.0/16', 'fd00::/64', ...SHELL],
};

describe('hostile setting values', () => {
  it.each(Object.entries(HOSTILE_SETTINGS))('refuses every hostile value of %s in one line, and the settings file stays as it was', async (key, values) => {
    const home = await tempDir();
    await runBerth(['config', 'set', 'policies.maxRunning', '3'], { home });
    const before = await snapshotTree(home);
    for (const value of values) {
      // `--`: a value starting with a dash is a value, not an option.
      const result = await runBerth(['config', 'set', '--', key, value], { home });
      expect(result.exitCode, `${key} = ${JSON.stringify(value)}`).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr, `${key} = ${JSON.stringify(value)}`).toMatch(new RegExp(`^berth: setting ${key.replace('.', '\\.')}: .*\\n$`));
      expect(result.stderr.length).toBeLessThan(400);
    }
    // Also: no `pwned` file, from any of the shell metacharacters.
    expect(await snapshotTree(home)).toEqual(before);
  });

  it("refuses them as a project's overrides too, and a key a project may not override", async () => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'app'], { home });
    const before = await snapshotTree(home);
    for (const [key, value] of [['container.memory', '-1g'], ['claude.model', 'x;id'], ['container.image', '../x'], ['engine', 'tcp://evil:1']] as const) {
      const result = await runBerth(['project', 'set', '--', 'app', key, value], { home });
      expect(result.exitCode, `${key} ${value}`).toBe(1);
      expect(result.stderr.trim().split('\n'), `${key} ${value}`).toHaveLength(1);
    }
    expect(await snapshotTree(home)).toEqual(before);
  });
});

describe('hostile allowlist entries', () => {
  it('berth net refuses each in one line, and nothing changes', async () => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'app'], { home });
    const before = await snapshotTree(home);
    const entries = ['../../etc/passwd', 'http://evil.example', 'аpi.github.com', 'ｇithub.com', 'x:0', `${'a'.repeat(300)}.com`, ...SHELL];
    for (const entry of entries) {
      for (const verb of ['allow', 'deny']) {
        const result = await runBerth(['net', 'app', verb, '--', entry], { home });
        expect(result.exitCode, `${verb} ${entry}`).toBe(1);
        expect(result.stderr.trim().split('\n'), `${verb} ${entry}`).toHaveLength(1);
        expect(result.stderr).toMatch(/allowlist entry/);
      }
    }
    expect((await runBerth(['net', 'nope', 'allow', 'github.com'], { home })).stderr).toMatch(/^berth: no project named "nope"/);
    expect((await runBerth(['net', 'app', 'permit', 'github.com'], { home })).stderr).toMatch(/unknown action "permit"/);
    expect((await runBerth(['net', 'app', 'allow'], { home })).stderr).toMatch(/needs a host/);
    expect(await snapshotTree(home)).toEqual(before);
  });
});

describe('hostile workspace paths', () => {
  it('refuses traversal to nowhere, a file, the root, a newline and a name too long, each in one line', async () => {
    const home = await tempDir();
    const file = path.join(home, 'a-file');
    await writeFile(file, '');
    const before = await snapshotTree(home);
    const paths = [
      path.join(home, '..', '..', 'no', 'such', 'place'),
      file,
      '/',
      `${home}/line\nbreak`,
      `/${'x'.repeat(300)}/${'y'.repeat(5000)}`,
      '',
    ];
    for (const [index, given] of paths.entries()) {
      const result = await runBerth(['project', 'add', `p${index}`, '--path', given], { home });
      expect(result.exitCode, JSON.stringify(given)).toBe(1);
      expect(result.stderr, JSON.stringify(given)).toMatch(/^berth: [^\n]+\n$/);
      expect(result.stderr.length, JSON.stringify(given)).toBeLessThan(400);
    }
    expect(await snapshotTree(home)).toEqual(before);
  });
});

describe('hostile chat messages', () => {
  it('refuses an empty message, a NUL inside one, and one too long for a command line, before any turn starts', async () => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'app'], { home });
    const before = await snapshotTree(home);
    const cases: Array<[string[], string | undefined, RegExp]> = [
      [['chat', 'app', '   '], undefined, /^berth: the message is empty/],
      [['chat', 'app'], 'hello\0world\n', /^berth: the message contains a NUL character/],
      // Through stdin: an argument that long would not even reach berth.
      [['chat', 'app'], `${'x'.repeat(128 * 1024)}\n`, /^berth: the message is too long for a command line \(131072 bytes, at most 131071\)/],
    ];
    for (const [args, input, message] of cases) {
      const result = await runBerth(args, { home, ...(input !== undefined && { input }), env: { ANTHROPIC_API_KEY: 'unused', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' } });
      expect(result.exitCode, args.slice(0, 2).join(' ')).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    // No transcript, no audit line, no usage: nothing started.
    expect(await snapshotTree(home)).toEqual(before);
  });
});
