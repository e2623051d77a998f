/**
 * The whole app, on a real ControlCenterService over a temporary berth home
 * with workspace projects (no engine needed): keys go in through stdin and
 * berth's PacedInput, as in the real app, the frames come out as text.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildKeymap } from '../../src/domain/keys.js';
import { createContext, type BerthContext } from '../../src/services/context.js';
import { ControlCenterService } from '../../src/services/control-center.js';
import { TranscriptStore } from '../../src/store/transcripts.js';
import { App, type AppExit } from '../../src/ui/app.js';
import { initialUiState } from '../../src/ui/ui-state.js';
import { renderPaced, type PacedApp } from '../helpers/paced-render.js';
import { ACTED_ON, HOSTILE, unstyled } from '../helpers/terminal-text.js';
import { useTempDirs } from '../helpers/temp.js';

const tempDir = useTempDirs();
const ESC = '\u001B';
let service: ControlCenterService | undefined;
let app: PacedApp | undefined;

afterEach(async () => {
  app?.unmount();
  app = undefined;
  await service?.close();
  service = undefined;
});

async function openApp(projects: string[], size = { columns: 100, rows: 30 }, prepare?: (context: BerthContext) => Promise<void>) {
  const context: BerthContext = createContext({ BERTH_HOME: await tempDir('berth-app-'), PATH: process.env.PATH ?? '' });
  for (const name of projects) await context.projects.add(name, { mode: 'workspace' });
  await prepare?.(context);
  service = new ControlCenterService({ context });
  await service.start();
  const exits: AppExit[] = [];
  app = renderPaced(
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
  const shown = app;
  const frame = () => shown.lastFrame();
  /** Waits for React and the service to catch up, until `check` holds. */
  const until = async (check: (text: string) => boolean, what: string) => {
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      if (check(frame())) return frame();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`never saw ${what}; last frame:\n${frame()}`);
  };
  /**
   * Each key is one read, as typed. No pause between them: PacedInput hands
   * each to the handlers once React is done with the one before, so a key that
   * comes while a screen mounts or a frame is drawn is neither lost nor acted
   * on by the handler of the screen before.
   */
  const press = async (...keys: string[]) => {
    for (const key of keys) shown.write(key);
    await shown.settled();
  };
  return { frame, until, press, exits, context, output: () => shown.output() };
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
    // Gone from the list (the status line names it: it was denied).
    await until((text) => !/registry\.npmjs\.org\s+80,443/.test(text), 'the registry denied');
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

  it('takes the first keys even when they come before the first frame\'s handlers are attached', async () => {
    const { until, press } = await openApp(['alpha', 'beta', 'gamma']);
    // No wait for the first frame: typed while berth starts.
    await press('j', 'j');
    await until((text) => selectedLine(text)?.includes('gamma') === true, 'gamma selected');
  });

  it('shows hostile text of a transcript and a notice with its controls visible: details, status line, chat', async () => {
    const { until, press, output } = await openApp(['alpha'], { columns: 100, rows: 30 }, async (context) => {
      const turn = await new TranscriptStore(context.paths.transcripts).beginTurn('alpha', null);
      turn.append({ type: 'user', text: `print ${HOSTILE}` });
      turn.append({ type: 'text', text: `Printed:\n${HOSTILE}` });
      turn.append({ type: 'tool_call', id: 't1', name: 'Bash', input: { command: `printf '${HOSTILE}'` } });
      turn.append({ type: 'tool_result', id: 't1', ok: false, content: `${HOSTILE} exit 1` });
      turn.append({ type: 'error', message: `the CLI said ${HOSTILE}` });
      turn.append({ type: 'turn_end', outcome: 'error', sessionId: null });
      turn.close();
    });
    await until((text) => text.includes('alpha'), 'the list');
    service!.notify(`a notice ${HOSTILE}`, 'error');
    await until((text) => text.includes('✗ a notice ^[]52;c;aGk=^G^[[2J^[[H^[]0;owned^G\\u009b31m^H^M'), 'the notice');
    await press('\r');
    await until((text) => text.includes('chat · alpha') && text.includes('Printed:'), 'the chat');
    await until((text) => text.includes('● Bash(command=printf \'^[]52;c;aGk=^G') && text.includes('⎿ error: ^[]52'), 'the tool lines');
    // The last turn, read with the conversation, in the details.
    await press(ESC);
    await until((text) => text.includes('error       the CLI said ^[]52;c;aGk=^G'), 'the error in the details');
    // Everything drawn so far, every frame: no escape but Ink's styling, no other control.
    expect(unstyled(output())).not.toMatch(ACTED_ON);
  });

  it('starts a new conversation on Ctrl-N in the chat, keeping the old transcript', async () => {
    const { until, press, context } = await openApp(['alpha'], undefined, async (prepared) => {
      await prepared.projects.record('alpha', { sessionId: '1b4e28ba-2fa1-11d2-883f-0016d3cca427' });
    });
    await until((text) => selectedLine(text)?.includes('alpha') === true, 'alpha selected');
    await press('\r');
    await until((text) => text.includes('new conversation'), 'the chat with its key hint');
    await press('\u000E');
    await until((text) => text.includes('alpha: the next message starts a new conversation'), 'the new conversation said');
    expect((await context.projects.require('alpha')).sessionId).toBeNull();
  });

  it('takes back the last queued message on Ctrl-U in the chat, through the service', async () => {
    const { until, press } = await openApp(['alpha']);
    const withdrawLast = vi.spyOn(service!, 'withdrawLast');
    await until((text) => selectedLine(text)?.includes('alpha') === true, 'alpha selected');
    await press('\r');
    await until((text) => text.includes('chat · alpha'), 'the chat');
    await press('\u0015');
    await until((text) => text.includes('no message is queued to take back'), 'the answer: nothing queued');
    expect(withdrawLast).toHaveBeenCalledWith('alpha');
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
