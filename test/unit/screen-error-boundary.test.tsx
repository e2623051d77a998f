import { describe, expect, it, vi } from 'vitest';
import { ScreenErrorBoundary } from '../../src/ui/components/screen-error-boundary.js';
import { renderPaced } from '../helpers/paced-render.js';

function Broken(): never {
  throw new Error('a bug in a screen\nwith a second line');
}

describe('ScreenErrorBoundary', () => {
  it('shows a screen that throws as one line, and goes back on Esc', async () => {
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    let resets = 0;
    const app = renderPaced(
      <ScreenErrorBoundary width={80} onReset={() => (resets += 1)}>
        <Broken />
      </ScreenErrorBoundary>,
    );
    expect(app.lastFrame()).toContain('✗ berth could not draw this screen: a bug in a screen');
    expect(app.lastFrame()).not.toContain('second line');
    app.write('\r');
    await app.settled();
    expect(resets).toBe(1);
    quiet.mockRestore();
  });
});
