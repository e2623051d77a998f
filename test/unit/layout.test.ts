import { describe, expect, it } from 'vitest';
import { DASHBOARD_CHROME_ROWS, dashboardLayout } from '../../src/ui/layout.js';

describe('the dashboard layout', () => {
  it('fills the terminal exactly, at every size', () => {
    for (const [columns, rows] of [[80, 24], [100, 30], [160, 50], [40, 10], [80, 5]] as const) {
      const layout = dashboardLayout(columns, rows);
      const body = layout.sideBySide ? layout.listHeight : layout.listHeight + layout.detailsHeight;
      expect(body + DASHBOARD_CHROME_ROWS, `${columns}x${rows}`).toBe(Math.max(DASHBOARD_CHROME_ROWS, rows));
      expect(layout.sideBySide ? layout.listWidth + 1 + layout.detailsWidth : layout.listWidth).toBeLessThanOrEqual(columns);
    }
  });

  it('puts the details beside the list only when there is room', () => {
    expect(dashboardLayout(80, 24).sideBySide).toBe(false);
    expect(dashboardLayout(80, 24).detailsHeight).toBeGreaterThan(0);
    expect(dashboardLayout(160, 40).sideBySide).toBe(true);
    expect(dashboardLayout(80, 12).detailsHeight).toBe(0);
  });
});
