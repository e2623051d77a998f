import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../helpers/temp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the packed package', () => {
  const tempDir = useTempDirs();

  it('runs with npx from its tarball, carrying docker/ and the bundled CLI', async () => {
    const destination = await tempDir('berth-pack-');
    const manifest = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
    const packed = await execa('npm', ['pack', '--json', '--pack-destination', destination], { cwd: root });
    const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string; files: Array<{ path: string }> }];
    const paths = files.map((file) => file.path);
    expect(paths).toEqual(expect.arrayContaining(['bin/berth.js', 'dist/bundle/main.js', 'docker/Dockerfile', 'docker/healthcheck.sh']));
    // The bundle is what runs: neither the sources nor tsc's output (dist/ outside the bundle) are shipped.
    expect(paths.filter((file) => file.startsWith('src/') || file.startsWith('test/') || (file.startsWith('dist/') && !file.startsWith('dist/bundle/')))).toEqual([]);

    // A cache of its own, so that npx installs from the tarball as a new user would.
    const cache = await tempDir('berth-npm-cache-');
    const run = (args: string[]) =>
      execa('npx', ['--yes', '--cache', cache, `./${filename}`, ...args], { cwd: destination, env: { BERTH_HOME: destination } });
    expect((await run(['--version'])).stdout).toBe(manifest.version);
    expect((await run(['--help'])).stdout).toContain('project add <name>');
  }, 300_000);
});
