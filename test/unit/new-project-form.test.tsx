import { describe, expect, it } from 'vitest';
import { NEW_PROJECT_FORM_HEIGHT, NewProjectForm, type NewProjectValues } from '../../src/ui/components/overlays/new-project-form.js';
import { renderPaced } from '../helpers/paced-render.js';

const TAB = '\t';
const SHIFT_TAB = '\u001B[Z';
const ENTER = '\r';
const ESC = '\u001B';
const DOWN = '\u001B[B';
const UP = '\u001B[A';
const RIGHT = '\u001B[C';

function form(props: { error?: string; busy?: boolean; defaultMode?: 'workspace' | 'container' } = {}) {
  const submitted: NewProjectValues[] = [];
  let cancels = 0;
  const app = renderPaced(
    <NewProjectForm
      width={70}
      defaultMode={props.defaultMode ?? 'workspace'}
      error={props.error}
      busy={props.busy}
      onSubmit={(values) => submitted.push(values)}
      onCancel={() => (cancels += 1)}
    />,
  );
  const type = async (...keys: string[]) => {
    for (const key of keys) app.write(key);
    await app.settled();
  };
  return { app, submitted, cancels: () => cancels, type, frame: () => app.lastFrame() };
}

describe('NewProjectForm', () => {
  it('fills name, path and mode from the keyboard and submits them on Enter', async () => {
    const f = form();
    await f.type('', 'web', TAB, '/srv/web', TAB, ' ');
    expect(f.frame()).toMatch(/○ workspace\s+● container/);
    await f.type(ENTER);
    expect(f.submitted).toEqual([{ name: 'web', path: '/srv/web', mode: 'container' }]);
  });

  it('types spaces and letters into the focused field only, and moves back with Shift-Tab and ↑', async () => {
    const f = form({ defaultMode: 'container' });
    await f.type('', 'api', DOWN, 'my dir', SHIFT_TAB, '2', DOWN, DOWN, RIGHT, UP, 'x');
    // Mode toggled once by →; the x after ↑ went to the path.
    await f.type(ENTER);
    expect(f.submitted).toEqual([{ name: 'api2', path: 'my dirx', mode: 'workspace' }]);
  });

  it('says why a name is invalid and does not submit it', async () => {
    const f = form();
    await f.type('', 'Web');
    expect(f.frame()).toContain('✗ it must start with a lower-case letter or a digit');
    await f.type(TAB, ENTER);
    expect(f.submitted).toEqual([]);
  });

  it('asks for a name when Enter comes first, and leaves the path empty for berth to create', async () => {
    const f = form();
    await f.type('', ENTER);
    expect(f.submitted).toEqual([]);
    expect(f.frame()).toContain('✗ it is empty');
    expect(f.frame()).toContain('empty, berth creates the workspace');
    await f.type('ok', ENTER);
    expect(f.submitted).toEqual([{ name: 'ok', path: '', mode: 'workspace' }]);
  });

  it('cancels on Esc without submitting', async () => {
    const f = form();
    await f.type('', 'web', ESC);
    expect(f.cancels()).toBe(1);
    expect(f.submitted).toEqual([]);
  });

  it('shows the service error, and while busy says so and takes no input', async () => {
    expect(form({ error: 'a project named web exists already' }).frame()).toContain('✗ a project named web exists already');
    const f = form({ busy: true });
    expect(f.frame()).toContain('creating…');
    await f.type('', 'web', ENTER, ESC);
    expect(f.submitted).toEqual([]);
    expect(f.cancels()).toBe(0);
    expect(f.frame()).not.toContain('web');
  });

  it('keeps its height whatever it shows', () => {
    expect(form().frame().split('\n').length).toBe(NEW_PROJECT_FORM_HEIGHT);
    expect(form({ error: 'boom', busy: true }).frame().split('\n').length).toBe(NEW_PROJECT_FORM_HEIGHT);
  });
});
