import { describe, expect, it } from 'vitest';
import { ConfirmDialog, confirmDialogHeight } from '../../src/ui/components/overlays/confirm-dialog.js';
import { renderPaced } from '../helpers/paced-render.js';

function dialog(isActive = true) {
  const answers: boolean[] = [];
  const app = renderPaced(
    <ConfirmDialog message="Remove the container of web?" detail="The workspace is kept." width={50} isActive={isActive} onAnswer={(yes) => answers.push(yes)} />,
  );
  return { app, answers };
}

describe('ConfirmDialog', () => {
  it('shows the question, the detail and the keys, within its height', () => {
    const { app } = dialog();
    const frame = app.lastFrame();
    expect(frame).toContain('! Remove the container of web?');
    expect(frame).toContain('The workspace is kept.');
    expect(frame).toContain('y yes · n/Esc no');
    expect(frame.split('\n').length).toBe(confirmDialogHeight('The workspace is kept.'));
  });

  it('confirms on y, once, and not on Enter', async () => {
    const { app, answers } = dialog();
    await app.settled();
    app.write('\r');
    app.write('x');
    await app.settled();
    expect(answers).toEqual([]);
    app.write('y');
    await app.settled();
    app.write('y');
    await app.settled();
    expect(answers).toEqual([true]);
  });

  it('refuses on n', async () => {
    const { app, answers } = dialog();
    await app.settled();
    app.write('n');
    await app.settled();
    expect(answers).toEqual([false]);
  });

  it('refuses on Esc', async () => {
    const { app, answers } = dialog();
    await app.settled();
    app.write('\u001B');
    await app.settled();
    expect(answers).toEqual([false]);
  });

  it('ignores keys while inactive', async () => {
    const { app, answers } = dialog(false);
    await app.settled();
    app.write('y');
    await app.settled();
    expect(answers).toEqual([]);
  });
});
