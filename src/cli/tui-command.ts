import { BerthError } from '../domain/errors.js';
import { notificationFor, notifies, terminalNotification } from '../domain/notifications.js';
import { createContext } from '../services/context.js';
import type { GlobalOptions } from './command-table.js';
import { connectDaemon } from '../client/daemon-client.js';
import { connectToDaemon } from './daemon-connection.js';
import { stopOnSignals } from './signals.js';

export async function openControlCenter(version: string, global: GlobalOptions): Promise<number> {
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    throw new BerthError('the control center needs a terminal; in scripts use the subcommands (berth --help)');
  }
  // Ink draws only the last frame when it believes it runs in CI; berth is on a
  // real terminal here (checked above), and a CI variable left in a developer's
  // shell must not blank the screen. Ink reads it when first imported: now.
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  // DEV=true makes Ink load React's devtools, which the bundle leaves out.
  delete process.env.DEV;
  // The screen's code loads while the registry is read and the daemon reached.
  const screen = Promise.all([import('../ui/run.js'), import('../client/remote-control-center.js')]);
  screen.catch(() => undefined);
  const context = createContext();
  // Read what the screen needs first, so that a broken registry or settings
  // file is reported as a one-line error instead of a half-drawn screen.
  await context.projects.list();
  context.settings().load();
  // The agents, the engine and the policies are the daemon's: this screen is one of its clients.
  const client = await connectToDaemon(context.paths.home, global.engine);
  const [{ runControlCenter }, { RemoteControlCenter }] = await screen;
  // A daemon that went away unasked is replaced; what that says goes to the status line, not over the screen.
  const service = new RemoteControlCenter(client, context, () =>
    connectDaemon({ home: context.paths.home, version, ...(global.engine !== undefined && { engine: global.engine }), onNote: (line, kind) => kind === 'news' && service.notify(line) }),
  );
  await service.start();
  // The bell and a desktop notification, as notify.on asks (notify.command is the daemon's to run).
  service.subscribeEntries((project, entry) => {
    const notification = notificationFor(project, entry);
    if (notification && notifies(context.settings().load(), notification.event)) process.stdout.write(terminalNotification(notification.message, process.env.TMUX !== undefined));
  });
  // SIGTERM, SIGHUP (an SSH connection that dropped), SIGINT from outside: the screen goes; the turns go on in the daemon.
  const stop = stopOnSignals();
  try {
    await runControlCenter(service, version, stop.signal);
    return stop.exitCode() ?? 0;
  } finally {
    stop.dispose();
  }
}
