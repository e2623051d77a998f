/**
 * The agent's own TUI on a project's conversation, on this terminal (`o` in
 * the chat, `berth attach`): the daemon sets the live session aside and says
 * what to run (AttachedAgent), for as long as the stream of
 * `POST /v1/projects/<name>/attach` stays open; the TUI runs where the agent
 * runs, on the host in the workspace or in the container; closing the stream
 * gives the conversation back to the daemon, whose next message resumes it.
 */
import { BerthError } from '../domain/errors.js';
import type { Project } from '../domain/project.js';
import { runAttached, type Attached } from '../services/attached-tui.js';
import type { RuntimeService } from '../services/runtime-service.js';
import type { DaemonClient } from './daemon-client.js';

/** Runs the agent's TUI for `project` through the daemon of `client`; resolves with its exit code. */
export async function attachThroughDaemon(client: DaemonClient, project: Project, runtime: () => Promise<RuntimeService>): Promise<number> {
  const closing = new AbortController();
  let opened!: (attached: Attached) => void;
  let refused!: (error: Error) => void;
  const attached = new Promise<Attached>((resolve, reject) => ((opened = resolve), (refused = reject)));
  const stream = client
    .stream('POST', `/v1/projects/${encodeURIComponent(project.name)}/attach`, {}, (event, data) => {
      if (event === 'attached') opened(data as Attached);
      if (event === 'refused') refused(new BerthError((data as { error: string }).error));
    }, closing.signal)
    .then(
      () => refused(new BerthError('the berth daemon closed the conversation before the agent could open it')),
      (error: unknown) => refused(error instanceof Error ? error : new Error(String(error))),
    );
  try {
    return await runAttached(await attached, project, runtime);
  } finally {
    closing.abort();
    await stream;
  }
}
