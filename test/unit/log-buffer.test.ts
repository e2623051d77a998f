import { describe, expect, it } from 'vitest';
import { LogBuffer, plainLogLine } from '../../src/ui/log-buffer.js';

describe('LogBuffer', () => {
  it('joins lines split across chunks, and shows a partial last line', () => {
    const buffer = new LogBuffer();
    buffer.push('one\ntw');
    expect(buffer.lines()).toEqual(['one', 'tw']);
    buffer.push('o\r\nthree\n');
    expect(buffer.lines()).toEqual(['one', 'two', 'three']);
  });

  it('keeps only the last lines', () => {
    const buffer = new LogBuffer(3);
    for (let index = 0; index < 10; index += 1) buffer.push(`line ${index}\n`);
    expect(buffer.lines()).toEqual(['line 7', 'line 8', 'line 9']);
  });
});

describe('plainLogLine', () => {
  it('shows colours, cursor moves, titles and control characters instead of acting on them', () => {
    expect(plainLogLine('\u001B[31mred\u001B[0m plain')).toBe('^[[31mred^[[0m plain');
    expect(plainLogLine('\u001B]0;title\u0007after')).toBe('^[]0;title^Gafter');
    expect(plainLogLine('a\u0000b\u0008c\rd\u009Be')).toBe('a^@b^Hc^Md\\u009be');
    expect(plainLogLine('tab\there')).toBe('tab  here');
  });
});
