import { describe, expect, it } from 'vitest';
import { classifyChanges, isSafeRelativePath, parsePorcelainV1, parseRawDiff } from '../../src/domain/git-status.js';
import { BerthError } from '../../src/domain/errors.js';

const id = (digit: string): string => digit.repeat(40);
const zero = id('0');

describe('parsePorcelainV1', () => {
  it('reads every kind of entry, names as they are', () => {
    const output = [
      ' M plain.txt',
      '?? with space.txt',
      '?? "quoted".txt',
      '?? new\nline',
      'A  ünïcødé/日本.md',
      ' D gone',
      'MM both',
      '?? nested/',
    ]
      .map((entry) => `${entry}\0`)
      .join('');
    expect(parsePorcelainV1(output)).toEqual([
      { index: ' ', worktree: 'M', path: 'plain.txt' },
      { index: '?', worktree: '?', path: 'with space.txt' },
      { index: '?', worktree: '?', path: '"quoted".txt' },
      { index: '?', worktree: '?', path: 'new\nline' },
      { index: 'A', worktree: ' ', path: 'ünïcødé/日本.md' },
      { index: ' ', worktree: 'D', path: 'gone' },
      { index: 'M', worktree: 'M', path: 'both' },
      { index: '?', worktree: '?', path: 'nested/' },
    ]);
  });

  it('takes the field after a rename or copy as the old path', () => {
    const output = 'R  to name\0from name\0RM b\nc\0a -> b\0C  copy\0orig\0 M after\0';
    expect(parsePorcelainV1(output)).toEqual([
      { index: 'R', worktree: ' ', path: 'to name', from: 'from name' },
      { index: 'R', worktree: 'M', path: 'b\nc', from: 'a -> b' },
      { index: 'C', worktree: ' ', path: 'copy', from: 'orig' },
      { index: ' ', worktree: 'M', path: 'after' },
    ]);
  });

  it('reads nothing from a clean tree', () => {
    expect(parsePorcelainV1('')).toEqual([]);
  });

  it('refuses output it does not understand, with a one-line BerthError', () => {
    expect(() => parsePorcelainV1('M  unterminated')).toThrow(BerthError);
    expect(() => parsePorcelainV1('R  renamed\0')).toThrow(/git status/);
    expect(() => parsePorcelainV1('garbage\0')).toThrow(BerthError);
  });
});

describe('parseRawDiff', () => {
  it('reads modes, ids and paths, and both paths of a rename', () => {
    const output = [
      `:100644 100644 ${id('a')} ${zero} M\0edited file\0`,
      `:000000 100644 ${zero} ${id('b')} A\0new\nline\0`,
      `:100644 000000 ${id('c')} ${zero} D\0"gone"\0`,
      `:100644 100644 ${id('d')} ${id('e')} R087\0old name\0ünï/new name\0`,
      `:100644 120000 ${id('f')} ${id('1')} T\0now a link\0`,
    ].join('');
    expect(parseRawDiff(output)).toEqual([
      { status: 'M', path: 'edited file', oldMode: '100644', newMode: '100644', oldId: id('a'), newId: zero },
      { status: 'A', path: 'new\nline', oldMode: '000000', newMode: '100644', oldId: zero, newId: id('b') },
      { status: 'D', path: '"gone"', oldMode: '100644', newMode: '000000', oldId: id('c'), newId: zero },
      { status: 'R', path: 'ünï/new name', from: 'old name', oldMode: '100644', newMode: '100644', oldId: id('d'), newId: id('e') },
      { status: 'T', path: 'now a link', oldMode: '100644', newMode: '120000', oldId: id('f'), newId: id('1') },
    ]);
  });

  it('refuses a truncated rename or a bad header', () => {
    expect(() => parseRawDiff(`:100644 100644 ${id('d')} ${id('e')} R100\0only one\0`)).toThrow(/git diff/);
    expect(() => parseRawDiff('M\0file\0')).toThrow(BerthError);
  });
});

describe('isSafeRelativePath', () => {
  it.each(['a', 'a/b.txt', 'with space/x', 'new\nline', '..hidden', 'a/..b', 'ünï'])('accepts %j', (path) => {
    expect(isSafeRelativePath(path)).toBe(true);
  });
  it.each(['', '/etc/passwd', '..', '../x', 'a/../../x', 'a/..', './a', 'a//b', 'a/', 'nul\0byte'])('refuses %j', (path) => {
    expect(isSafeRelativePath(path)).toBe(false);
  });
});

describe('classifyChanges', () => {
  it('says created, modified, deleted, and nothing for what did not change', () => {
    expect(
      classifyChanges([
        { path: 'c', before: null, after: id('1') },
        { path: 'm', before: id('1'), after: id('2') },
        { path: 'd', before: id('3'), after: null },
        { path: 'same', before: id('4'), after: id('4') },
        { path: 'absent', before: null, after: null },
      ]),
    ).toEqual([
      { path: 'c', kind: 'created' },
      { path: 'd', kind: 'deleted' },
      { path: 'm', kind: 'modified' },
    ]);
  });

  it('pairs a deletion and a creation of the same content as a rename', () => {
    expect(
      classifyChanges([
        { path: 'old', before: id('1'), after: null },
        { path: 'new', before: null, after: id('1') },
        { path: 'other', before: null, after: id('2') },
      ]),
    ).toEqual([
      { path: 'new', kind: 'renamed', from: 'old' },
      { path: 'other', kind: 'created' },
    ]);
  });

  it("follows git's rename hints even when the content changed, and only between a deletion and a creation", () => {
    const states = [
      { path: 'old', before: id('1'), after: null },
      { path: 'new', before: null, after: id('2') },
      { path: 'kept', before: id('3'), after: id('4') },
      { path: 'fresh', before: null, after: id('5') },
    ];
    expect(
      classifyChanges(states, [
        { from: 'old', to: 'new' },
        { from: 'kept', to: 'fresh' },
      ]),
    ).toEqual([
      { path: 'fresh', kind: 'created' },
      { path: 'kept', kind: 'modified' },
      { path: 'new', kind: 'renamed', from: 'old' },
    ]);
  });

  it('never pairs by unpairable content such as an empty file', () => {
    const empty = id('e');
    expect(
      classifyChanges(
        [
          { path: 'a', before: empty, after: null },
          { path: 'b', before: null, after: empty },
        ],
        [],
        new Set([empty]),
      ),
    ).toEqual([
      { path: 'a', kind: 'deleted' },
      { path: 'b', kind: 'created' },
    ]);
  });

  it('pairs each creation with one deletion only', () => {
    expect(
      classifyChanges([
        { path: 'a', before: id('1'), after: null },
        { path: 'b', before: id('1'), after: null },
        { path: 'c', before: null, after: id('1') },
      ]),
    ).toEqual([
      { path: 'b', kind: 'deleted' },
      { path: 'c', kind: 'renamed', from: 'a' },
    ]);
  });
});
