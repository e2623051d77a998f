import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { buildKeymap, COMMANDS, COMMAND_NAMES } from '../../src/domain/keys.js';
import { HelpOverlay } from '../../src/ui/components/overlays/help-overlay.js';

const frameOf = (keymap = buildKeymap(), width = 100, height = 40) =>
  render(<HelpOverlay keymap={keymap} width={width} height={height} />).lastFrame() ?? '';

describe('HelpOverlay', () => {
  it('lists every command of the table under its section, with its keys', () => {
    const frame = frameOf();
    for (const section of ['Dashboard', 'Chat', 'Logs', 'Everywhere']) expect(frame).toContain(section);
    for (const name of COMMAND_NAMES) expect(frame).toContain(COMMANDS[name].description.slice(0, 20));
    expect(frame).toMatch(/Enter\/c\s+chat with the agent/);
    expect(frame).toMatch(/Ctrl-c\s+quit from any screen/);
    expect(frame).toContain('keys — Esc or ? closes');
  });

  it('shows a remapped key instead of the default', () => {
    const frame = frameOf(buildKeymap({ newProject: 'a', help: 'h' }));
    expect(frame).toMatch(/\ba\s+new project/);
    expect(frame).not.toMatch(/\bn\s+new project/);
    expect(frame).toContain('Esc or h closes');
  });

  it('uses two columns when wide enough, one otherwise', () => {
    const wide = frameOf(buildKeymap(), 100, 24);
    expect(wide.split('\n').find((line) => line.includes('Dashboard'))).toContain('Chat');
    const narrow = frameOf(buildKeymap(), 70, 44);
    expect(narrow.split('\n').find((line) => line.includes('Dashboard'))).not.toContain('Chat');
    expect(narrow).toContain('Everywhere');
    expect(narrow).not.toContain('more');
  });

  it('never draws taller or wider than its box, and says how many commands it left out', () => {
    const frame = frameOf(buildKeymap(), 60, 12);
    const lines = frame.split('\n');
    expect(lines.length).toBe(12);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(60);
    // 10 rows inside: the Dashboard heading, 8 commands, the note.
    expect(frame).toContain(`… ${COMMAND_NAMES.length - 8} more`);
    expect(frame).not.toContain('Everywhere');
  });

  it('shows every command at 80x26, in the space the dashboard gives it', () => {
    const frame = frameOf(buildKeymap(), 80, 23);
    for (const name of COMMAND_NAMES) expect(frame).toContain(COMMANDS[name].description);
    expect(frame).not.toContain('more');
    const lines = frame.split('\n');
    expect(lines.length).toBe(23);
    expect(lines.at(-1)).toMatch(/^╰─+╯$/);
  });

  it('at 80x24 says how many commands a larger terminal shows', () => {
    const frame = frameOf(buildKeymap(), 80, 21);
    expect(frame).toContain('… 2 more: a larger terminal shows th');
    expect(frame.split('\n')).toHaveLength(21);
  });
});
