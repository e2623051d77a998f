/** Cuts a stream into pieces of 1 to 97 characters, the same way for the same seed: as a pipe may deliver it. */
export function randomPieces(value: string, seed: number): string[] {
  let state = seed >>> 0;
  const pieces: string[] = [];
  for (let start = 0; start < value.length; ) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    const end = start + 1 + (state % 97);
    pieces.push(value.slice(start, end));
    start = end;
  }
  return pieces;
}
