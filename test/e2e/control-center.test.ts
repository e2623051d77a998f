import { afterEach, describe, expect, it } from 'vitest';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
import { useTempDirs } from '../helpers/temp.js';
import { TmuxSession } from '../helpers/tmux.js';

describe('berth control center in a real terminal (tmux)', () => {
  const tempDir = useTempDirs();
  let session: TmuxSession | undefined;
  afterEach(async () => {
    await session?.kill();
  });

  it('opens full screen with the projects and gives the terminal back clean on q', async () => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'alpha'], { home });
    // CI=true as on a CI machine, where Ink would draw nothing live unless berth sees to it.
    session = await TmuxSession.start({ columns: 80, rows: 24, cwd: home, env: { BERTH_HOME: home, CI: 'true' } });
    await session.type('echo before-berth');
    await session.press('Enter');
    await session.waitFor((screen) => screen.includes('before-berth\n$'));

    await session.type(`node ${BERTH_BIN}`);
    await session.press('Enter');
    const opened = await session.waitFor((screen) => /alpha\s+workspace\s+● ready/.test(screen));
    expect(opened).not.toContain('before-berth');
    expect(opened.split('\n')[0]).toMatch(/^berth\s+\d+\.\d+\.\d+/);

    await session.type('q');
    const restored = await session.waitFor((screen) => !screen.includes('alpha') && screen.trimEnd().endsWith('\n$'));
    expect(restored).toContain('before-berth');
    expect(restored).toContain(`$ node ${BERTH_BIN}`);
  });

  it('takes a key pressed before its first frame is drawn (raw mode from the moment it takes the screen)', async () => {
    const home = await tempDir();
    await runBerth(['project', 'add', 'alpha'], { home });
    session = await TmuxSession.start({ columns: 80, rows: 24, cwd: home, env: { BERTH_HOME: home } });
    await runBerth(['daemon', 'restart'], { home });
    await session.type(`node ${BERTH_BIN}`);
    await session.press('Enter');
    const deadline = Date.now() + 15_000;
    while (!(await session.alternateScreenOn())) {
      if (Date.now() > deadline) throw new Error('berth never took the alternate screen');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    // Before the first frame: the dashboard draws in about 0.2 s after this.
    await session.press('Enter');
    await session.waitFor((screen) => screen.includes('chat · alpha'));
  });

  it('gives the terminal back on Ctrl-C too', async () => {
    const home = await tempDir();
    session = await TmuxSession.start({ columns: 100, rows: 30, cwd: home, env: { BERTH_HOME: home } });
    await session.type(`node ${BERTH_BIN}`);
    await session.press('Enter');
    await session.waitFor((screen) => screen.includes('No projects yet'));
    await session.press('C-c');
    const restored = await session.waitFor((screen) => !screen.includes('No projects yet') && screen.trimEnd().endsWith('$'));
    expect(restored).toContain(`node ${BERTH_BIN}`);
  });

  it('gives the terminal back when berth is killed with SIGTERM', async () => {
    const home = await tempDir();
    session = await TmuxSession.start({ columns: 80, rows: 24, cwd: home, env: { BERTH_HOME: home } });
    await session.type(`node ${BERTH_BIN}; echo "exit=$?"`);
    await session.press('Enter');
    await session.waitFor((screen) => screen.includes('No projects yet'));
    await session.signalForeground('SIGTERM');
    const restored = await session.waitFor((screen) => /exit=\d/.test(screen));
    expect(restored).not.toContain('No projects yet');
    expect(restored).toContain('exit=143');
  });

  it('takes its keys from the settings: a remapped key works, the old one does nothing, and the help says so', async () => {
    const home = await tempDir();
    expect((await runBerth(['config', 'set', 'keys.quit', 'Q'], { home })).exitCode).toBe(0);
    expect((await runBerth(['config', 'set', 'keys.openChat', 'o'], { home })).exitCode).toBe(0);
    await runBerth(['project', 'add', 'alpha'], { home });
    session = await TmuxSession.start({ columns: 100, rows: 30, cwd: home, env: { BERTH_HOME: home } });
    await session.type(`node ${BERTH_BIN}`);
    await session.press('Enter');
    await session.waitFor((screen) => /alpha\s+workspace/.test(screen) && screen.includes('o chat'));
    await session.type('?');
    const help = await session.waitFor((screen) => screen.includes('keys — Esc or ? closes'));
    expect(help).toMatch(/\bQ\s+quit\b/);
    expect(help).toMatch(/\bo\s+chat with the agent/);
    await session.press('Escape');
    await session.waitFor((screen) => !screen.includes('keys — Esc'));
    await session.type('q');
    await session.type('c');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const still = await session.screen();
    expect(still).toMatch(/alpha\s+workspace/);
    expect(still).not.toContain('chat · alpha');
    await session.type('o');
    await session.waitFor((screen) => screen.includes('chat · alpha'));
    await session.press('Escape');
    await session.waitFor((screen) => /alpha\s+workspace/.test(screen));
    await session.type('Q');
    await session.waitFor((screen) => !screen.includes('alpha') && screen.trimEnd().endsWith('$'));
  });
});
