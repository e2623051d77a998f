/**
 * What an agent changed in a workspace during a turn. Before the turn,
 * snapshotWorkspace records HEAD and the content of every path git calls
 * changed or untracked; a clean path needs no record, as its content is
 * HEAD's. After the turn, each path that may differ (recorded, different
 * from the old HEAD in the work tree, or newly untracked) is hashed again
 * and compared. Diffing the old HEAD against the work tree, not against the
 * new HEAD, covers the agent's commits, including a commit followed by more
 * edits or by a revert.
 *
 * Content ids are git blob ids (`git hash-object`, so clean filters such as
 * LFS apply as they do for HEAD's blobs). Symbolic links are never followed:
 * a link's id is its target's text, and a path below a link counts as absent.
 * File names must be UTF-8; the mode (executable bit) is not compared.
 */
import { createHash } from 'node:crypto';
import { lstat, readFile, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { classifyChanges, isSafeRelativePath, parsePorcelainV1, parseRawDiff, type PathStates } from '../domain/git-status.js';
import { BerthError } from '../domain/errors.js';
import type { ChangedFile } from './types.js';

export interface WorkspaceSnapshot {
  /** The commit HEAD named, or null in a repository with no commit yet. */
  readonly head: string | null;
  /** Each path git listed as changed or untracked, workspace-relative: its content id, or null when it did not exist. */
  readonly files: ReadonlyMap<string, string | null>;
}

/** The content id of a folder (an untracked nested repository): present, but never compared by content. */
const FOLDER = 'folder';
const TO_HASH = Symbol('to hash');
const GITLINK_MODE = '160000';
const SYMLINK_MODE = '120000';
/** Bytes of paths per `git hash-object` call: far below the argument limits of Linux (2 MB) and macOS (1 MB). */
const HASH_BATCH_BYTES = 100_000;
/** Paths looked at at once: enough to hide the file system's latency, few enough to stay under the open-files limit. */
const PROBE_BATCH = 64;

export async function snapshotWorkspace(dir: string): Promise<WorkspaceSnapshot> {
  const repo = await Repository.open(dir);
  const head = await repo.head();
  const status = await repo.status();
  const paths = status.flatMap((entry) => (entry.from === undefined ? [entry.path] : [entry.path, entry.from]));
  return { head, files: await repo.contentIds(paths) };
}

export async function changedSince(dir: string, snapshot: WorkspaceSnapshot): Promise<ChangedFile[]> {
  const repo = await Repository.open(dir);
  const status = await repo.status();
  const diff = await repo.diffWorkTree(snapshot.head ?? (await repo.emptyTree()));

  const before = new Map(snapshot.files);
  for (const entry of diff) {
    if (entry.oldMode === GITLINK_MODE || entry.newMode === GITLINK_MODE) continue;
    // Without -B, git pairs a rename only with a path the old tree did not have.
    if (entry.from !== undefined && !before.has(entry.from)) before.set(entry.from, blobIdOf(entry.oldMode, entry.oldId));
    if (!before.has(entry.path)) before.set(entry.path, entry.from !== undefined ? null : blobIdOf(entry.oldMode, entry.oldId));
  }
  for (const entry of status) {
    if (entry.index === '?' && !before.has(entry.path)) before.set(entry.path, null);
  }

  const after = await repo.contentIds([...before.keys()]);
  const states: PathStates[] = [...after].map(([file, id]) => ({ path: file, before: before.get(file) ?? null, after: id }));
  const hints = [...status, ...diff].flatMap((entry) => (entry.from !== undefined ? [{ from: entry.from, to: entry.path }] : []));
  return classifyChanges(states, hints, new Set([FOLDER, repo.emptyBlobId]));
}

/** Git as seen from one workspace, which may be a subfolder of a larger repository. */
class Repository {
  /** Per folder, whether it is reached without a symbolic link; one Repository serves one call, so links cannot change under it. */
  private readonly foldersInside = new Map<string, Promise<boolean>>();

  private constructor(
    private readonly dir: string,
    private readonly realDir: string,
    /** The workspace's place in the repository, `sub/dir/` or empty. */
    private readonly prefix: string,
    private readonly objectFormat: string,
  ) {}

  static async open(dir: string): Promise<Repository> {
    const realDir = await realpath(dir).catch(() => {
      throw new BerthError(`cannot look for changes in ${dir}: the folder is missing`);
    });
    const result = await git(dir, ['rev-parse', '--show-prefix', '--show-object-format'], { reject: false });
    if (result.exitCode !== 0) {
      const reason = /not a git repository/i.test(result.stderr) ? 'it is not in a git repository' : firstLine(result.stderr);
      throw new BerthError(`cannot look for changes in ${dir}: ${reason}`);
    }
    const [prefix = '', objectFormat = 'sha1'] = result.stdout.split('\n');
    return new Repository(dir, realDir, prefix, objectFormat);
  }

  get emptyBlobId(): string {
    return createHash(this.objectFormat).update('blob 0\0').digest('hex');
  }

  async head(): Promise<string | null> {
    const result = await git(this.dir, ['rev-parse', '--quiet', '--verify', 'HEAD^{commit}'], { reject: false });
    return result.exitCode === 0 ? result.stdout.trim() : null;
  }

  async emptyTree(): Promise<string> {
    return (await git(this.dir, ['hash-object', '-t', 'tree', '/dev/null'])).stdout.trim();
  }

  async status() {
    const { stdout } = await git(this.dir, ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--', '.']);
    return parsePorcelainV1(stdout).flatMap((entry) => {
      const local = this.local(entry.path);
      if (local === undefined) return [];
      const from = entry.from === undefined ? undefined : this.local(entry.from);
      return [{ ...entry, path: local, from }];
    });
  }

  /** The old tree against the work tree (through the index): every tracked path whose content differs from `base`. */
  async diffWorkTree(base: string) {
    const { stdout } = await git(this.dir, ['diff', '--raw', '-z', '--no-abbrev', '-M', '--no-relative', base, '--', '.']);
    return parseRawDiff(stdout).flatMap((entry) => {
      const local = this.local(entry.path);
      if (local === undefined) return [];
      const from = entry.from === undefined ? undefined : this.local(entry.from);
      return [{ ...entry, path: local, from }];
    });
  }

  /** Content ids of workspace-relative paths as they are now; unsafe paths are left out. */
  async contentIds(paths: readonly string[]): Promise<Map<string, string | null>> {
    const ids = new Map<string, string | null>();
    const regularFiles: string[] = [];
    const files = [...new Set(paths)].filter(isSafeRelativePath);
    for (let at = 0; at < files.length; at += PROBE_BATCH) {
      const batch = files.slice(at, at + PROBE_BATCH);
      const probed = await Promise.all(batch.map((file) => this.probe(file)));
      batch.forEach((file, index) => {
        const id = probed[index]!;
        if (id === TO_HASH) regularFiles.push(file);
        else ids.set(file, id);
      });
    }
    for (const batch of batchesOf(regularFiles, HASH_BATCH_BYTES)) {
      const hashed = await this.hashFiles(batch);
      batch.forEach((file, index) => ids.set(file, hashed[index] ?? null));
    }
    return ids;
  }

  /** The id of what is at `file` now, null when absent, or TO_HASH for a regular file (hashed in batches). */
  private async probe(file: string): Promise<string | null | typeof TO_HASH> {
    const full = path.join(this.dir, file);
    const info = await lstat(full).catch(() => undefined);
    if (!info || !(await this.parentIsInside(file))) return null;
    if (info.isSymbolicLink()) {
      const target = await readlink(full, { encoding: 'buffer' }).catch(() => undefined);
      return target === undefined ? null : `link:${this.blobId(target)}`;
    }
    if (info.isDirectory()) return FOLDER;
    // Sockets and pipes are not content git would keep.
    return info.isFile() ? TO_HASH : null;
  }

  /** True when no folder on the way to `file` is a symbolic link: git does not look through one, nor does berth. */
  private parentIsInside(file: string): Promise<boolean> {
    const parent = path.dirname(file);
    let inside = this.foldersInside.get(parent);
    if (!inside) {
      const expected = parent === '.' ? this.realDir : path.join(this.realDir, parent);
      inside = realpath(path.join(this.dir, parent)).then((real) => real === expected, () => false);
      this.foldersInside.set(parent, inside);
    }
    return inside;
  }

  private async hashFiles(files: string[]): Promise<Array<string | null>> {
    const result = await git(this.dir, ['hash-object', '--', ...files], { reject: false });
    const ids = result.stdout.split('\n').filter(Boolean);
    if (result.exitCode === 0 && ids.length === files.length) return ids;
    // A file vanished or a filter failed: hash each one raw rather than lose the batch.
    return Promise.all(
      files.map((file) =>
        readFile(path.join(this.dir, file)).then(
          (content) => this.blobId(content),
          () => null,
        ),
      ),
    );
  }

  private blobId(content: Buffer): string {
    return createHash(this.objectFormat).update(`blob ${content.length}\0`).update(content).digest('hex');
  }

  /** A repository path made relative to the workspace, or undefined when it lies outside it. */
  private local(repoPath: string): string | undefined {
    if (!repoPath.startsWith(this.prefix)) return undefined;
    const local = repoPath.slice(this.prefix.length).replace(/\/$/, '');
    return isSafeRelativePath(local) ? local : undefined;
  }
}

function* batchesOf(paths: string[], maxBytes: number): Generator<string[]> {
  let batch: string[] = [];
  let bytes = 0;
  for (const file of paths) {
    const size = Buffer.byteLength(file) + 1;
    if (batch.length > 0 && bytes + size > maxBytes) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(file);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}

/** A tree entry's id in the form contentIds gives, or null for an absent side (mode 000000). */
function blobIdOf(mode: string, id: string): string | null {
  if (/^0+$/.test(mode)) return null;
  return mode === SYMLINK_MODE ? `link:${id}` : id;
}

async function git(cwd: string, args: string[], options: { reject?: boolean } = {}) {
  try {
    // safe.directory: in container mode the workspace belongs to the agent's uid, and git would refuse it as "dubious ownership".
    return await execa('git', ['-c', `safe.directory=${cwd}`, ...args], {
      cwd,
      reject: options.reject ?? true,
      stdin: 'ignore',
      stripFinalNewline: false,
      // No optional locks: the agent's own git commands must never find index.lock taken by berth's status.
      env: { GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' },
    });
  } catch (error) {
    const failure = error as { code?: string; stderr?: string; shortMessage?: string };
    if (failure.code === 'ENOENT') throw new BerthError('git is not installed: berth keeps every workspace in a git repository');
    throw new BerthError(`git ${args[0]} failed in ${cwd}: ${firstLine(failure.stderr ?? '') || failure.shortMessage || String(error)}`);
  }
}

const firstLine = (text: string): string => text.trim().split('\n')[0] ?? '';
