import { render } from 'ink';
import { buildKeymap } from '../domain/keys.js';
import { keyOverrides } from '../domain/settings.js';
import { visibleText } from '../domain/visible-text.js';
import type { ControlCenter } from '../services/control-center-state.js';
import { App, type AppExit } from './app.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { PacedInput } from './paced-input.js';
import { BRACKETED_PASTE_OFF, BRACKETED_PASTE_ON, enterFullScreen } from './terminal.js';
import { createTheme, ThemeProvider } from './theme.js';
import { initialUiState } from './ui-state.js';

const CLEAR_SCREEN = '\u001B[2J\u001B[H';
const SHOW_CURSOR = '\u001B[?25h';

type SizedAppProps = Omit<Parameters<typeof App>[0], 'columns' | 'rows'>;

function SizedApp(props: SizedAppProps) {
  const { columns, rows } = useTerminalSize();
  // One line short of the terminal: Ink clears the whole screen before every
  // frame as tall as the terminal, which flickers (over SSH above all);
  // shorter frames are updated line by line.
  return <App {...props} columns={columns} rows={Math.max(1, rows - 1)} />;
}

/**
 * Opens the full-screen control center and resolves when the user quits, or
 * once `stop` aborts (a signal: the terminal went away, a kill), after the
 * running turns were cancelled and recorded. A shell takes the terminal by
 * unmounting the Ink tree (the state lives in the service and in `memory`),
 * and the tree is mounted again after it.
 */
export async function runControlCenter(service: ControlCenter, version: string, stop?: AbortSignal): Promise<void> {
  const settings = service.settings();
  const keymap = buildKeymap(keyOverrides(settings));
  const theme = createTheme();
  const memory = { ui: initialUiState() };
  const screen = enterFullScreen(process.stdout);
  // Raw before the first frame is drawn: a key pressed as soon as it shows (Ink turns raw mode on
  // only after it) would otherwise wait in the terminal's line buffer, its Enter turned into a newline.
  if (process.stdin.isTTY) process.stdin.setRawMode(true);
  // At once, even while a shell has the terminal: the turns are cancelled, and recorded, before anything else.
  stop?.addEventListener('abort', () => void service.cancelAllTurns(), { once: true });
  try {
    for (;;) {
      const ended: { how: AppExit } = { how: { kind: 'quit' } };
      const app = render(
        <ThemeProvider value={theme}>
          <SizedApp
            service={service}
            keymap={keymap}
            version={version}
            defaultMode={settings['defaults.mode'] === 'container' ? 'container' : 'workspace'}
            waitingFirst={settings['dashboard.waitingFirst'] === true}
            memory={memory}
            onExit={(how) => (ended.how = how)}
          />
        </ThemeProvider>,
        { stdin: new PacedInput(process.stdin) as unknown as NodeJS.ReadStream, exitOnCtrlC: false, patchConsole: false },
      );
      screen.onTeardown(() => app.unmount());
      const unmount = () => app.unmount();
      stop?.addEventListener('abort', unmount, { once: true });
      if (stop?.aborted) unmount();
      await app.waitUntilExit();
      stop?.removeEventListener('abort', unmount);
      screen.onTeardown(() => {});
      if (ended.how.kind === 'quit' || stop?.aborted) break;
      if (ended.how.kind === 'attach') await handOverToAgent(service, ended.how.project);
      else await handOver(service, ended.how.project);
      if (stop?.aborted) break;
    }
    // Cancels what runs and waits until each turn is recorded.
    await service.close();
  } finally {
    screen.restore();
  }
}

/** The terminal belongs to the agent's own TUI until it exits; the conversation then goes on in berth. */
async function handOverToAgent(service: ControlCenter, project: string): Promise<void> {
  process.stdout.write(`${BRACKETED_PASTE_OFF}${CLEAR_SCREEN}${SHOW_CURSOR}`);
  try {
    const code = await service.attach(project);
    service.notify(`back from the agent's own TUI${code === 0 ? '' : ` (it exited with code ${code})`}: the next message continues the conversation`);
  } catch (error) {
    service.notify(`the agent's own TUI did not open: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, 'error');
  }
  process.stdout.write(CLEAR_SCREEN + BRACKETED_PASTE_ON);
}

/** The terminal belongs to the shell until it exits; berth then draws again from a clean screen. */
async function handOver(service: ControlCenter, project: string): Promise<void> {
  process.stdout.write(`${BRACKETED_PASTE_OFF}${CLEAR_SCREEN}${SHOW_CURSOR}berth: a shell in ${visibleText(project, 'line')}; exit it to come back.\n`);
  try {
    const code = await service.shell(project);
    service.notify(`the shell in ${project} exited${code === 0 ? '' : ` with code ${code}`}`);
  } catch (error) {
    service.notify(`no shell in ${project}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, 'error');
  }
  process.stdout.write(CLEAR_SCREEN + BRACKETED_PASTE_ON);
}
