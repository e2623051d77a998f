/**
 * "Needs you" at a glance, in real terminals (tmux), with the built binary,
 * the real claude CLI and the fake API, workspace mode: the dashboard shows
 * which agent waits for you and counts them, a key jumps to it, the chat
 * answers it, a second control center sees the same prompt and loses it when
 * the first answers, the terminal gets the bell and a desktop notification,
 * and the daemon runs notify.command, an argv, with the event in its environment.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { message, text, toolUse } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
import { waitFor } from '../helpers/processes.js';
import { TmuxSession } from '../helpers/tmux.js';
import { useWorkspaceChat } from '../helpers/workspace-chat.js';

const chat = useWorkspaceChat({ prefix: 'berth-e2e-approvals-' });
// Not one of the file commands that acceptEdits (the default permission mode) allows by itself.
const PROOF = "sh -c 'echo berth > proof.txt'";

describe('needs you, at a glance (tmux, real CLI, fake API)', () => {
  const terminals: TmuxSession[] = [];
  afterEach(async () => {
    for (const terminal of terminals.splice(0)) await terminal.kill();
  });

  const berth = (args: string[]) => runBerth(args, { home: chat.home, env: chat.env });

  async function controlCenter(): Promise<TmuxSession> {
    const terminal = await TmuxSession.start({ columns: 110, rows: 30, cwd: chat.home, env: { ...chat.env, BERTH_HOME: chat.home } });
    terminals.push(terminal);
    await terminal.type(`node ${BERTH_BIN}`);
    await terminal.press('Enter');
    await terminal.waitFor((screen) => /zed\s+workspace/.test(screen));
    return terminal;
  }

  it('shows the waiting agent on its row and in the header, jumps to it, and an answer in one control center clears the other', async () => {
    const record = path.join(chat.home, 'notified.jsonl');
    const recorder = path.join(chat.home, 'record.cjs');
    await writeFile(
      recorder,
      "require('fs').appendFileSync(process.argv[2], JSON.stringify({ args: process.argv.slice(3), project: process.env.BERTH_PROJECT, event: process.env.BERTH_EVENT, message: process.env.BERTH_MESSAGE }) + '\\n');\n",
    );
    for (const args of [['project', 'add', 'mid'], ['project', 'add', 'zed'], ['config', 'set', 'notify.command', JSON.stringify(['node', recorder, record, '$(touch pwned) ;x'])]]) {
      expect((await berth(args)).exitCode).toBe(0);
    }
    const first = await controlCenter();
    const second = await controlCenter();
    const raw = path.join(chat.home, 'first-terminal.raw');
    await execa('tmux', ['pipe-pane', '-t', first.name, '-o', `cat >> '${raw}'`]);

    chat.fake.reply(message(toolUse('Bash', { command: PROOF, description: 'Write a proof file' })), message(text('Written.')));
    // The last row's agent waits: the jump has somewhere to go from the first.
    const turn = execa('node', [BERTH_BIN, 'chat', 'zed', 'Write a proof file', '--json'], { reject: false, cwd: chat.home, env: { BERTH_HOME: chat.home, NO_COLOR: '1', ...chat.env }, stdin: 'ignore' });

    const waiting = await first.waitFor((screen) => /zed\s+workspace.*\? waiting/.test(screen), 30_000);
    expect(waiting.split('\n')[0]).toContain('? 1 waiting for you');
    expect(waiting).toMatch(/› web\s+workspace.*· idle/);
    expect(waiting).toMatch(/mid\s+workspace.*· idle/);
    // The jump key lands on the waiting row, from wherever the selection is.
    await first.press('w');
    await first.waitFor((screen) => screen.includes('› zed'));
    await first.press('Enter');
    await first.waitFor((screen) => screen.includes(`? Bash waits for you: y allow once · a always (Bash(${PROOF})) · n deny`));
    await second.press('w');
    await second.waitFor((screen) => screen.includes('› zed'));
    await second.press('Enter');
    await second.waitFor((screen) => screen.includes('Bash waits for you'));

    // Keys typed within half a second of the prompt are taken for the message being written, not as the answer.
    await sleep(600);
    await first.press('y');
    const cleared = await second.waitFor((screen) => screen.includes('Written.') && !screen.includes('waits for you'), 30_000);
    expect(cleared).toMatch(/✓ allowed by the control center \(pid \d+\)/);
    expect(cleared.split('\n')[0]).not.toContain('waiting for you');
    expect((await turn).exitCode).toBe(0);
    expect(await readFile(path.join(chat.home, 'workspaces', 'zed', 'proof.txt'), 'utf8')).toBe('berth\n');

    // The bell and the desktop notification, through tmux's passthrough (the control center runs inside tmux).
    await waitFor(async () => (await readFile(raw, 'latin1').catch(() => '')).includes('finished its turn'), 'the done notification written', 10_000);
    const written = await readFile(raw, 'latin1');
    expect(written).toContain('\u0007\u001BPtmux;\u001B\u001B]9;zed waits for you: Bash\u0007\u001B\u001B]777;notify;berth;zed waits for you: Bash\u0007\u001B\\');
    expect(written).toContain('\u001B\u001B]9;zed finished its turn\u0007');

    // notify.command: an argv, its last argument as it was (no shell), the event in its environment.
    await waitFor(async () => (await readFile(record, 'utf8').catch(() => '')).split('\n').filter(Boolean).length >= 2, 'notify.command run twice', 10_000);
    const runs = (await readFile(record, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(runs).toEqual([
      { args: ['$(touch pwned) ;x'], project: 'zed', event: 'waiting', message: 'zed waits for you: Bash' },
      { args: ['$(touch pwned) ;x'], project: 'zed', event: 'done', message: 'zed finished its turn' },
    ]);
    expect(existsSync(path.join(chat.home, 'pwned'))).toBe(false);
  });
});
