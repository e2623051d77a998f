import { describe, expect, it } from 'vitest';
import { visibleText } from '../../src/domain/visible-text.js';
import { ACTED_ON, HOSTILE, HOSTILE_SHOWN } from '../helpers/terminal-text.js';

describe('visibleText', () => {
  it('shows the sequences a hostile tool output carries instead of passing them to the terminal', () => {
    expect(visibleText('\u001B]52;c;aGk=\u0007')).toBe('^[]52;c;aGk=^G');
    expect(visibleText('\u001B[2J\u001B[H')).toBe('^[[2J^[[H');
    expect(visibleText('\u001B]0;owned\u0007title')).toBe('^[]0;owned^Gtitle');
    expect(visibleText('\u009B2J')).toBe('\\u009b2J');
    expect(visibleText('\u009D0;t\u009C')).toBe('\\u009d0;t\\u009c');
  });

  it('shows every part of a hostile tool output', () => {
    expect(visibleText(HOSTILE)).toBe(HOSTILE_SHOWN);
  });

  it('writes C0 controls and DEL in caret notation', () => {
    expect(visibleText('a\u0000b\u0008c\rd\u007Fe')).toBe('a^@b^Hc^Md^?e');
    expect(visibleText('\u001F')).toBe('^_');
  });

  it('keeps newlines and tabs in multi-line text, a CR before a newline dropped', () => {
    expect(visibleText('one\n\ttwo\r\nthree')).toBe('one\n\ttwo\nthree');
  });

  it('on one line shows a newline as ⏎ and a tab as a space', () => {
    expect(visibleText('one\r\ntwo\nthree\tfour', 'line')).toBe('one⏎two⏎three four');
  });

  it('leaves other text alone, Unicode included', () => {
    const plain = 'plain ✓ → héllo 日本 🙂 \u00A0nbsp';
    expect(visibleText(plain)).toBe(plain);
    expect(visibleText(plain, 'line')).toBe(plain);
  });

  it('lets nothing a terminal acts on through, whatever the input', () => {
    let all = '';
    for (let code = 0; code < 0xa0; code += 1) all += String.fromCharCode(code);
    // The tab stays in multi-line text, where the screen lays it out; on one line it is a space.
    expect(visibleText(all).replace('\t', '')).not.toMatch(ACTED_ON);
    expect(visibleText(all, 'line')).not.toMatch(ACTED_ON);
    expect(visibleText(all, 'line')).not.toContain('\n');
  });
});
