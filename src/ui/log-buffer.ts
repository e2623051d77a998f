import { visibleText } from '../domain/visible-text.js';

/**
 * The last lines of a log stream, bounded: a container that logs for days
 * cannot grow berth's memory. Chunks split lines anywhere; the partial last
 * line is kept until its end arrives (and shown meanwhile).
 */
export class LogBuffer {
  private complete: string[] = [];
  private partial = '';

  constructor(private readonly maxLines = 5_000) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.complete.push(line.replace(/\r$/, ''));
    if (this.complete.length > this.maxLines) this.complete = this.complete.slice(-this.maxLines);
  }

  lines(): readonly string[] {
    return this.partial === '' ? this.complete : [...this.complete, this.partial];
  }
}

/** A log line as the screen shows it: its controls visible, never acted on (an escape sequence shows as `^[[…`), a tab two spaces. */
export function plainLogLine(line: string): string {
  return visibleText(line).replace(/\t/g, '  ');
}
