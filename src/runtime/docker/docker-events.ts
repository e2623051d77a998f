// The engine's events stream for berth's containers, followed until aborted:
// reconnects with backoff when the engine goes away, and says so.
import { StringDecoder } from 'node:string_decoder';
import type Dockerode from 'dockerode';
import { LABELS } from '../../domain/container.js';
import type { EngineEvent } from '../types.js';

export interface EventsBackoff {
  initialMs: number;
  maxMs: number;
  /** A connection that stayed up this long resets the delay to `initialMs`. */
  healthyAfterMs: number;
}

export const DEFAULT_EVENTS_BACKOFF: EventsBackoff = { initialMs: 500, maxMs: 30_000, healthyAfterMs: 10_000 };

/**
 * Calls `onEvent` for every event of a container labelled berth.managed=true
 * until `signal` aborts. When the stream breaks (or cannot be opened) it emits
 * `disconnected` once, retries with a doubling delay, and emits `reconnected`
 * when a stream is open again; events in between are lost, so a listener
 * should re-read the engine's state on `reconnected`.
 */
export function watchDockerEvents(
  docker: Dockerode,
  onEvent: (event: EngineEvent) => void,
  signal: AbortSignal,
  backoff: EventsBackoff = DEFAULT_EVENTS_BACKOFF,
): void {
  void followEvents(docker, onEvent, signal, backoff);
}

async function followEvents(
  docker: Dockerode,
  onEvent: (event: EngineEvent) => void,
  signal: AbortSignal,
  backoff: EventsBackoff,
): Promise<void> {
  let delayMs = backoff.initialMs;
  let disconnected = false;
  const emit = (event: EngineEvent): void => {
    if (!signal.aborted) onEvent(event);
  };
  while (!signal.aborted) {
    let connectedAt: number | undefined;
    let failure: unknown;
    try {
      const stream = await openEventStream(docker, signal);
      connectedAt = Date.now();
      if (disconnected) {
        disconnected = false;
        emit({ kind: 'reconnected' });
      }
      await readEvents(stream, emit, signal);
      failure = new Error('the engine closed the events stream');
    } catch (error) {
      failure = error;
    }
    if (signal.aborted) return;
    if (connectedAt !== undefined && Date.now() - connectedAt >= backoff.healthyAfterMs) delayMs = backoff.initialMs;
    if (!disconnected) {
      disconnected = true;
      emit({ kind: 'disconnected', error: oneLine(failure) });
    }
    await sleep(delayMs, signal);
    delayMs = Math.min(delayMs * 2, backoff.maxMs);
  }
}

async function openEventStream(docker: Dockerode, signal: AbortSignal): Promise<NodeJS.ReadableStream> {
  // abortSignal reaches docker-modem, which destroys the request (and so the stream) on abort.
  const options = {
    filters: { type: ['container'], label: [`${LABELS.managed}=true`] },
    abortSignal: signal,
  } as Parameters<Dockerode['getEvents']>[0];
  return docker.getEvents(options);
}

/** Resolves when the stream ends, rejects when it fails. */
function readEvents(stream: NodeJS.ReadableStream, emit: (event: EngineEvent) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = new JsonLines();
    const onAbort = (): void => {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (error?: unknown): void => {
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    stream.on('data', (chunk: Buffer | string) => {
      for (const value of lines.push(chunk)) {
        const event = engineEventOf(value);
        if (event) emit(event);
      }
    });
    stream.on('end', () => done());
    stream.on('close', () => done());
    stream.on('error', (error) => done(error));
  });
}

/**
 * Splits a byte stream of newline-separated JSON values: a chunk may hold part
 * of a line, or several lines. A line that is not JSON is skipped, not fatal.
 */
export class JsonLines {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  push(chunk: Buffer | string): unknown[] {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    const values: unknown[] = [];
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        values.push(JSON.parse(line));
      } catch {
        // A garbled line loses one event; a listener re-reads state on reconnect anyway.
      }
    }
    return values;
  }
}

interface DockerEventMessage {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

export function engineEventOf(value: unknown): EngineEvent | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const message = value as DockerEventMessage;
  const containerId = message.Actor?.ID;
  if (message.Type !== 'container' || !message.Action || !containerId) return undefined;
  const project = message.Actor?.Attributes?.[LABELS.project];
  return project === undefined
    ? { kind: 'container', action: message.Action, containerId }
    : { kind: 'container', action: message.Action, containerId, project };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split('\n')[0] ?? text).trim();
}
