/**
 * How the control center writes numbers, sizes and times: short, so they fit
 * narrow columns, and pure (the clock comes in as `now`).
 */
import { visibleText } from '../domain/visible-text.js';

const BYTE_UNITS = ['B', 'K', 'M', 'G', 'T', 'P'] as const;

/** Binary units, as memory limits are set: 1288490188 → `1.2G`, 536870912 → `512M`, 900 → `900B`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${Math.round(value)}B`;
  // One decimal only below 10, where it says something: `1.2G`, but `512M`.
  let shown = value < 9.95 ? value.toFixed(1) : String(Math.round(value));
  // Four digits would not fit the columns (1000K to 1023.7M, which reads `1024M`): say `1.0M`, `1.0G` instead.
  if (Number(shown) >= 1000 && unit < BYTE_UNITS.length - 1) {
    unit += 1;
    shown = (Number(shown) / 1024).toFixed(1);
  }
  return `${shown}${BYTE_UNITS[unit]}`;
}

/** `3.4%` below 10, then whole numbers: `45%`, `180%` (several CPUs). */
export function formatPercent(percent: number): string {
  if (!Number.isFinite(percent)) return '—';
  const value = Math.max(0, percent);
  return value < 9.95 ? `${value.toFixed(1)}%` : `${Math.round(value)}%`;
}

/** `412M/2.0G`; just the use when there is no limit (0 or unknown). */
export function formatMemory(used: number, limit: number | undefined): string {
  return limit !== undefined && limit > 0 ? `${formatBytes(used)}/${formatBytes(limit)}` : formatBytes(used);
}

/** When a project was last used: `12s ago`, `3m ago`, `2h ago`, `5d ago`; `—` for never. */
export function formatLastActive(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return '—';
  const seconds = Math.max(0, Math.floor((now - time) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3_600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

/** A span in its two largest units: `45s`, `12m`, `3h12m`, `2d5h`. */
export function formatUptime(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
}

/** How long a turn took: `850ms`, `12.3s`, then as uptimes (`2m`, `1h5m`). */
export function formatElapsed(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)}s`;
  return formatUptime(ms);
}

/** Agent costs are often fractions of a cent: `$0.0123` below a dollar, `$4.56` above. */
export function formatUsd(usd: number): string {
  if (!Number.isFinite(usd)) return '—';
  if (usd === 0) return '$0.00';
  return usd < 1 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** Token counts, decimal: `512`, `1.2k`, `34k`, `1.5M`. */
export function formatCount(count: number): string {
  if (!Number.isFinite(count)) return '—';
  const value = Math.max(0, Math.round(count));
  if (value < 1_000) return String(value);
  if (value < 9_950) return `${(value / 1_000).toFixed(1)}k`;
  if (value < 999_500) return `${Math.round(value / 1_000)}k`;
  if (value < 9_950_000) return `${(value / 1_000_000).toFixed(1)}M`;
  return `${Math.round(value / 1_000_000)}M`;
}

/**
 * Cuts `text` to `width` characters, marking the cut with `…`; on one line,
 * its controls made visible (a name, a path, an engine's error come from outside).
 */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  const line = visibleText(text, 'line');
  if (line.length <= width) return line;
  return width === 1 ? '…' : `${line.slice(0, width - 1)}…`;
}

/** Exactly `width` characters: cut with `…`, or padded with spaces (on the left for `right`). */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const cut = truncate(text, width);
  return align === 'right' ? cut.padStart(width) : cut.padEnd(width);
}

/** An error as one short line: its first line, spaces collapsed, cut at `max`. */
export function oneLine(text: string, max = 60): string {
  const first = text.split(/\r?\n/).find((line) => line.trim() !== '') ?? '';
  return truncate(first.replace(/\s+/g, ' ').trim(), max);
}
