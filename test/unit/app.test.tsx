/**
 * The whole app in ink-testing-library, on a real ControlCenterService over
 * a temporary berth home with workspace projects (no engine needed): keys go
 * in through stdin, the frames come out as text.
 */
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { buildKeymap } from '../../src/domain/keys.js';
import { createContext, type BerthContext } from '../../src/services/context.js';
import { ControlCenterService } from '../../src/services/control-center.js';
import { App, type AppExit } from '../../src/ui/app.js';
import { initialUiState } from '../../src/ui/ui-state.js';
import { useTempDirs } from '../helpers/temp.js';

const tempDir = useTempDirs();
const ESC = '\u001B';
let service: ControlCenterService | undefined;

afterEach(async () => {
  await service?.close();
  service = undefined;
});

async function openApp(projects: string[], size = { columns: 100, rows: 30 }) {
  const context: BerthContext = createContext({ BERTH_HOME: await tempDir('berth-app-'), PATH: process.env.PATH ?? '' });
  for (const name of projects) await context.projects.add(name, { mode: 'workspace' });
  service = new ControlCenterService({ context });
  await service.start();
  const exits: AppExit[] = [];
  const app = render(
    <App
      service={service}
      keymap={buildKeymap()}
      version="9.9.9"
      columns={size.columns}
      rows={size.rows}
      defaultMode="workspace"
      memory={{ ui: initialUiState() }}
      onExit={(exit) => exits.push(exit)}
    />,
  );
  const frame = () => app.lastFrame() ?? '';
  /** Waits for React and the service to catch up, until `check` holds. */
  const until = async (check: (text: string) => boolean, what: string) => {
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      if (check(frame())) return frame();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`never saw ${what}; last frame:\n${frame()}`);
  };
  const press = async (...keys: string[]) => {
    for (const key of keys) {
      app.stdin.write(key);
      // A lone Esc is told from an escape sequence only after a pause.
      await new Promise((resolve) => setTimeout(resolve, key === ESC ? 120 : 25));
    }
  };
  return { app, frame, until, press, exits, context };
}

const selectedLine = (text: string) => text.split('\n').find((line) => line.includes('›'));

describe('the control center app', () => {
  it('shows the header, the projects and the key hints, never taller than the terminal', async () => {
    const { until, frame } = await openApp(['alpha', 'beta'], { columns: 80, rows: 24 });
    await until((text) => text.includes('alpha') && text.includes('beta'), 'the projects');
    expect(frame().split('\n')[0]).toMatch(/berth 9\.9\.9/);
    expect(frame()).toMatch(/ready/);
    expect(frame()).toMatch(/\? help/);
    expect(frame().split('\n').length).toBeLessThanOrEqual(24);
  });

  it('moves the selection with j/k and the arrows, and filters with /', async () => {
    const { until, press, frame } = await openApp(['alpha', 'beta', 'gamma']);
    await until((text) => selectedLine(text)?.includes('alpha') === true, 'alpha selected');
    await press('j');
    await until((text) => selectedLine(text)?.includes('beta') === true, 'beta selected');
    await press('\u001B[B');
    await until((text) => selectedLine(text)?.includes('gamma') === true, 'gamma selected');
    await press('k');
    await until((text) => selectedLine(text)?.includes('beta') === true, 'beta selected again');
    await press('/', 'g', 'a', '\r');
    await until((text) => !text.includes('alpha') && text.includes('gamma'), 'the filtered list');
    expect(frame()).not.toContain('beta');
    await press('/', ESC);
    await until((text) => text.includes('alpha') && text.includes('beta'), 'the whole list again');
  });

  it('opens the help from the keymap, and closes it with Esc', async () => {
    const { until, press } = await openApp(['alpha']);
    await until((text) => text.includes('alpha'), 'the list');
    await press('?');
    await until((text) => text.includes('keys — Esc or ? closes') && text.includes('recreate the container'), 'the help');
    await press(ESC);
    await until((text) => !text.includes('keys — Esc'), 'the help closed');
  });

  it('adds a project through the form, and says why a bad name is refused', async () => {
    const { until, press, context } = await openApp(['alpha']);
    await until((text) => text.includes('alpha'), 'the list');
    await press('n');
    await until((text) => /Name/.test(text), 'the form');
    await press('a', 'l', 'p', 'h', 'a', '\r');
    await until((text) => text.includes('exists already'), 'the refusal');
    await press('\u007F', '\u007F', '\u007F', '\u007F', '\u007F', 'b', 'o', 'a', 't', '\r');
    await until((text) => text.includes('boat') && !/Name/.test(text), 'the new project in the list');
    expect((await context.projects.list()).map((project) => project.name)).toEqual(['alpha', 'boat']);
  });

  it('shows the hosts a project may reach on N, allows one typed with a, denies the selected with d', async () => {
    const { until, press, context } = await openApp(['alpha']);
    await until((text) => selectedLine(text)?.includes('alpha') === true, 'alpha selected');
    // The first key of a busy machine can come before Ink has attached its handlers: let the first frame's effects run.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await press('N');
    await until((text) => text.includes('alpha: hosts it may reach') && text.includes('registry.npmjs.org') && text.includes('none'), 'the network overlay');
    await press('a', ...'pypi.org', '\r');
    await until((text) => text.includes('pypi.org') && text.includes('net.allow'), 'pypi.org allowed');
    expect((await context.projects.require('alpha')).settings?.['net.allow']).toBe('pypi.org');
    // A bad host is refused in one line, and the line stays open to fix it.
    await press('a', ...'evil;host', '\r');
    await until((text) => text.includes('allowlist entry "evil;host"'), 'the refusal');
    await press(ESC);
    // The cursor starts on the first entry (npm's registry, a default): d denies it outright.
    await press('d');
    await until((text) => !text.includes('registry.npmjs.org'), 'the registry denied');
    expect((await context.projects.require('alpha')).settings?.['net.deny']).toBe('registry.npmjs.org');
    await press(ESC);
    await until((text) => !text.includes('hosts it may reach'), 'the overlay closed');
  });

  it('asks before switching the mode, and does nothing on n', async () => {
    const { until, press, context } = await openApp(['alpha']);
    await until((text) => text.includes('alpha'), 'the list');
    await press('m');
    await until((text) => text.includes('Switch alpha to container mode?'), 'the confirmation');
    await press('n');
    await until((text) => !text.includes('Switch alpha'), 'the confirmation gone');
    expect((await context.projects.require('alpha')).mode).toBe('workspace');
    await press('m', 'y');
    await until((text) => /alpha\s+container/.test(text), 'alpha in container mode');
    expect((await context.projects.require('alpha')).mode).toBe('container');
  });

  it('quits on q, and hands the terminal to a shell on e', async () => {
    const { until, press, exits } = await openApp(['alpha']);
    await until((text) => text.includes('alpha'), 'the list');
    await press('e');
    expect(exits).toEqual([{ kind: 'shell', project: 'alpha' }]);
  });

  it('quits on q', async () => {
    const { until, press, exits } = await openApp([]);
    await until((text) => text.includes('No projects yet'), 'the empty list');
    await press('x', 'Q');
    expect(exits).toEqual([]);
    await press('q');
    expect(exits).toEqual([{ kind: 'quit' }]);
  });
});
