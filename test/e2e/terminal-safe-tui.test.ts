/**
 * The control center in a real terminal (tmux) with the built binary, the
 * real claude CLI and the fake API, workspace mode: a multi-line paste is one
 * message, and a reply full of escape sequences is shown, not acted on.
 * Everything berth writes to the terminal is recorded (pipe-pane) and read too.
 */
import { execa } from 'execa';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareClaudeEnv, type ClaudeEnv } from '../fixtures/claude-env.js';
import { message, startFakeAnthropic, text, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
import { useTempDirs } from '../helpers/temp.js';
import { HOSTILE, HOSTILE_SHOWN } from '../helpers/terminal-text.js';
import { stopDaemonOf } from '../helpers/daemon.js';
import { TmuxSession } from '../helpers/tmux.js';

const CLI_BIN_DIR = fileURLToPath(new URL('../../node_modules/.bin', import.meta.url));
const ESC = '\u001B';

describe('the control center, a paste and a hostile reply (tmux, real CLI, fake API)', () => {
  const tempDir = useTempDirs();
  let fake: FakeAnthropic | undefined;
  let cli: ClaudeEnv | undefined;
  let session: TmuxSession | undefined;
  let home: string | undefined;

  afterEach(async () => {
    await session?.kill();
    session = undefined;
    // The daemon's agent writes to the CLI's home until it ends: it goes first.
    if (home) await stopDaemonOf(home);
    home = undefined;
    await fake?.close();
    await cli?.cleanup();
  });

  it('sends a multi-line paste as one message, and shows the reply\'s escape sequences without running them', async () => {
    fake = await startFakeAnthropic();
    home = await tempDir('berth-e2e-');
    cli = await prepareClaudeEnv({ baseUrl: fake.url });
    expect((await runBerth(['project', 'add', 'web'], { home })).exitCode).toBe(0);
    fake.reply(message(text(`Here it is: ${HOSTILE} and more.`)));
    session = await TmuxSession.start({
      columns: 100,
      rows: 30,
      cwd: home,
      env: { ...cli.env, PATH: `${CLI_BIN_DIR}:${cli.env.PATH}`, BERTH_HOME: home },
    });
    const raw = path.join(home, 'terminal.raw');
    await execa('tmux', ['pipe-pane', '-o', '-t', session.name, `cat >> ${raw}`]);
    await session.type(`node ${BERTH_BIN}`);
    await session.press('Enter');
    await session.waitFor((screen) => /web\s+workspace/.test(screen));
    await session.press('Enter');
    await session.waitFor((screen) => screen.includes('chat · web') && screen.includes('No messages yet'));

    // tmux pastes with the bracket codes only when the program asked for them (mode 2004), and sends each newline as CR.
    const buffer = `berth-test-${randomUUID().slice(0, 8)}`;
    await execa('tmux', ['load-buffer', '-b', buffer, '-'], { input: 'first line\nsecond line\n  third' });
    await execa('tmux', ['paste-buffer', '-p', '-d', '-b', buffer, '-t', session.name]);
    await session.waitFor((screen) => screen.includes('› first line⏎second line⏎  third'));
    expect(fake.mainRequests()).toHaveLength(0);
    await session.press('Enter');
    const replied = await session.waitFor((screen) => screen.includes('no files changed') && !screen.includes('turn running'), 60_000);
    expect(replied).toContain(`Here it is: ${HOSTILE_SHOWN} and more.`);
    expect(replied).toMatch(/> first line\n\s+second line\n\s+third/);
    expect(fake.mainRequests()).toHaveLength(1);
    expect(JSON.stringify(fake.mainRequests()[0]!.body?.messages)).toContain('first line\\nsecond line\\n  third');
    // The title is not the reply's, and the screen was not cleared under berth.
    expect((await execa('tmux', ['display-message', '-p', '-t', session.name, '#{pane_title}'])).stdout).not.toBe('owned');
    expect(replied).toContain('chat · web');

    await session.press('Escape');
    await session.waitFor((screen) => /web\s+workspace/.test(screen) && !screen.includes('chat · web'));
    await session.type('q');
    await session.waitFor((screen) => screen.trimEnd().endsWith('$'));
    await execa('tmux', ['pipe-pane', '-t', session.name]);
    const written = await readFile(raw, 'utf8');
    // Bracketed paste on with the alternate screen, off before leaving it (bash then sets its own).
    expect(written).toContain(`${ESC}[?1049h${ESC}[H${ESC}[?2004h`);
    expect(written).toContain(`${ESC}[?2004l${ESC}[?1049l`);
    expect(written).not.toContain(`${ESC}]52`);
    expect(written).not.toContain(`${ESC}]0;owned`);
    expect(written).not.toContain('\u009B');
  }, 120_000);
});
