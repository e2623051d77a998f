import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { writing } from './write-error.js';

export interface AuditEvent {
  time: string;
  project: string;
  action: string;
  reason: string;
  [detail: string]: unknown;
}

/**
 * `audit.jsonl`: one JSON object per lifecycle event, appended. One write per
 * line, so a crash loses at most the line being written and readers never see
 * half of one between two whole ones.
 */
export class AuditLog {
  constructor(readonly file: string) {}

  async append(event: Omit<AuditEvent, 'time'> & { time?: string }): Promise<void> {
    const line = JSON.stringify({ time: new Date().toISOString(), ...event });
    await writing(this.file, async () => {
      await mkdir(path.dirname(this.file), { recursive: true });
      const handle = await open(this.file, 'a', 0o600);
      try {
        const { size } = await handle.stat();
        // A line cut short by a full disk is taken back, so the next one does not fuse with it.
        await handle.appendFile(`${line}\n`, 'utf8').catch(async (error: unknown) => {
          await handle.truncate(size).catch(() => undefined);
          throw error;
        });
      } finally {
        await handle.close();
      }
    });
  }

  /**
   * The last `limit` events that `matches` keeps, newest first, from the end
   * of the file only (its last MiB): the log only grows, and recent is what is asked.
   */
  async recent(matches: (event: AuditEvent) => boolean, limit: number): Promise<AuditEvent[]> {
    const handle = await open(this.file, 'r').catch(() => undefined);
    if (!handle) return [];
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, TAIL_BYTES);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      const lines = buffer.toString('utf8').split('\n');
      // The first line may be cut by the window: it is parsed like the others, and dropped when it does not parse.
      const found: AuditEvent[] = [];
      for (let index = lines.length - 1; index >= 0 && found.length < limit; index -= 1) {
        const event = parseEvent(lines[index]!);
        if (event && matches(event)) found.push(event);
      }
      return found;
    } finally {
      await handle.close();
    }
  }
}

const TAIL_BYTES = 1024 * 1024;

function parseEvent(line: string): AuditEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as AuditEvent;
  } catch {
    return undefined;
  }
}
