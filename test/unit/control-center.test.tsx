import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import type { Project } from '../../src/domain/project.js';
import { ControlCenter } from '../../src/ui/components/control-center.js';

const project = (name: string, mode: Project['mode'] = 'workspace'): Project => ({
  name,
  path: `/srv/${name}`,
  mode,
  ownsWorkspace: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  lastActive: null,
  state: mode === 'workspace' ? 'ready' : 'none',
});

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('ControlCenter', () => {
  it('shows the projects with their mode and state', () => {
    const { lastFrame } = render(
      <ControlCenter projects={[project('web'), project('api', 'container')]} columns={80} rows={24} version="1.2.3" onQuit={() => {}} />,
    );
    const frame = lastFrame() ?? '';
    expect(frame).toContain('berth');
    expect(frame).toContain('1.2.3');
    expect(frame).toMatch(/web\s+workspace\s+ready/);
    expect(frame).toMatch(/api\s+container\s+none/);
    expect(frame).toContain('q quit');
  });

  it('tells how to add the first project', () => {
    const { lastFrame } = render(<ControlCenter projects={[]} columns={80} rows={24} version="1" onQuit={() => {}} />);
    expect(lastFrame()).toContain('berth project add <name>');
  });

  it('never draws more rows than the terminal has', () => {
    const many = Array.from({ length: 100 }, (_, index) => project(`p${index}`));
    const { lastFrame } = render(<ControlCenter projects={many} columns={80} rows={24} version="1" onQuit={() => {}} />);
    const frame = lastFrame() ?? '';
    expect(frame.split('\n').length).toBeLessThanOrEqual(24);
    expect(frame).toContain('80 more');
  });

  it('quits on q and on nothing else', async () => {
    let quits = 0;
    const app = render(<ControlCenter projects={[]} columns={80} rows={24} version="1" onQuit={() => (quits += 1)} />);
    await tick();
    app.stdin.write('x');
    app.stdin.write('Q');
    await tick();
    expect(quits).toBe(0);
    app.stdin.write('q');
    await tick();
    expect(quits).toBe(1);
  });
});
