// A full disk, for real: berth's data folder is a 64 KiB tmpfs, filled up
// with a file. Each write berth makes to its files then fails in one line
// that names the file, and changes nothing: the file is left whole, and no
// temporary file or lock is left beside it. Full to the last page, the lock
// cannot be taken; with one page free, the lock is, and the file's own write fails.
import { execa } from 'execa';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/store/audit-log.js';
import { SpendLedger } from '../../src/store/spend-ledger.js';
import { TranscriptStore, parseTranscript } from '../../src/store/transcripts.js';
import { runBerth, runBerthSteps } from '../helpers/berth-cli.js';

const FULL = 'no space left on device';

describe.skipIf(process.getuid?.() !== 0)('a full disk under BERTH_HOME', () => {
  let home: string | undefined;
  let repos: string | undefined;
  let mounted = false;
  const berth = (args: string[]) => runBerth(args, { home: home! });
  /** What berth keeps in its folder, each file with its content. */
  const files = async () => {
    const names = (await readdir(home!, { recursive: true })).filter((name) => name !== 'filler').sort();
    return Promise.all(names.map(async (name) => [name, await readFile(path.join(home!, name), 'utf8').catch(() => '(folder)')]));
  };

  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'berth-full-'));
    repos = await mkdtemp(path.join(tmpdir(), 'berth-full-repos-'));
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', home]);
    mounted = true;
    // Workspaces of their own elsewhere, repositories already: adding one writes only berth's files.
    for (const name of ['first', 'second']) await execa('git', ['init', '-q', path.join(repos, name)]);
    await runBerthSteps(berth, [
      ['project', 'add', 'first', '--path', path.join(repos, 'first')],
      ['config', 'set', 'policies.maxRunning', '4'],
    ]);
    await fill(0);
  });

  /** Fills the disk with `filler`, but for `pages` of 4 KiB (tmpfs gives files whole pages). */
  async function fill(pages: number): Promise<void> {
    const filler = path.join(home!, 'filler');
    await writeFile(filler, Buffer.alloc(64 * 1024)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOSPC') throw error;
    });
    await truncate(filler, (await stat(filler)).size - pages * 4096);
  }

  afterAll(async () => {
    if (mounted) await execa('umount', [home!]);
    if (home) await rm(home, { recursive: true, force: true });
    if (repos) await rm(repos, { recursive: true, force: true });
  });

  const commands: Array<[string, () => string[], string]> = [
    ['project add', () => ['project', 'add', 'second', '--path', path.join(repos!, 'second')], 'projects.json'],
    ['config set', () => ['config', 'set', 'policies.maxRunning', '3'], 'settings.json'],
  ];
  it.each(
    [0, 1].flatMap((pages) => commands.map(([what, args, file]) => ({ state: pages === 0 ? 'full' : 'full but for the lock', pages, what, args, file }))),
  )('$state: berth $what names $file, which stays as it was', async ({ pages, args, file }) => {
    await fill(pages);
    const before = await files();
    expect(await berth(args())).toEqual({ exitCode: 1, stdout: '', stderr: `berth: cannot write ${path.join(home!, file)}: ${FULL}\n` });
    expect(await files()).toEqual(before);
  });

  it('the audit log and the spend ledger name their file, and keep no line cut short', async () => {
    await fill(0);
    const before = await files();
    const audit = path.join(home!, 'audit.jsonl');
    // The start of a long line fits in what is left of the log's last page: it is taken back.
    await expect(new AuditLog(audit).append({ project: 'first', action: 'test', reason: 'x'.repeat(8_192) })).rejects.toThrow(
      `cannot write ${audit}: ${FULL}`,
    );
    const spend = path.join(home!, 'spend.json');
    await expect(new SpendLedger(spend).add('first', 0.5)).rejects.toThrow(`cannot write ${spend}: ${FULL}`);
    expect(await files()).toEqual(before);
  });

  it('a transcript names its file, and keeps no line cut short', async () => {
    await fill(1);
    const transcript = await new TranscriptStore(path.join(home!, 'transcripts')).beginTurn('first', null);
    try {
      transcript.append({ type: 'user', text: 'hello' });
      const written = await readFile(transcript.file, 'utf8');
      expect(() => transcript.append({ type: 'text', text: 'x'.repeat(8_192) })).toThrow(`cannot write ${transcript.file}: ${FULL}`);
      expect(await readFile(transcript.file, 'utf8')).toBe(written);
      // A short line still fits: it starts on a line of its own.
      transcript.append({ type: 'text', text: 'short' });
      expect(parseTranscript(await readFile(transcript.file, 'utf8'))).toMatchObject({ entries: [{ text: 'hello' }, { text: 'short' }], skippedLines: 0 });
    } finally {
      transcript.close();
    }
  });
});
