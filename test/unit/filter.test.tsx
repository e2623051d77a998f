import { useState } from 'react';
import { describe, expect, it } from 'vitest';
import { FilterBar } from '../../src/ui/components/overlays/filter-bar.js';
import { filterProjects } from '../../src/ui/filter-projects.js';
import { renderPaced } from '../helpers/paced-render.js';

const view = (name: string, mode: 'workspace' | 'container') => ({ project: { name, mode }, selected: false });
const views = [view('web-app', 'workspace'), view('api', 'container'), view('Docs', 'workspace'), view('webhooks', 'container')];
const names = (list: ReadonlyArray<{ project: { name: string } }>) => list.map((item) => item.project.name);

describe('filterProjects', () => {
  it('keeps the names containing the query, whatever the case, in order', () => {
    expect(names(filterProjects(views, 'WEB'))).toEqual(['web-app', 'webhooks']);
    expect(names(filterProjects(views, 'doc'))).toEqual(['Docs']);
    expect(filterProjects(views, 'nothing')).toEqual([]);
  });

  it('matches a mode typed in full, not a fragment of it', () => {
    expect(names(filterProjects(views, 'container'))).toEqual(['api', 'webhooks']);
    expect(names(filterProjects(views, ' Workspace '))).toEqual(['web-app', 'Docs']);
    expect(names(filterProjects(views, 'a'))).toEqual(['web-app', 'api']);
  });

  it('keeps everything for an empty query, as a new array', () => {
    const all = filterProjects(views, '  ');
    expect(all).toEqual(views);
    expect(all).not.toBe(views);
  });
});

function bar() {
  const events: string[] = [];
  function Harness() {
    const [value, setValue] = useState('');
    return (
      <FilterBar
        value={value}
        width={60}
        onChange={(next) => {
          events.push(`change:${next}`);
          setValue(next);
        }}
        onSubmit={(kept) => events.push(`submit:${kept}`)}
        onCancel={() => events.push('cancel')}
      />
    );
  }
  return { app: renderPaced(<Harness />), events };
}

describe('FilterBar', () => {
  it('shows the prompt and what is typed; Enter keeps the filter', async () => {
    const { app, events } = bar();
    expect(app.lastFrame()).toContain('/ ');
    expect(app.lastFrame()).toContain('Esc clear');
    await app.settled();
    app.write('we');
    await app.settled();
    app.write('b');
    await app.settled();
    expect(app.lastFrame()).toContain('/ web');
    app.write('\r');
    await app.settled();
    expect(events).toEqual(['change:w', 'change:we', 'change:web', 'submit:web']);
  });

  it('clears the filter and closes on Esc', async () => {
    const { app, events } = bar();
    await app.settled();
    app.write('api');
    await app.settled();
    app.write('\u001B');
    await app.settled();
    expect(events).toEqual(['change:a', 'change:ap', 'change:api', 'change:', 'cancel']);
    expect(app.lastFrame()).not.toContain('api');
  });
});
