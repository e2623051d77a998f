const UNIT_BYTES = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;
type Unit = keyof typeof UNIT_BYTES;

export const SIZE_PATTERN = /^([1-9][0-9]{0,6})([kmg])$/i;

/** `512m`, `2g` to bytes; undefined for anything else. */
export function parseSize(text: string): number | undefined {
  const match = SIZE_PATTERN.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_BYTES[match[2]!.toLowerCase() as Unit];
}
