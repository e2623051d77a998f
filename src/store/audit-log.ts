import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';

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
    await mkdir(path.dirname(this.file), { recursive: true });
    await appendFile(this.file, `${line}\n`, { encoding: 'utf8', mode: 0o600 });
  }
}
