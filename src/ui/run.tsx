import { render, useApp } from 'ink';
import type { Project } from '../domain/project.js';
import { ControlCenter } from './components/control-center.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { enterFullScreen } from './terminal.js';

function App({ projects, version }: { projects: Project[]; version: string }) {
  const { columns, rows } = useTerminalSize();
  const { exit } = useApp();
  return <ControlCenter projects={projects} columns={columns} rows={rows} version={version} onQuit={exit} />;
}

/** Opens the full-screen control center and resolves when the user quits. */
export async function runControlCenter(projects: Project[], version: string): Promise<void> {
  const screen = enterFullScreen(process.stdout);
  try {
    const app = render(<App projects={projects} version={version} />, { exitOnCtrlC: true });
    screen.onTeardown(() => app.unmount());
    await app.waitUntilExit();
  } finally {
    screen.restore();
  }
}
