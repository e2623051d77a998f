/**
 * notify.command, run by the daemon for each notification that notify.on
 * asks for, so that it reaches the user (ntfy, Slack, mail) with no control
 * center open. An argv, never a shell string; the event is in its
 * environment: BERTH_PROJECT, BERTH_EVENT (waiting, done, failed) and
 * BERTH_MESSAGE. It runs on its own: a slow or failing one delays nothing,
 * and is killed after NOTIFY_TIMEOUT_MS.
 */
import { spawn } from 'node:child_process';
import { messageOf } from '../domain/errors.js';
import { notifies, parseCommandArgv, type Notification } from '../domain/notifications.js';
import type { Settings } from '../domain/settings.js';

const NOTIFY_TIMEOUT_MS = 30_000;

export class CommandNotifier {
  constructor(
    private readonly settings: () => Settings,
    private readonly log: (line: string) => void,
  ) {}

  notify(notification: Notification): void {
    let argv: string[];
    try {
      const settings = this.settings();
      if (!notifies(settings, notification.event)) return;
      argv = parseCommandArgv(String(settings['notify.command']));
    } catch (error) {
      return this.log(`notify.command: ${messageOf(error)}`);
    }
    const [program, ...args] = argv;
    if (program === undefined) return;
    const child = spawn(program, args, {
      env: { ...withoutModelCredentials(process.env), BERTH_PROJECT: notification.project, BERTH_EVENT: notification.event, BERTH_MESSAGE: notification.message },
      stdio: 'ignore',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), NOTIFY_TIMEOUT_MS);
    timer.unref();
    child.once('error', (error) => {
      clearTimeout(timer);
      this.log(`notify.command ${program} could not run: ${messageOf(error)}`);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) this.log(`notify.command ${program} ended with ${signal ?? `exit code ${code}`} (${notification.event} of ${notification.project})`);
    });
  }
}

/** The daemon's environment less the model API's key and gateway (ANTHROPIC_*): a notifier has no use for them. */
function withoutModelCredentials(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith('ANTHROPIC_')));
}
