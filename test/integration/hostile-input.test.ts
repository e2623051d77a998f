/**
 * Bad input where it enters berth: settings values (berth's and a project's),
 * workspace paths and chat messages, each fed hostile values (traversal, shell
 * metacharacters, very long strings, unicode look-alikes, control characters).
 * Each is refused with one clear line, and nothing on disk changes.
 * (Project names have their own suite in cli-projects.test.ts.)
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBerth } from '../helpers/berth-cli.js';
import { createDockerClient, describeWithDocker, removeBerthContainers } from '../helpers/engine.js';
import { snapshotTree, useTempDirs } from '../helpers/temp.js';
import { WORKSPACE_IMAGE_BUILD_TIMEOUT_MS, ensureWorkspaceImage } from '../helpers/workspace-image.js';

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

describe('allowlist entries berth never connects to', () => {
  it('berth net allow refuses each in one line saying why, and nothing changes; deny takes them', async () => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'app'], { home });
    const before = await snapshotTree(home);
    const never = 'berth never connects there';
    const cases: Array<[string, RegExp]> = [
      ['localhost', /localhost is this machine/],
      ['localhost:8080', /localhost is this machine/],
      ['127.0.0.1', /127\.0\.0\.1 is this machine's loopback/],
      ['127.1', /127\.0\.0\.1 written another way, this machine's loopback/],
      ['169.254.169.254', /link-local address \(cloud metadata lives there\)/],
      ['metadata.google.internal', /metadata\.google\.internal is a cloud's metadata service/],
      ['0.0.0.0', /unspecified/],
      ['10.239.0.5', /10\.239\.0\.5 is in berth's own networks \(10\.239\.0\.0\/16, network\.subnetPool\)/],
      ['0x7f000001', /127\.0\.0\.1 written another way/],
      ['2130706433', /127\.0\.0\.1 written another way/],
      ['0177.0.0.1', /127\.0\.0\.1 written another way/],
      ['017700000001', /127\.0\.0\.1 written another way/],
      ['127.000.000.001', /127\.0\.0\.1 written another way/],
    ];
    for (const [entry, reason] of cases) {
      const result = await runBerth(['net', 'app', 'allow', '--', entry], { home });
      expect(result.exitCode, entry).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr, entry).toMatch(new RegExp(`^berth: allowlist entry "${entry.replace(/\./g, '\\.')}": [^\n]*: ${never}\n$`));
      expect(result.stderr, entry).toMatch(reason);
    }
    expect(await snapshotTree(home)).toEqual(before);
    // Another pool: its addresses are berth's own now.
    expect((await runBerth(['config', 'set', 'network.subnetPool', '172.30.0.0/16'], { home })).exitCode).toBe(0);
    expect((await runBerth(['net', 'app', 'allow', '172.30.4.4'], { home })).stderr).toMatch(/172\.30\.0\.0\/16, network\.subnetPool/);
    // Denying one is harmless, and allowed.
    expect((await runBerth(['net', 'app', 'deny', 'localhost'], { home })).exitCode).toBe(0);
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

describe('system and special folders as --path', () => {
  const SYSTEM = ['/etc', '/usr', '/bin', '/boot', '/dev', '/proc', '/sys', '/var', '/root', '/sbin', '/lib', '/run', '/tmp', '/var/tmp', '/usr/local/bin', '/etc/ssh'];
  // Were one of them git-inited by a broken berth, this machine is put back as it was.
  const hadGit = new Map(SYSTEM.map((folder) => [folder, existsSync(path.join(folder, '.git'))]));
  afterAll(async () => {
    for (const [folder, had] of hadGit) if (!had) await rm(path.join(folder, '.git'), { recursive: true, force: true });
  });

  it('refuses each in one line naming the reason, creating and git-initing nothing', async () => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'existing'], { home });
    await mkdir(path.join(home, 'inside'));
    const links = await tempDir('berth-links-');
    await symlink('/etc', path.join(links, 'etc-link'));
    await symlink(home, path.join(links, 'home-link'));
    const before = await snapshotTree(home);
    const cases: Array<[string, RegExp]> = [
      ...SYSTEM.filter((folder) => existsSync(folder)).map((folder): [string, RegExp] => [folder, /(is|is inside \/\w+,) a system folder|is your home folder/]),
      [homedir(), /is your home folder \(a folder inside it may be a workspace\)\n$/],
      [home, /is berth's data folder\n$/],
      [path.join(home, 'inside'), /is inside berth's data folder /],
      [path.join(home, 'workspaces', 'existing'), /is inside berth's data folder /],
      [path.join(links, 'etc-link'), /^berth: ".*etc-link" cannot be a workspace: \/etc is a system folder\n$/],
      [path.join(links, 'home-link'), /cannot be a workspace: .* is berth's data folder\n$/],
    ];
    for (const [given, reason] of cases) {
      const result = await runBerth(['project', 'add', 'new', '--path', given], { home });
      expect(result.exitCode, given).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr, given).toMatch(new RegExp(`^berth: ${JSON.stringify(given).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} cannot be a workspace: [^\n]+\n$`));
      expect(result.stderr, given).toMatch(reason);
    }
    expect(await snapshotTree(home)).toEqual(before);
    for (const [folder, had] of hadGit) expect(existsSync(path.join(folder, '.git')), folder).toBe(had);
    // A folder holding berth's data: the agent could change berth's registry and settings from it.
    const outer = await tempDir('berth-outer-');
    const held = await runBerth(['project', 'add', 'new', '--path', outer], { home: path.join(outer, 'data'), cwd: outer });
    expect(held).toMatchObject({ exitCode: 1, stderr: `berth: "${outer}" cannot be a workspace: ${outer} holds berth's data folder ${path.join(outer, 'data')}\n` });
    expect(existsSync(path.join(outer, '.git'))).toBe(false);
  });

  it('takes a folder inside the home folder, /tmp or /var/tmp', async () => {
    const home = await tempDir();
    const folders = [await mkdtemp(path.join(homedir(), '.berth-test-')), await mkdtemp('/var/tmp/berth-test-'), await tempDir('berth-inside-tmp-')];
    try {
      for (const [index, folder] of folders.entries()) {
        const result = await runBerth(['project', 'add', `p${index}`, '--path', folder], { home });
        expect(result, result.stderr).toMatchObject({ exitCode: 0, stderr: '' });
        expect(existsSync(path.join(folder, '.git'))).toBe(true);
      }
    } finally {
      await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
    }
  });
});

/** A registry written by hand, as an adversary (or a slip of the hand) would. */
async function writeRegistry(home: string, projects: Array<Record<string, unknown>>): Promise<void> {
  const full = projects.map((project) => ({ mode: 'workspace', ownsWorkspace: true, createdAt: '2026-01-01T00:00:00.000Z', lastActive: null, state: 'ready', ...project }));
  await writeFile(path.join(home, 'projects.json'), JSON.stringify({ version: 1, projects: full }, null, 2));
}

describe('a registry edited by hand', () => {
  it.each([
    ['/', /projects\[0\]\.path is the root folder/],
    ['/srv/app\n/etc', /projects\[0\]\.path has control characters/],
    ['/srv/app\u001b]52;c;cHduZWQ=\u0007', /projects\[0\]\.path has control characters/],
    ['/srv/app/../../etc', /projects\[0\]\.path is not in normal form/],
  ])('refuses the path %j in one line, and leaves the file as it is', async (workspace, reason) => {
    const home = await tempDir();
    await writeRegistry(home, [{ name: 'app', path: workspace }]);
    const before = await snapshotTree(home);
    for (const args of [['project', 'ls'], ['project', 'rm', 'app', '--purge'], ['up', 'app']]) {
      const result = await runBerth(args, { home });
      expect(result.exitCode, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toMatch(/^berth: project registry .* is corrupted \(.*\); berth left it as it is: repair it or move it away\n$/);
      expect(result.stderr).toMatch(reason);
    }
    expect(await snapshotTree(home)).toEqual(before);
  });

  it('never lets --purge delete a host tree marked as a workspace berth created', async () => {
    const home = await tempDir();
    const tree = await tempDir('berth-host-tree-');
    await writeFile(path.join(tree, 'precious.txt'), 'keep me');
    await writeRegistry(home, [{ name: 'tree', path: tree }]);
    const result = await runBerth(['project', 'rm', 'tree', '--purge'], { home });
    expect(result).toMatchObject({ exitCode: 0, stderr: '' });
    expect(result.stdout).toContain(`kept ${tree}: berth did not create it`);
    expect(await readFile(path.join(tree, 'precious.txt'), 'utf8')).toBe('keep me');
  });

  it.skipIf(process.getuid?.() !== 0)("never lets --purge delete through a host tree bind-mounted on a workspace's folder", async () => {
    const home = await tempDir();
    const tree = await tempDir('berth-host-tree-');
    await writeFile(path.join(tree, 'precious.txt'), 'keep me');
    await runBerth(['project', 'add', 'mounted'], { home });
    const workspace = path.join(home, 'workspaces', 'mounted');
    await execa('mount', ['--bind', tree, workspace]);
    try {
      const result = await runBerth(['project', 'rm', 'mounted', '--purge'], { home });
      expect(result).toMatchObject({ exitCode: 0, stderr: '' });
      expect(result.stdout).toContain(`kept ${workspace}: berth did not create it`);
      expect(await readFile(path.join(tree, 'precious.txt'), 'utf8')).toBe('keep me');
    } finally {
      await execa('umount', [workspace]);
    }
  });
});

describeWithDocker('a registry edited by hand, and a container run as root', () => {
  const homes: string[] = [];
  let docker: Docker;
  let image: string;

  beforeAll(async () => {
    docker = createDockerClient();
    image = await ensureWorkspaceImage(docker);
  }, WORKSPACE_IMAGE_BUILD_TIMEOUT_MS);

  // berth project rm removed them; these are what a failed test left (containers on the trees and homes, their networks).
  afterAll(() => removeBerthContainers(docker, homes));

  async function homeWithImage(): Promise<string> {
    const home = await tempDir();
    homes.push(home);
    expect((await runBerth(['config', 'set', 'container.image', image], { home })).exitCode).toBe(0);
    return home;
  }

  it.skipIf(process.getuid?.() !== 0)('berth up leaves the owner of every file of a host tree marked as a workspace berth created', async () => {
    const home = await homeWithImage();
    const tree = await tempDir('berth-host-tree-');
    homes.push(tree);
    await mkdir(path.join(tree, 'src'));
    await writeFile(path.join(tree, 'src', 'main.txt'), 'v1\n');
    // Through a link in berth's workspaces folder too: the link is not the folder berth made.
    const linked = await tempDir('berth-host-tree-');
    homes.push(linked);
    await writeFile(path.join(linked, 'notes.txt'), 'mine\n');
    await mkdir(path.join(home, 'workspaces'), { recursive: true });
    await symlink(linked, path.join(home, 'workspaces', 'linked'));
    await writeRegistry(home, [
      { name: 'tree', path: tree, mode: 'container', state: 'none' },
      { name: 'linked', path: path.join(home, 'workspaces', 'linked'), mode: 'container', state: 'none' },
    ]);
    try {
      for (const [name, folder] of [['tree', tree], ['linked', linked]] as const) {
        const up = await runBerth(['up', name], { home });
        expect(up.exitCode, up.stderr).toBe(0);
        for (const file of [folder, ...(name === 'tree' ? [path.join(tree, 'src'), path.join(tree, 'src', 'main.txt')] : [path.join(linked, 'notes.txt')])]) {
          expect((await stat(file)).uid, file).toBe(0);
        }
        expect(up.stderr).toContain('is not a workspace berth created: its files keep their owner');
      }
    } finally {
      for (const name of ['tree', 'linked']) await runBerth(['project', 'rm', name], { home });
    }
  });

  it("berth up refuses, in one line, to mount a system folder, the user's home or berth's own folder, creating nothing", async () => {
    const home = await homeWithImage();
    await chmod(home, 0o700);
    await writeRegistry(home, [
      { name: 'etc', path: '/etc', mode: 'container', state: 'none' },
      { name: 'home', path: homedir(), mode: 'container', state: 'none', ownsWorkspace: false },
      { name: 'data', path: home, mode: 'container', state: 'none' },
    ]);
    for (const [name, reason] of [['etc', /\/etc is a system folder/], ['home', /is your home folder/], ['data', /is berth's data folder/]] as const) {
      const up = await runBerth(['up', name], { home });
      expect(up.exitCode, name).toBe(1);
      expect(up.stderr, name).toMatch(new RegExp(`^berth: workspace .* of project ${name} cannot be mounted: [^\n]*\n$`));
      expect(up.stderr, name).toMatch(reason);
      expect(await docker.listContainers({ all: true, filters: { label: [`berth.project=${name}`, `berth.workspace=${name === 'data' ? home : name === 'etc' ? '/etc' : homedir()}`] } })).toEqual([]);
    }
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
