/**
 * Reading git's machine formats (NUL-separated, so any file name survives)
 * and deciding what changed in a workspace from the content of each path
 * before and after. Pure: the git processes and the hashing are in runtime/.
 */
import { BerthError } from './errors.js';

/** One entry of `git status --porcelain=v1 -z`: X is the index side, Y the work tree side. */
export interface StatusEntry {
  index: string;
  worktree: string;
  path: string;
  /** For a rename or copy, the path before. */
  from?: string;
}

/** One entry of `git diff --raw -z --no-abbrev`. */
export interface RawDiffEntry {
  /** A, C, D, M, R, T, U or X; a rename or copy score is dropped. */
  status: string;
  path: string;
  /** For a rename or copy, the path before. */
  from?: string;
  oldMode: string;
  newMode: string;
  oldId: string;
  newId: string;
}

/** What one path held at two points in time: a content id, or null when it did not exist. */
export interface PathStates {
  path: string;
  before: string | null;
  after: string | null;
}

export interface PathChange {
  path: string;
  kind: 'created' | 'modified' | 'deleted' | 'renamed';
  from?: string;
}

const malformed = (what: string): BerthError => new BerthError(`could not read the output of git ${what}: it is not in the expected format`);

/** Parses `git status --porcelain=v1 -z`. Names are never quoted in this format, and may hold anything but NUL. */
export function parsePorcelainV1(output: string): StatusEntry[] {
  const fields = splitNul(output);
  const entries: StatusEntry[] = [];
  for (let at = 0; at < fields.length; at++) {
    const field = fields[at]!;
    if (field.length < 4 || field[2] !== ' ') throw malformed('status');
    const entry: StatusEntry = { index: field[0]!, worktree: field[1]!, path: field.slice(3) };
    // A rename or copy names the new path first, then the old one as a field of its own.
    if ('RC'.includes(entry.index) || 'RC'.includes(entry.worktree)) {
      const from = fields[++at];
      if (from === undefined || from === '') throw malformed('status');
      entry.from = from;
    }
    entries.push(entry);
  }
  return entries;
}

/** Parses `git diff --raw -z --no-abbrev`: `:modes ids status` NUL path NUL, and a second path for renames and copies. */
export function parseRawDiff(output: string): RawDiffEntry[] {
  const fields = splitNul(output);
  const entries: RawDiffEntry[] = [];
  for (let at = 0; at < fields.length; at++) {
    const header = /^:(\d{6}) (\d{6}) ([0-9a-f]+) ([0-9a-f]+) ([A-Z])\d*$/.exec(fields[at]!);
    if (!header) throw malformed('diff');
    const [, oldMode, newMode, oldId, newId, status] = header as unknown as [string, string, string, string, string, string];
    const first = fields[++at];
    if (first === undefined || first === '') throw malformed('diff');
    if (status === 'R' || status === 'C') {
      const second = fields[++at];
      if (second === undefined || second === '') throw malformed('diff');
      entries.push({ status, path: second, from: first, oldMode, newMode, oldId, newId });
    } else {
      entries.push({ status, path: first, oldMode, newMode, oldId, newId });
    }
  }
  return entries;
}

/** A path that stays inside the folder it is relative to: not absolute, no `..`, no empty or `.` segments. */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.includes('\0') || path.startsWith('/')) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

/**
 * The changes between two states of a set of paths, sorted by path. A path
 * that was deleted and one that was created are reported as one rename when a
 * hint (git's own rename detection) pairs them, or when their content is
 * identical (a plain `mv`); ids in `unpairable` (an empty file, a folder)
 * never make a rename by content alone, as git does not pair them either.
 */
export function classifyChanges(
  states: readonly PathStates[],
  renameHints: ReadonlyArray<{ from: string; to: string }> = [],
  unpairable: ReadonlySet<string> = new Set(),
): PathChange[] {
  const created = new Map<string, string>();
  const deleted = new Map<string, string>();
  const changes: PathChange[] = [];
  for (const { path, before, after } of states) {
    if (before === after) continue;
    if (before === null) created.set(path, after!);
    else if (after === null) deleted.set(path, before);
    else changes.push({ path, kind: 'modified' });
  }
  const rename = (from: string, to: string): void => {
    deleted.delete(from);
    created.delete(to);
    changes.push({ path: to, kind: 'renamed', from });
  };
  for (const { from, to } of renameHints) {
    if (deleted.has(from) && created.has(to)) rename(from, to);
  }
  const createdById = new Map<string, string[]>();
  for (const [path, id] of [...created].sort(byKey)) {
    if (!unpairable.has(id)) createdById.set(id, [...(createdById.get(id) ?? []), path]);
  }
  for (const [from, id] of [...deleted].sort(byKey)) {
    const to = createdById.get(id)?.shift();
    if (to !== undefined) rename(from, to);
  }
  for (const path of created.keys()) changes.push({ path, kind: 'created' });
  for (const path of deleted.keys()) changes.push({ path, kind: 'deleted' });
  return changes.sort((a, b) => compare(a.path, b.path));
}

function splitNul(output: string): string[] {
  if (output === '') return [];
  // Every entry ends with NUL, so the last split field is empty.
  const fields = output.split('\0');
  if (fields.pop() !== '') throw malformed('output');
  return fields;
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byKey = (a: [string, string], b: [string, string]): number => compare(a[0], b[0]);
