/** How the dashboard shares the terminal between the list and the details. Pure. */
export interface DashboardLayout {
  /** Side by side on wide terminals, else the details under the list. */
  sideBySide: boolean;
  listWidth: number;
  listHeight: number;
  detailsWidth: number;
  detailsHeight: number;
}

/** Lines the dashboard keeps for itself: the header, the status line and the key hints. */
export const DASHBOARD_CHROME_ROWS = 3;

export function dashboardLayout(columns: number, rows: number): DashboardLayout {
  const body = Math.max(0, rows - DASHBOARD_CHROME_ROWS);
  if (columns >= 140) {
    const detailsWidth = Math.min(60, Math.floor(columns * 0.38));
    return { sideBySide: true, listWidth: columns - detailsWidth - 1, listHeight: body, detailsWidth, detailsHeight: body };
  }
  // At 80x24: 13 rows of list (12 projects), 8 of details.
  const detailsHeight = body >= 16 ? Math.min(10, Math.floor(body * 0.38)) : 0;
  return { sideBySide: false, listWidth: columns, listHeight: body - detailsHeight, detailsWidth: columns, detailsHeight };
}
