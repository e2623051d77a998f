import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMMANDS, usageOf } from '../../src/cli/command-table.js';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
import { useTempDirs } from '../helpers/temp.js';

describe('berth command line', () => {
  const tempDir = useTempDirs();

  it('prints the version of package.json', async () => {
    const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const result = await runBerth(['--version'], { home: await tempDir() });
    expect(result).toEqual({ exitCode: 0, stdout: `${manifest.version}\n`, stderr: '' });
  });

  it('lists every subcommand in --help, one line each', async () => {
    const result = await runBerth(['--help'], { home: await tempDir() });
    expect(result.exitCode).toBe(0);
    for (const command of COMMANDS) {
      // The usage column, whole: `daemon` is not `daemon status`.
      const usage = usageOf(command).replace(/^berth /, '');
      const lines = result.stdout.split('\n').filter((line) => line.trimStart().split(/\s{2,}/)[0] === usage);
      expect(lines, command.words.join(' ')).toHaveLength(1);
      expect(lines[0]).toContain(command.summary);
    }
  });

  it('gives help for one command', async () => {
    const result = await runBerth(['project', 'add', '--help'], { home: await tempDir() });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('Usage: berth project add <name> [--path DIR] [--mode workspace|container]');
  });

  it.each([
    [['frobnicate'], /^berth: unknown command "frobnicate": see berth --help\n$/],
    [['project'], /^berth: a subcommand is missing: berth project add\|ls\|show\|forget-rule\|rm\|set\|unset\n$/],
    [['project', 'list'], /^berth: unknown subcommand "list"/],
    [['project', 'ls', '--bogus'], /^berth: unknown option --bogus: berth project ls \[--json\]\n$/],
    [['project', 'add'], /^berth: usage: berth project add <name>/],
    [['project', 'add', 'a', 'b'], /^berth: usage: berth project add <name>/],
    [['project', 'add', 'a', '--path'], /^berth: option --path needs a value/],
  ])('exits 2 with a one-line usage error for %j', async (args, message) => {
    const result = await runBerth(args, { home: await tempDir() });
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
  });

  it('refuses to open the control center without a terminal', async () => {
    const result = await runBerth([], { home: await tempDir() });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^berth: the control center needs a terminal.*\n$/);
  });
});

describe('berth config', () => {
  const tempDir = useTempDirs();

  it('sets, gets and lists settings, storing only what was set', async () => {
    const home = await tempDir();
    expect(await runBerth(['config', 'set', 'policies.idleTimeout', '15m'], { home })).toMatchObject({
      exitCode: 0,
      stdout: 'policies.idleTimeout = 15m\n',
    });
    expect((await runBerth(['config', 'get', 'policies.idleTimeout'], { home })).stdout).toBe('15m\n');
    expect((await runBerth(['config', 'get', 'policies.maxRunning', '--json'], { home })).stdout).toBe('5\n');

    const listed = await runBerth(['config', 'list', '--json'], { home });
    const entries = JSON.parse(listed.stdout) as Array<{ key: string; value: unknown; source: string }>;
    expect(entries.find((entry) => entry.key === 'policies.idleTimeout')).toMatchObject({ value: '15m', source: 'set' });
    expect(entries.find((entry) => entry.key === 'policies.maxRunning')).toMatchObject({ value: 5, source: 'default' });

    const stored = JSON.parse(await readFile(path.join(home, 'settings.json'), 'utf8')) as unknown;
    expect(stored).toEqual({ policies: { idleTimeout: '15m' } });

    const table = await runBerth(['config', 'list'], { home });
    expect(table.stdout).toMatch(/policies\.idleTimeout\s+15m\s+60m\s+/);
  });

  it.each([
    [['config', 'set', 'policies.idleTimeout', 'soon'], /^berth: setting policies\.idleTimeout: expected a duration such as 30s, 15m, 2h or 7d, got "soon"\n$/],
    [['config', 'set', 'policies.maxRunning', '0'], /^berth: setting policies\.maxRunning: must be between 1 and 1000, got 0\n$/],
    [['config', 'set', 'claude.mountHostCli', 'maybe'], /^berth: setting claude\.mountHostCli: expected true or false/],
    [['config', 'set', 'no.such.key', '1'], /^berth: unknown setting "no\.such\.key": see berth config list\n$/],
    [['config', 'get', 'no.such.key'], /^berth: unknown setting "no\.such\.key"/],
  ])('refuses %j with the key named and the file unchanged', async (args, message) => {
    const home = await tempDir();
    await runBerth(['config', 'set', 'policies.maxRunning', '7'], { home });
    const before = await readFile(path.join(home, 'settings.json'), 'utf8');
    const result = await runBerth(args, { home });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(await readFile(path.join(home, 'settings.json'), 'utf8')).toBe(before);
  });

  it.each([
    ['a wrong type', '{"policies": {"maxRunning": "many"}}', /policies\.maxRunning: expected a whole number/],
    ['an unknown key', '{"policies": {"maxRuning": 3}}', /unknown setting "policies\.maxRuning"/],
    ['an out-of-range value', '{"policies": {"tick": "2h"}}', /policies\.tick: must be between 1s and 1h/],
    ['malformed JSON', '{"policies": ', /is not valid JSON/],
  ])('refuses a settings file with %s when it is loaded, naming the file, and keeps it', async (_what, content, message) => {
    const home = await tempDir();
    const file = path.join(home, 'settings.json');
    await writeFile(file, content);
    for (const args of [['config', 'list'], ['config', 'set', 'policies.warmPool', '1'], ['project', 'add', 'p']]) {
      const result = await runBerth(args, { home });
      expect(result.exitCode, args.join(' ')).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toContain(file);
    }
    expect(await readFile(file, 'utf8')).toBe(content);
  });
});

describe('start-up cost of --version and --help', () => {
  const tempDir = useTempDirs();

  /** The sources a command line loaded: the bundle's chunks it imported, read back through the bundle's metafile, and what it imported outside the bundle. */
  const sourcesLoadedBy = async (args: string[], exitCode = 0, setUp: (home: string) => Promise<unknown> = async () => undefined) => {
    const dir = await tempDir();
    await setUp(dir);
    const trace = path.join(dir, 'imports.txt');
    const tracer = fileURLToPath(new URL('../fixtures/trace-imports.mjs', import.meta.url));
    const result = await execa('node', ['--import', tracer, BERTH_BIN, ...args], { env: { BERTH_TRACE_IMPORTS: trace, BERTH_HOME: dir }, reject: false });
    expect(result.exitCode, result.stderr).toBe(exitCode);
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const meta = JSON.parse(await readFile(path.join(root, 'dist/bundle/meta.json'), 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
    const files = (await readFile(trace, 'utf8')).split('\n').filter((url) => url.startsWith('file://')).map((url) => path.relative(root, fileURLToPath(url)));
    return files.flatMap((file) => (meta.outputs[file] ? Object.keys(meta.outputs[file].inputs) : [file]));
  };

  it.each([['--version'], ['--help']])('%s loads neither ink, react, dockerode, execa nor conf', async (flag) => {
    const loaded = await sourcesLoadedBy([flag]);
    expect(loaded).toContain('dist/cli/main.js');
    expect(loaded.filter((source) => /node_modules\/(ink|react|dockerode|execa|conf)\//.test(source))).toEqual([]);
  });

  it('berth chat, a client of the daemon, loads neither the TUI, the engine, execa nor conf', async () => {
    // An empty message is refused where a daemon would be reached next: all the client loads is loaded.
    const loaded = await sourcesLoadedBy(['chat', 'web', ''], 1, (home) => execa('node', [BERTH_BIN, 'project', 'add', 'web'], { env: { BERTH_HOME: home } }));
    expect(loaded).toContain('dist/cli/chat-commands.js');
    expect(loaded).toContain('dist/agents/claude/claude-adapter.js');
    expect(loaded.filter((source) => /node_modules\/(ink|react|dockerode|execa|conf)\//.test(source))).toEqual([]);
  });

  it('the project commands do not load the TUI or the engine either; project ls, a reader, not even the lock', async () => {
    const listed = await sourcesLoadedBy(['project', 'ls']);
    expect(listed).toContain('dist/cli/project-list-command.js');
    expect(listed.filter((source) => /node_modules\/(ink|react|dockerode|execa|conf|write-file-atomic)\/|dist\/store\/file-lock\.js|dist\/services\//.test(source))).toEqual([]);
    const added = await sourcesLoadedBy(['project', 'add', 'web']);
    expect(added).toContain('dist/cli/project-commands.js');
    expect(added).toContain('dist/store/file-lock.js');
    expect(added.filter((source) => /node_modules\/(ink|react|dockerode)\//.test(source))).toEqual([]);
  });
});
