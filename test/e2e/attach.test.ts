/**
 * The agent's own TUI on the conversation, in a real terminal (tmux), with
 * the built binary, the real claude CLI (its interactive TUI) and the fake
 * API, workspace mode: `berth attach` and `o` in the control center hand the
 * terminal to `claude --resume <id>`; the daemon's live session steps aside
 * meanwhile (berth chat is refused in one line), and after the TUI exits the
 * conversation carries on in berth, with what was said in it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { message, text } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
import { processesRunning, waitFor } from '../helpers/processes.js';
import { TmuxSession } from '../helpers/tmux.js';
import { useWorkspaceChat } from '../helpers/workspace-chat.js';

const chat = useWorkspaceChat({ prefix: 'berth-e2e-attach-', trustWorkspace: true });

/** What the user said in the conversation, as the fake API last received it. */
function userWordsSent(): string {
  const messages = chat.fake.mainRequests().at(-1)?.body?.messages ?? [];
  return JSON.stringify(messages.filter((entry: { role: string }) => entry.role === 'user'));
}

describe("the agent's own TUI (tmux, the real CLI's TUI, fake API)", () => {
  let terminal: TmuxSession | undefined;
  afterEach(async () => {
    await terminal?.kill();
    terminal = undefined;
  });

  const berth = (args: string[]) => runBerth(args, { home: chat.home, env: chat.env });
  const open = async () => {
    terminal = await TmuxSession.start({ columns: 110, rows: 32, cwd: chat.home, env: { ...chat.env, BERTH_HOME: chat.home } });
    return terminal;
  };
  /** Says `words` in claude's TUI, waits for its reply, then leaves it with /exit. */
  const talkThenExit = async (shell: TmuxSession, words: string, reply: string) => {
    await shell.type(words);
    await shell.press('Enter');
    await shell.waitFor((screen) => screen.includes(reply), 30_000);
    await shell.type('/exit');
    await shell.waitFor((screen) => screen.includes('Exit the CLI'));
    await shell.press('Enter');
  };

  it('berth attach opens claude --resume on the conversation; berth chat waits for it to close, then carries on', async () => {
    chat.fake.reply(message(text('Said in berth.')), message(text('Said in the TUI.')), message(text('Back in berth.')));
    expect((await berth(['chat', 'web', 'first words'])).exitCode).toBe(0);
    const shell = await open();
    await shell.type(`node ${BERTH_BIN} attach web`);
    await shell.press('Enter');
    // The CLI's own TUI, on the same conversation.
    await shell.waitFor((screen) => screen.includes('first words') && screen.includes('Said in berth.'), 30_000);
    const refused = await berth(['chat', 'web', 'meanwhile']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toBe("berth: web's conversation is open in the agent's own TUI (berth attach): close it, then send the message\n");

    await talkThenExit(shell, 'words in the tui', 'Said in the TUI.');
    await shell.waitFor((screen) => screen.includes("berth: back from the agent's own TUI; berth chat web continues the conversation"), 15_000);
    const after = await berth(['chat', 'web', 'last words']);
    expect(after.exitCode).toBe(0);
    expect(after.stdout).toContain('Back in berth.');
    const said = userWordsSent();
    for (const words of ['first words', 'words in the tui', 'last words']) expect(said).toContain(words);
  });

  it('a berth attach killed with the TUI open: the daemon ends the TUI it left, and the conversation is berth\'s again', async () => {
    chat.fake.reply(message(text('Said in berth.')), message(text('Back in berth.')));
    expect((await berth(['chat', 'web', 'first words'])).exitCode).toBe(0);
    const { sessionId } = JSON.parse((await berth(['project', 'show', 'web', '--json'])).stdout) as { sessionId: string };
    const shell = await open();
    await shell.type(`node ${BERTH_BIN} attach web`);
    await shell.press('Enter');
    await shell.waitFor((screen) => screen.includes('Said in berth.'), 30_000);
    const [client] = await processesRunning(`${BERTH_BIN} attach web`);
    expect(await processesRunning(`--resume ${sessionId}`)).toHaveLength(1);

    process.kill(client!, 'SIGKILL');
    // The TUI keeps the terminal after its client died; the daemon, seeing the client gone, ends it.
    await waitFor(async () => (await processesRunning(`--resume ${sessionId}`)).length === 0, "the agent's TUI ended", 15_000);
    const after = await berth(['chat', 'web', 'last words']);
    expect(after.exitCode, after.stderr).toBe(0);
    expect(after.stdout).toContain('Back in berth.');
  });

  it('o in the control center hands the terminal to it and back', async () => {
    chat.fake.reply(message(text('Said in berth.')), message(text('Said in the TUI.')), message(text('Back in berth.')));
    expect((await berth(['chat', 'web', 'first words'])).exitCode).toBe(0);
    const shell = await open();
    await shell.type(`node ${BERTH_BIN}`);
    await shell.press('Enter');
    await shell.waitFor((screen) => /web\s+workspace/.test(screen));
    await shell.press('o');
    await shell.waitFor((screen) => screen.includes('first words') && screen.includes('Said in berth.'), 30_000);
    await talkThenExit(shell, 'words in the tui', 'Said in the TUI.');
    await shell.waitFor((screen) => /web\s+workspace/.test(screen) && screen.includes("back from the agent's own TUI"), 15_000);
    await shell.press('Enter');
    await shell.waitFor((screen) => screen.includes('chat · web'));
    await shell.type('last words');
    await shell.press('Enter');
    await shell.waitFor((screen) => screen.includes('Back in berth.'), 30_000);
    expect(userWordsSent()).toContain('words in the tui');
  });
});
