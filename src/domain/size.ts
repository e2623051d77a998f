const UNIT_BYTES = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;
type Unit = keyof typeof UNIT_BYTES;

export const SIZE_PATTERN = /^([1-9][0-9]{0,6})([kmg])$/i;

/** `512m`, `2g` to bytes; undefined for anything else. */
export function parseSize(text: string): number | undefined {
  const match = SIZE_PATTERN.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_BYTES[match[2]!.toLowerCase() as Unit];
}

/** Bytes as a setting writes them: `2g`, `512m`, `64k` (rounded to the largest unit that keeps a whole number, else megabytes). */
export function formatSize(bytes: number): string {
  for (const unit of ['g', 'm', 'k'] as const) {
    if (bytes >= UNIT_BYTES[unit] && bytes % UNIT_BYTES[unit] === 0) return `${bytes / UNIT_BYTES[unit]}${unit}`;
  }
  return `${Math.round(bytes / UNIT_BYTES.m)}m`;
}
