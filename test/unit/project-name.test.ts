import { describe, expect, it } from 'vitest';
import { checkIsolationMode, checkProjectName } from '../../src/domain/project.js';

describe('project names', () => {
  it.each(['a', 'web', 'my-app', 'app.v2', 'x_1', '0day', 'a'.repeat(63)])('accepts %j', (name) => {
    expect(checkProjectName(name)).toBe(name);
  });

  it.each([
    ['empty', ''],
    ['path traversal', '../etc'],
    ['a slash', 'a/b'],
    ['a space', 'my app'],
    ['shell metacharacters', 'a;rm -rf ~'],
    ['a command substitution', '$(id)'],
    ['upper case', 'Web'],
    ['a leading dot', '.hidden'],
    ['a leading dash', '-rf'],
    ['a NUL byte', 'a\0b'],
    ['a newline', 'a\nb'],
    ['a unicode look-alike', 'аpp'],
    ['64 characters', 'a'.repeat(64)],
  ])('refuses %s with a one-line message that names the problem', (_why, name) => {
    let message = '';
    try {
      checkProjectName(name);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^invalid project name /);
    expect(message).not.toContain('\n');
  });

  it('says why a name is refused', () => {
    expect(() => checkProjectName('')).toThrow(/empty/);
    expect(() => checkProjectName('a'.repeat(64))).toThrow(/64 characters, 63 at most/);
    expect(() => checkProjectName('-x')).toThrow(/must start with/);
  });
});

describe('isolation modes', () => {
  it('accepts workspace and container only', () => {
    expect(checkIsolationMode('workspace')).toBe('workspace');
    expect(checkIsolationMode('container')).toBe('container');
    expect(() => checkIsolationMode('vm')).toThrow(/invalid mode "vm": use workspace or container/);
  });
});
