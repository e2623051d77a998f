import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { message, serverError, text, toolUse, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { runBerth } from '../helpers/berth-cli.js';
import { useWorkspaceChat, type Entry } from '../helpers/workspace-chat.js';
import { ACTED_ON } from '../helpers/terminal-text.js';

describe('berth chat, history and diff (the real claude CLI, workspace mode)', () => {
  const session = useWorkspaceChat();
  let fake: FakeAnthropic;
  let home: string;
  let env: Record<string, string>;

  beforeEach(() => ({ fake, home, env } = session));

  const workspace = () => path.join(home, 'workspaces', 'web');

  it('streams a turn readably: the tool call, the changed file, the cost; then diff and history show it', async () => {
    const file = path.join(workspace(), 'hello.txt');
    fake.reply(message(text('Writing it.'), toolUse('Write', { file_path: file, content: 'hello from the agent\n' })), message(text('Done.')));
    // Wide enough for the tool call's line, whatever the length of the temporary folder's path.
    const result = await runBerth(['chat', 'web', 'write hello.txt'], { home, env: { ...env, COLUMNS: '400' } });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('> write hello.txt\n');
    expect(result.stdout).toContain('Writing it.\n');
    expect(result.stdout).toMatch(/● Write\(file_path=.*hello\.txt, content=hello from the agent\)/);
    expect(result.stdout).toContain('  ⎿ ok\n');
    expect(result.stdout).toContain('Done.\n');
    expect(result.stdout).toContain('changed: + hello.txt\n');
    expect(result.stdout).toMatch(/✓ \d+\.\ds · \d+ turns? · .* in \/ .* out · \$\d+\.\d{4}\n/);
    expect(await readFile(file, 'utf8')).toBe('hello from the agent\n');

    const diff = await runBerth(['diff', 'web'], { home, env });
    expect(diff.stdout).toContain('+hello from the agent');

    // A file's contents are shown by diff, never run by the terminal: a title change, a clipboard write, a C1 CSI.
    await writeFile(path.join(workspace(), 'hostile.txt'), 'a\u001b]0;pwned\u0007b\u001b]52;c;aGk=\u0007c\u009b2J\n');
    const hostile = await runBerth(['diff', 'web'], { home, env });
    expect(hostile.stdout).toContain('+a^[]0;pwned^Gb^[]52;c;aGk=^Gc\\u009b2J');
    expect(hostile.stdout).not.toMatch(ACTED_ON);

    const history = await runBerth(['history', 'web'], { home, env });
    expect(history.stdout).toContain('> write hello.txt');
    expect(history.stdout).toContain('changed: + hello.txt');
  });

  it('prints JSON lines with --json, and the next turn resumes the conversation', async () => {
    fake.reply(message(text('First answer.')), message(text('Second answer.')));
    const first = await runBerth(['chat', 'web', '--json', 'remember the word heron'], { home, env });
    expect(first.exitCode, first.stderr).toBe(0);
    const events = first.stdout.trim().split('\n').map((line) => JSON.parse(line) as Entry);
    expect(events.map((event) => event.type)).toEqual(
      expect.arrayContaining(['user', 'session', 'text', 'result', 'changed_files', 'turn_end']),
    );
    expect(events.at(-1)).toMatchObject({ type: 'turn_end', outcome: 'success' });
    const sessionId = (events.find((event) => event.type === 'session') as unknown as { sessionId: string }).sessionId;

    const second = await runBerth(['chat', 'web', 'which word?'], { home, env });
    expect(second.exitCode, second.stderr).toBe(0);
    const resumed = fake.mainRequests().at(-1)!;
    expect(JSON.stringify(resumed.body?.messages)).toContain('remember the word heron');
    const [project] = JSON.parse((await runBerth(['project', 'ls', '--json'], { home })).stdout) as Array<{ name: string }>;
    expect(project).toMatchObject({ name: 'web' });
    const registry = JSON.parse(await readFile(path.join(home, 'projects.json'), 'utf8')) as {
      projects: Array<{ sessionId: string; usage: { turns: number } }>;
    };
    expect(registry.projects[0]).toMatchObject({ sessionId, usage: { turns: 2 } });

    const history = await runBerth(['history', 'web', '--json'], { home, env });
    const users = history.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Entry)
      .filter((entry) => entry.type === 'user');
    expect(users.map((entry) => entry.text)).toEqual(['remember the word heron', 'which word?']);
  });

  it('passes the project\'s claude.allowedTools to the CLI', async () => {
    const piped = () => existsSync(path.join(workspace(), 'piped.txt'));
    const pipe = () => message(toolUse('Bash', { command: 'printf hi | tee piped.txt', description: 'pipe' }));
    fake.reply(pipe(), message(text('Denied.')));
    expect((await runBerth(['chat', 'web', 'pipe it'], { home, env })).stdout).toContain('  ⎿ error:');
    expect(piped()).toBe(false);

    expect((await runBerth(['project', 'set', 'web', 'claude.allowedTools', 'Read, Bash'], { home })).exitCode).toBe(0);
    fake.reply(pipe(), message(text('Piped.')));
    const allowed = await runBerth(['chat', 'web', 'pipe it again'], { home, env });
    expect(allowed.stdout).toContain('  ⎿ ok');
    expect(piped()).toBe(true);
  });

  it('runs one turn per line of stdin without a message', async () => {
    fake.reply(message(text('One.')), message(text('Two.')));
    const result = await runBerth(['chat', 'web'], { home, env, input: 'first line\n\nsecond line\n' });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('> first line\nOne.\n');
    expect(result.stdout).toContain('> second line\nTwo.\n');
    expect(fake.mainRequests()).toHaveLength(2);
  });

  it('exits 1 with a clear failed turn when the API fails', async () => {
    fake.reply(serverError());
    const result = await runBerth(['chat', 'web', 'hello'], { home, env });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/✗ .*(500|API Error|error)/i);
  });

  it('counts a workspace turn\'s cost from the CLI and refuses the next one over limits.dailyUsd', async () => {
    expect((await runBerth(['project', 'set', 'web', 'limits.dailyUsd', '0.001'], { home })).exitCode).toBe(0);
    fake.reply(message(text('Costly.')));
    expect((await runBerth(['chat', 'web', 'spend'], { home, env })).exitCode).toBe(0);
    const refused = await runBerth(['chat', 'web', 'more'], { home, env });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/^berth: project web has spent \$\d+\.\d+ on the model today, its cap is \$0\.0010 \(limits\.dailyUsd\)\n$/);
    expect(fake.mainRequests()).toHaveLength(1);
  });

  it('refuses an unknown project, and says when there is no conversation yet', async () => {
    const unknown = await runBerth(['chat', 'ghost', 'hi'], { home, env });
    expect(unknown).toMatchObject({ exitCode: 1, stderr: 'berth: no project named "ghost": see berth project ls\n' });
    const empty = await runBerth(['history', 'web'], { home, env });
    expect(empty.stdout).toBe('no conversation with web yet: berth chat web "<message>" starts one\n');
    expect(existsSync(path.join(home, 'transcripts', 'ghost'))).toBe(false);
  });
});
