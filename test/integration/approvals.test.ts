/**
 * Answering the agent, workspace mode, through the built berth and its
 * daemon, with the real claude CLI against the fake Messages API: a tool call
 * the permission mode does not allow waits for `berth approve` / `berth deny`
 * from another shell (or is decided by chat.unattended), "allow always" keeps
 * a rule that outlives the daemon, and a question of the agent is answered.
 */
import { execa } from 'execa';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { message, text, toolUse } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
import { TmuxSession } from '../helpers/tmux.js';
import { parseEntries, useWorkspaceChat, type Entry } from '../helpers/workspace-chat.js';

const chat = useWorkspaceChat({ prefix: 'berth-approvals-' });
// Not one of the file commands that acceptEdits (the default permission mode) allows by itself.
const PROOF = "sh -c 'echo berth > proof.txt'";

const berth = (args: string[]) => runBerth(args, { home: chat.home, env: chat.env });

/** `berth chat web <msg> --json` left running: its JSON lines as they come, and its end. */
function chatInBackground(msg: string, extra: string[] = ['--json']) {
  const child = execa('node', [BERTH_BIN, 'chat', 'web', msg, ...extra], {
    reject: false,
    cwd: chat.home,
    env: { BERTH_HOME: chat.home, NO_COLOR: '1', ...chat.env },
    stdin: 'ignore',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    done: child,
    entries: () => parseEntries(stdout.split('\n').filter((line) => line.startsWith('{')).join('\n')),
    stderr: () => stderr,
    /** Waits until the chat printed the agent's request. */
    async request(): Promise<Entry> {
      for (let waited = 0; waited < 30_000; waited += 50) {
        const found = parseEntries(stdout.split('\n').filter((line) => line.startsWith('{')).join('\n')).find((entry) => entry.type === 'permission_request');
        if (found) return found;
        if (stderr.includes('waits for an answer')) return { type: 'permission_request', turn: 0 };
        await sleep(50);
      }
      throw new Error(`no request came; stdout:\n${stdout}\nstderr:\n${stderr}`);
    },
  };
}

/** What the agent's CLI sent back for its tool call: the tool_result of the request after the call. */
function toolResultSent(requestIndex: number): Record<string, unknown> | undefined {
  const content = chat.fake.mainRequests()[requestIndex]?.body?.messages?.at(-1)?.content;
  return Array.isArray(content) ? (content as Array<Record<string, unknown>>).find((block) => block.type === 'tool_result') : undefined;
}

async function auditLines(): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(path.join(chat.home, 'audit.jsonl'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('answering the agent (workspace mode, the real CLI)', () => {
  it('a Bash call that needs permission waits for berth approve from another shell, then runs', async () => {
    const bash = toolUse('Bash', { command: PROOF, description: 'Write a proof file' });
    chat.fake.reply(message(bash), message(text('Written.')));
    const turn = chatInBackground('Write a proof file');

    const request = await turn.request();
    expect(request).toMatchObject({ tool: 'Bash', detail: `$ ${PROOF}`, rule: `Bash(${PROOF})` });
    // Nothing ran before the answer.
    expect(await readdir(chat.workspace())).not.toContain('proof.txt');
    const approved = await berth(['approve', 'web']);
    expect(approved.stderr).toBe('');
    expect(approved.stdout).toBe('allowed Bash in web\n');

    expect((await turn.done).exitCode).toBe(0);
    expect(await readFile(path.join(chat.workspace(), 'proof.txt'), 'utf8')).toBe('berth\n');
    const decision = turn.entries().find((entry) => entry.type === 'permission_decision');
    expect(decision).toMatchObject({ id: request.id, allow: true, by: expect.stringMatching(/^berth approve \(pid \d+\)$/) });
    // The transcript keeps both, and the audit log says who decided.
    expect((await chat.history()).map((entry) => entry.type)).toEqual(expect.arrayContaining(['permission_request', 'permission_decision']));
    expect(await auditLines()).toContainEqual(expect.objectContaining({ project: 'web', action: 'permission-allowed', tool: 'Bash', by: decision!.by }));
    expect((await berth(['approve', 'web'])).stderr).toBe('berth: nothing waits for an answer in web\n');
  });

  it('berth deny with a message: the call does not run, and the agent reads the message', async () => {
    const bash = toolUse('Bash', { command: PROOF, description: 'Write a proof file' });
    chat.fake.reply(message(bash), message(text('Understood.')));
    const turn = chatInBackground('Write a proof file');

    const request = await turn.request();
    expect((await berth(['deny', 'web', String(request.id), '--message', 'use the scratch folder'])).stdout).toBe('denied Bash in web\n');

    expect((await turn.done).exitCode).toBe(0);
    expect(await readdir(chat.workspace())).not.toContain('proof.txt');
    expect(toolResultSent(1)).toMatchObject({ is_error: true, content: expect.stringContaining('The user denied this Bash call: use the scratch folder') });
    expect(turn.entries().find((entry) => entry.type === 'permission_decision')).toMatchObject({ allow: false, message: 'use the scratch folder' });
  });

  it('allow always keeps a rule: the same call is not asked again, after a daemon restart too; forget-rule asks again', async () => {
    const first = toolUse('Bash', { command: PROOF, description: 'Write a proof file' });
    chat.fake.reply(message(first), message(text('Written.')));
    const turn = chatInBackground('Write a proof file');
    await turn.request();
    expect((await berth(['approve', 'web', '--always'])).stdout).toBe(`allowed Bash in web, and from now on Bash(${PROOF})\n`);
    expect((await turn.done).exitCode).toBe(0);
    expect((await berth(['project', 'show', 'web'])).stdout).toContain(`  always allowed:\n    Bash(${PROOF})\n`);
    expect(JSON.parse((await berth(['project', 'show', 'web', '--json'])).stdout)).toMatchObject({ approvalRules: [`Bash(${PROOF})`] });

    expect((await berth(['daemon', 'restart'])).exitCode).toBe(0);
    const again = toolUse('Bash', { command: PROOF, description: 'Write it again' });
    chat.fake.reply(message(again), message(text('Written again.')));
    const second = await berth(['chat', 'web', 'Write it again', '--json']);
    expect(second.exitCode).toBe(0);
    const entries = parseEntries(second.stdout);
    expect(entries.filter((entry) => entry.type === 'permission_request')).toEqual([]);
    expect(entries.find((entry) => entry.type === 'permission_decision')).toMatchObject({ allow: true, by: `the kept rule Bash(${PROOF})` });

    expect((await berth(['project', 'forget-rule', 'web', `Bash(${PROOF})`])).stdout).toBe(`web: Bash(${PROOF}) is asked again\n`);
    expect((await berth(['project', 'forget-rule', 'web', `Bash(${PROOF})`])).stderr).toBe(`berth: "web" keeps no rule "Bash(${PROOF})": berth project show web lists its rules\n`);
    // Without a terminal and without --json, chat.unattended (deny) decides.
    chat.fake.reply(message(toolUse('Bash', { command: PROOF, description: 'Once more' })), message(text('Denied, fine.')));
    const third = await berth(['chat', 'web', 'Once more']);
    expect(third.exitCode).toBe(0);
    expect(third.stdout).toContain('✗ denied by chat.unattended: nobody was there to answer it (chat.unattended is deny)');
  });

  it('with chat.unattended wait, a turn sent without a terminal waits for the answer, and says how to give it', async () => {
    expect((await berth(['config', 'set', 'chat.unattended', 'wait'])).exitCode).toBe(0);
    chat.fake.reply(message(toolUse('Bash', { command: PROOF, description: 'Write a proof file' })), message(text('Written.')));
    const turn = chatInBackground('Write a proof file', []);

    await turn.request();
    expect(turn.stderr()).toMatch(/berth: the agent waits for an answer: berth approve web \S+ \[--always\] or berth deny web \S+ \[--message TEXT\]/);
    expect((await berth(['approve', 'web'])).exitCode).toBe(0);
    expect((await turn.done).exitCode).toBe(0);
    expect(await readFile(path.join(chat.workspace(), 'proof.txt'), 'utf8')).toBe('berth\n');
  });

  it('a question of the agent (AskUserQuestion) is answered with an option, which the agent receives', async () => {
    const question = { question: 'Which colour should the button be?', header: 'Colour', options: [{ label: 'Red', description: 'warm' }, { label: 'Blue', description: 'cool' }], multiSelect: false };
    chat.fake.reply(message(toolUse('AskUserQuestion', { questions: [question] })), message(text('Blue it is.')));
    const turn = chatInBackground('Style the button');

    const request = await turn.request();
    expect(request).toMatchObject({ tool: 'AskUserQuestion', questions: [{ question: question.question, options: question.options, multiSelect: false }] });
    expect((await berth(['approve', 'web', '--always'])).stderr).toBe('berth: --always keeps a tool rule: a question is answered, not kept\n');
    expect((await berth(['approve', 'web', '--answer', '2'])).stdout).toBe("answered the question of web's agent\n");

    expect((await turn.done).exitCode).toBe(0);
    expect(turn.entries().find((entry) => entry.type === 'permission_decision')).toMatchObject({ allow: true, answers: { [question.question]: 'Blue' } });
    expect(JSON.stringify(toolResultSent(1))).toContain('Blue');
  });

  describe('berth chat on a terminal (tmux)', () => {
    let terminal: TmuxSession | undefined;
    afterEach(async () => {
      await terminal?.kill();
      terminal = undefined;
    });

    const openChat = async (msg: string) => {
      terminal = await TmuxSession.start({ columns: 120, rows: 30, cwd: chat.home, env: { ...chat.env, BERTH_HOME: chat.home, NO_COLOR: '1' } });
      await terminal.type(`node ${BERTH_BIN} chat web '${msg}'`);
      await terminal.press('Enter');
      return terminal.waitFor((screen) => screen.includes('allow? y once'), 30_000);
    };

    it('asks inline: y allows once, and the call runs', async () => {
      chat.fake.reply(message(toolUse('Bash', { command: PROOF, description: 'Write a proof file' })), message(text('Written.')));
      const asked = await openChat('Write a proof file');
      expect(asked).toContain(`? the agent asks to use Bash:\n  $ ${PROOF}`);
      expect(asked).toContain(`allow? y once · a always (Bash(${PROOF})) · n deny:`);

      await terminal!.type('y');
      await terminal!.press('Enter');
      const done = await terminal!.waitFor((screen) => screen.trimEnd().endsWith('$'), 30_000);
      expect(done).toMatch(/✓ allowed by berth chat \(pid \d+\)/);
      expect(done).toContain('Written.');
      expect(await readFile(path.join(chat.workspace(), 'proof.txt'), 'utf8')).toBe('berth\n');
    });

    it('n asks for a message to the agent, which it receives', async () => {
      chat.fake.reply(message(toolUse('Bash', { command: PROOF, description: 'Write a proof file' })), message(text('Fine.')));
      await openChat('Write a proof file');
      await terminal!.type('n');
      await terminal!.press('Enter');
      await terminal!.waitFor((screen) => screen.includes('a message to the agent (Enter for none):'));
      await terminal!.type('not in this repository');
      await terminal!.press('Enter');
      const done = await terminal!.waitFor((screen) => screen.includes('Fine.'), 30_000);
      expect(done).toMatch(/✗ denied by berth chat \(pid \d+\): not in this repository/);
      expect(toolResultSent(1)).toMatchObject({ is_error: true, content: expect.stringContaining('not in this repository') });
    });

    it('an answer from another shell clears the prompt, and the turn goes on', async () => {
      chat.fake.reply(message(toolUse('Bash', { command: PROOF, description: 'Write a proof file' })), message(text('Written elsewhere.')));
      await openChat('Write a proof file');
      expect((await berth(['approve', 'web'])).exitCode).toBe(0);
      const done = await terminal!.waitFor((screen) => screen.includes('Written elsewhere.'), 30_000);
      expect(done).toMatch(/✓ allowed by berth approve \(pid \d+\)/);
      // The prompt is gone: the shell has the terminal again, and what is typed goes to it.
      await terminal!.waitFor((screen) => screen.trimEnd().endsWith('$'), 10_000);
    });
  });
});
