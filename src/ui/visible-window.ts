/** Which rows of a long list are shown. Pure. */
export interface VisibleWindow {
  /** The first row shown. */
  start: number;
  /** One past the last row shown. */
  end: number;
}

/**
 * The `height` rows to show out of `total` so that `selected` is among them,
 * moving as little as possible from the window that started at
 * `previousStart`: the list scrolls only when the selection reaches an edge.
 */
export function visibleWindow(total: number, selected: number, height: number, previousStart = 0): VisibleWindow {
  const rows = Math.max(0, Math.floor(height));
  const count = Math.max(0, Math.floor(total));
  if (rows === 0 || count === 0) return { start: 0, end: 0 };
  if (count <= rows) return { start: 0, end: count };
  const lastStart = count - rows;
  let start = Math.min(Math.max(0, Math.floor(previousStart)), lastStart);
  // No selection (−1, or past the end after a removal): keep the window, clamped.
  if (selected >= 0 && selected < count) {
    if (selected < start) start = selected;
    else if (selected >= start + rows) start = selected - rows + 1;
  }
  return { start, end: start + rows };
}
