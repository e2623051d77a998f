/**
 * The requests of the daemon's agents that wait for a person: each holds its
 * turn's tool call until a client answers it (any client: the TUI, `berth
 * chat` on a terminal, `berth approve` from another shell), or until its turn
 * ends. Every change is told to the listeners, so that every client shows the
 * same prompts and an answer from one clears them all.
 */
import type { PendingRequest, RequestAnswer } from '../domain/approvals.js';
import { BerthError } from '../domain/errors.js';
import { quote } from '../domain/project.js';

export interface Answered {
  answer: RequestAnswer;
  by: string;
}

interface Waiting {
  request: PendingRequest;
  settle: (answered: Answered) => void;
}

export class PendingRequests {
  private readonly waiting = new Map<string, Waiting>();
  private readonly listeners = new Set<(requests: PendingRequest[]) => void>();

  /** Holds the request until it is answered, or withdrawn: by the agent (`withdrawn`), or with its turn. */
  wait(request: PendingRequest, withdrawn?: AbortSignal): Promise<Answered> {
    const gone = (): Answered => ({ answer: { allow: false, message: typeof withdrawn?.reason === 'string' ? withdrawn.reason : 'the agent withdrew it' }, by: 'the agent' });
    if (withdrawn?.aborted) return Promise.resolve(gone());
    return new Promise<Answered>((resolve) => {
      const waiting: Waiting = { request, settle: resolve };
      this.waiting.set(key(request.project, request.id), waiting);
      withdrawn?.addEventListener('abort', () => this.waiting.get(key(request.project, request.id)) === waiting && this.settle(waiting, gone()), { once: true });
      this.changed();
    });
  }

  /** Answers a waiting request of the project; one line of error when there is none by that id. */
  answer(project: string, id: string, answer: RequestAnswer, by: string): PendingRequest {
    const waiting = this.waiting.get(key(project, id));
    if (!waiting) throw new BerthError(`no request ${quote(id)} waits in ${project}: it was answered already, or its turn ended`);
    this.settle(waiting, { answer, by });
    return waiting.request;
  }

  /** Ends, as denied, what still waits in the project's turn: the turn is over, and nobody needs the answer. */
  withdraw(project: string, turn: number, why: string): void {
    for (const waiting of this.waiting.values()) {
      if (waiting.request.project === project && waiting.request.turn === turn) this.settle(waiting, { answer: { allow: false, message: why }, by: 'berth' });
    }
  }

  /** What waits, oldest first; of one project, or of all. */
  list(project?: string): PendingRequest[] {
    return [...this.waiting.values()].map((waiting) => waiting.request).filter((request) => project === undefined || request.project === project);
  }

  subscribe(listener: (requests: PendingRequest[]) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  private settle(waiting: Waiting, answered: Answered): void {
    this.waiting.delete(key(waiting.request.project, waiting.request.id));
    waiting.settle(answered);
    this.changed();
  }

  private changed(): void {
    const requests = this.list();
    for (const listener of this.listeners) {
      try {
        listener(requests);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}

function key(project: string, id: string): string {
  return `${project}\u0000${id}`;
}
