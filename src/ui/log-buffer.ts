import { stripVTControlCharacters } from 'node:util';

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

/** What a terminal would draw of a log line: no escape sequences, no carriage returns or other controls. */
export function plainLogLine(line: string): string {
  let plain = '';
  for (const char of stripVTControlCharacters(line)) {
    if (char === '\t') plain += '  ';
    else if (char >= ' ' && char !== '\u007F') plain += char;
  }
  return plain;
}
