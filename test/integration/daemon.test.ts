/**
 * The berth daemon through the built CLI, as a user meets it: started by the
 * first command that needs it, one live agent per project (the real claude
 * CLI against the fake API), turns that outlive their client, a queue,
 * interrupts, crashes of the daemon, a private socket, a versioned protocol.
 */
import { execa, type ResultPromise } from 'execa';
import { spawn } from 'node:child_process';
import { cp, readFile, stat, symlink, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { message, slow, text, toolUse } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN, runBerth } from '../helpers/berth-cli.js';
import { daemonCall, daemonStatus, stopDaemonOf } from '../helpers/daemon.js';
import { processesRunning, waitFor } from '../helpers/processes.js';
import { useWorkspaceChat, type Entry } from '../helpers/workspace-chat.js';
import { PROTOCOL_VERSION, socketPath } from '../../src/daemon/protocol.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The pids of the processes whose environment carries BERTH_RUN=<marker>. */
function markedProcesses(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`BERTH_RUN=${marker}`)) pids.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

/** The live agent's process: the marked process running claude. */
function agentPid(marker: string): number | undefined {
  return markedProcesses(marker).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('stream-json');
    } catch {
      return false;
    }
  });
}

async function sessionMarker(home: string): Promise<string | undefined> {
  return (await daemonStatus(home))?.sessions.find((session) => session.project === 'web')?.marker;
}

describe('the berth daemon (workspace mode)', () => {
  const chat = useWorkspaceChat({ allowBash: true, prefix: 'berth-daemon-' });
  const background: ResultPromise[] = [];
  afterEach(async () => {
    for (const child of background.splice(0)) child.kill('SIGKILL');
  });
  const berth = (args: string[], env: Record<string, string> = {}) => runBerth(args, { home: chat.home, env: { ...chat.env, ...env } });
  /** `berth chat` left running, its stdout read as it comes. */
  const startChat = (args: string[]) => {
    const child = execa('node', [BERTH_BIN, 'chat', ...args], { reject: false, env: { BERTH_HOME: chat.home, NO_COLOR: '1', ...chat.env }, stdin: 'ignore' });
    background.push(child);
    return child;
  };

  it('is started by the first berth chat, detached, with a private socket and its log in <home>/logs/daemon.log', async () => {
    chat.fake.reply(message(text('Hello from the daemon.')));
    const turn = await berth(['chat', 'web', 'hi']);
    expect(turn.stderr).toBe('');
    expect(turn.stdout).toContain('Hello from the daemon.');
    expect(turn.exitCode).toBe(0);

    const status = await berth(['daemon', 'status', '--json']);
    const parsed = JSON.parse(status.stdout) as { running: boolean; pid: number; version: string; sessions: Array<{ project: string }>; clients: number };
    expect(parsed).toMatchObject({ running: true, version: JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version });
    expect(parsed.sessions.map((session) => session.project)).toEqual(['web']);
    // Its own session: not in the group of the shell that started the first client.
    const fields = readFileSync(`/proc/${parsed.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    expect(Number(fields[3])).toBe(parsed.pid);
    expect(existsSync(path.join(chat.home, 'logs', 'daemon.log'))).toBe(true);

    const socket = socketPath(chat.home);
    expect((await stat(path.dirname(socket))).mode & 0o777).toBe(0o700);
    expect((await stat(socket)).mode & 0o777).toBe(0o600);
    const readable = await berth(['daemon', 'status']);
    expect(readable.stdout).toMatch(/^berth daemon .* pid \d+, up /);
  });

  it('refuses a client of another uid, and a client of another protocol in one line; curl without the header is served', async () => {
    chat.fake.reply(message(text('Up.')));
    expect((await berth(['chat', 'web', 'start it'])).exitCode).toBe(0);
    const socket = socketPath(chat.home);
    // As nobody: the folder is 0700, the socket 0600.
    const probe = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ['-e', `require('net').connect(${JSON.stringify(socket)}).on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(0) })`], { uid: 65534, gid: 65534 });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('exit', () => resolve(out.trim()));
    });
    expect(probe).toBe('EACCES');

    const other = await daemonCall(chat.home, 'GET', '/v1/status', { headers: { 'berth-protocol': '999', 'berth-version': '9.9.9' } });
    expect(other.status).toBe(409);
    const error = (other.body as { error: string }).error;
    expect(error).not.toContain('\n');
    expect(error).toMatch(new RegExp(`speaks protocol ${PROTOCOL_VERSION} .* this client protocol 999 \\(berth 9\\.9\\.9\\)`));

    const curl = await execa('curl', ['-s', '--unix-socket', socket, 'http://berth/v1/status'], { reject: false });
    expect(JSON.parse(curl.stdout)).toMatchObject({ protocol: PROTOCOL_VERSION });
  });

  it('streams text deltas before the turn ends', async () => {
    chat.fake.reply(slow({ ...message(text('One two three four five six seven eight.')), deltaChunks: 8 }, 150));
    const child = startChat(['web', 'count', '--json']);
    const seen: Array<{ type: string; at: number }> = [];
    child.stdout!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) seen.push({ type: (JSON.parse(line) as Entry).type, at: Date.now() });
    });
    const result = await child;
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const firstDelta = seen.find((entry) => entry.type === 'text_delta');
    const end = seen.find((entry) => entry.type === 'turn_end');
    expect(firstDelta).toBeDefined();
    expect(end!.at - firstDelta!.at).toBeGreaterThan(300);
    expect(seen.filter((entry) => entry.type === 'text_delta').length).toBeGreaterThan(2);
    // Live only: the transcript keeps the whole text.
    expect((await chat.history()).some((entry) => entry.type === 'text_delta')).toBe(false);
  });

  it('queues a message sent while a turn runs, sends it after, to the same process, which continues the conversation', async () => {
    chat.fake.reply(slow(message(text('First, slowly.')), 400));
    chat.fake.reply(message(text('Second.')));
    const first = startChat(['web', 'first']);
    await waitFor(async () => (await sessionMarker(chat.home)) !== undefined, 'the live session');
    const marker = (await sessionMarker(chat.home))!;
    const pid = agentPid(marker);
    expect(pid).toBeDefined();
    const second = await berth(['chat', 'web', 'second']);
    expect(second.stderr).toMatch(/this message is queued \(next in line\)/);
    expect(second.exitCode).toBe(0);
    expect((await first).exitCode).toBe(0);
    expect(await sessionMarker(chat.home)).toBe(marker);
    expect(agentPid(marker)).toBe(pid);
    const requests = chat.fake.mainRequests();
    expect(JSON.stringify(requests.at(-1)?.body)).toContain('First, slowly.');
    const history = await chat.history();
    expect(history.filter((entry) => entry.type === 'turn_end').map((entry) => entry.outcome)).toEqual(['success', 'success']);
  });

  it('interrupts on Ctrl-C: the turn ends cancelled within a second, the agent stays, and the next message continues the conversation', async () => {
    chat.fake.reply(slow({ ...message(text('A long answer that streams slowly for quite a while.')), deltaChunks: 20 }, 500));
    chat.fake.reply(message(text('After the interrupt.')));
    const child = startChat(['web', 'long']);
    await waitFor(async () => (await sessionMarker(chat.home)) !== undefined && chat.fake.mainRequests().length > 0, 'the turn to reach the model');
    const marker = (await sessionMarker(chat.home))!;
    const pid = agentPid(marker);
    await sleep(700);
    const sentAt = Date.now();
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(Date.now() - sentAt).toBeLessThan(3_000);
    expect(result.stdout).toContain('cancelled');
    const next = await berth(['chat', 'web', 'go on']);
    expect(next.stdout).toContain('After the interrupt.');
    expect(agentPid(marker)).toBe(pid);
    const history = await chat.history();
    const sessions = new Set(history.filter((entry) => entry.type === 'turn_end').map((entry) => entry.sessionId));
    expect(sessions.size).toBe(1);
    expect(history.filter((entry) => entry.type === 'turn_end').map((entry) => entry.outcome)).toEqual(['cancelled', 'success']);
  });

  it('changes the model and the permission mode of the live agent without restarting it', async () => {
    chat.fake.reply(message(text('On the default model.')), message(text('On the other model.')));
    expect((await berth(['chat', 'web', 'one'])).exitCode).toBe(0);
    const marker = (await sessionMarker(chat.home))!;
    const pid = agentPid(marker);
    expect((await berth(['project', 'set', 'web', 'claude.model', 'claude-other-test'])).exitCode).toBe(0);
    expect((await berth(['project', 'set', 'web', 'claude.permissionMode', 'plan'])).exitCode).toBe(0);
    expect((await berth(['chat', 'web', 'two'])).stdout).toContain('On the other model.');
    expect(agentPid(marker)).toBe(pid);
    expect(chat.fake.mainRequests().at(-1)?.body?.model).toBe('claude-other-test');
    // The daemon's own call does the same, at once.
    const set = await daemonCall(chat.home, 'POST', '/v1/projects/web/session', { body: { permissionMode: 'default', model: '' } });
    expect(set.status).toBe(200);
    expect(agentPid(marker)).toBe(pid);
  });

  it('finishes a turn whose berth chat was killed with SIGKILL', async () => {
    chat.fake.reply(slow(message(text('Finished without my client.')), 300));
    const child = startChat(['web', 'work']);
    await waitFor(() => chat.fake.mainRequests().length > 0, 'the turn to reach the model');
    child.kill('SIGKILL');
    await child;
    await waitFor(async () => (await chat.history()).some((entry) => entry.type === 'turn_end'), 'the turn to end in the daemon');
    const history = await chat.history();
    expect(history.find((entry) => entry.type === 'turn_end')?.outcome).toBe('success');
    expect(history.some((entry) => entry.type === 'text' && entry.text === 'Finished without my client.')).toBe(true);
  });

  it('after a kill -9 of the daemon mid-turn, nothing keeps running, the turn reads interrupted, and the next message continues the conversation', async () => {
    chat.fake.reply(message(text('Working on it.'), toolUse('Bash', { command: 'sleep 8 && date > p.txt', description: 'slow' })));
    chat.fake.reply(message(text('Back again.')));
    const child = startChat(['web', 'write p.txt slowly']);
    await waitFor(async () => (await processesRunning('sleep 8')).length > 0, 'the Bash tool sleeping');
    const status = (await daemonStatus(chat.home))!;
    const marker = (await sessionMarker(chat.home))!;
    expect(markedProcesses(marker).length).toBeGreaterThan(0);
    const sessionId = (await chat.history()).find((entry) => entry.type === 'session')?.sessionId;
    process.kill(status.pid, 'SIGKILL');
    await child;
    // The next command that needs the daemon starts one, which ends what the dead one left.
    const next = await berth(['chat', 'web', 'again']);
    expect(next.exitCode).toBe(0);
    expect(next.stdout).toContain('Back again.');
    expect(markedProcesses(marker)).toEqual([]);
    await sleep(9_000);
    expect(existsSync(path.join(chat.workspace(), 'p.txt'))).toBe(false);
    const history = await chat.history();
    expect(history.filter((entry) => entry.type === 'turn_end').map((entry) => entry.outcome)).toEqual(['interrupted', 'success']);
    expect(history.filter((entry) => entry.type === 'turn_end').at(-1)?.sessionId).toBe(sessionId);
  }, 60_000);

  it('starts a new conversation, and says so, when the agent no longer knows the one it had', async () => {
    chat.fake.reply(message(text('Fresh start.')));
    const registry = path.join(chat.home, 'projects.json');
    const projects = JSON.parse(await readFile(registry, 'utf8')) as { projects: Array<{ name: string; sessionId?: string }> } | Array<{ name: string; sessionId?: string }>;
    const list = Array.isArray(projects) ? projects : projects.projects;
    list.find((project) => project.name === 'web')!.sessionId = '11111111-2222-4333-8444-555555555555';
    await writeFile(registry, JSON.stringify(projects));
    const turn = await berth(['chat', 'web', 'hello?']);
    expect(turn.stdout).toContain('no longer knows conversation 11111111-2222-4333-8444-555555555555');
    expect(turn.stdout).toContain('Fresh start.');
    expect(turn.exitCode).toBe(0);
  });

  it('ends the live agent after chat.sessionIdle, and the next message resumes the conversation by its id', async () => {
    expect((await berth(['config', 'set', 'chat.sessionIdle', '1s'])).exitCode).toBe(0);
    chat.fake.reply(message(text('Remember 42.')));
    chat.fake.reply(message(text('It was 42.')));
    expect((await berth(['chat', 'web', 'remember 42'])).exitCode).toBe(0);
    const marker = (await sessionMarker(chat.home))!;
    expect(marker).toBeDefined();
    await waitFor(async () => (await sessionMarker(chat.home)) === undefined && markedProcesses(marker).length === 0, 'the idle agent to end', 10_000);
    const again = await berth(['chat', 'web', 'what was it?']);
    expect(again.stdout).toContain('It was 42.');
    expect(JSON.stringify(chat.fake.mainRequests().at(-1)?.body)).toContain('Remember 42.');
    const ends = (await chat.history()).filter((entry) => entry.type === 'turn_end');
    expect(new Set(ends.map((entry) => entry.sessionId)).size).toBe(1);
  });

  it('starts the agent ahead of the first message when asked to warm (a chat opened), resuming the conversation, and the message goes to it', async () => {
    chat.fake.reply(message(text('Remember 7.')));
    chat.fake.reply(message(text('It was 7.')));
    expect((await berth(['chat', 'web', 'remember 7'])).exitCode).toBe(0);
    // A daemon of its own, with no live agent: the conversation is only on disk.
    await stopDaemonOf(chat.home);
    expect((await berth(['daemon', 'status'])).stdout).toMatch(/no berth daemon runs/);
    const daemon = execa('node', [BERTH_BIN, 'daemon'], { reject: false, env: { BERTH_HOME: chat.home, ...chat.env } });
    background.push(daemon);
    await waitFor(async () => (await daemonStatus(chat.home)) !== undefined, 'the daemon');
    expect(await sessionMarker(chat.home)).toBeUndefined();

    expect((await daemonCall(chat.home, 'POST', '/v1/projects/web/warm')).body).toEqual({ warming: 'web' });
    await waitFor(async () => (await sessionMarker(chat.home)) !== undefined, 'the agent started ahead');
    const marker = (await sessionMarker(chat.home))!;
    const pid = agentPid(marker);
    expect(pid).toBeDefined();
    // It resumes the conversation it will carry on, and asks the API nothing before a message.
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('--resume');
    const before = chat.fake.mainRequests().length;
    expect((await daemonCall(chat.home, 'POST', '/v1/projects/web/warm')).status).toBe(200);
    expect(chat.fake.mainRequests().length).toBe(before);

    const again = await berth(['chat', 'web', 'what was it?']);
    expect(again.stdout).toContain('It was 7.');
    expect(agentPid(marker)).toBe(pid);
    expect(JSON.stringify(chat.fake.mainRequests().at(-1)?.body)).toContain('Remember 7.');
    const missing = await daemonCall(chat.home, 'POST', '/v1/projects/nope/warm');
    expect(missing.status).toBe(200);
    await stopDaemonOf(chat.home);
    expect((await daemon).exitCode).toBe(0);
  });

  it('a new conversation asked for while the agent starts ahead of a message is a new one', async () => {
    chat.fake.reply(message(text('Remember 9.')));
    chat.fake.reply(message(text('What number?')));
    expect((await berth(['chat', 'web', 'remember 9'])).exitCode).toBe(0);
    await stopDaemonOf(chat.home);
    const daemon = execa('node', [BERTH_BIN, 'daemon'], { reject: false, env: { BERTH_HOME: chat.home, ...chat.env } });
    background.push(daemon);
    await waitFor(async () => (await daemonStatus(chat.home)) !== undefined, 'the daemon');
    // Both at once, as Ctrl-N right after the chat opened: the warm agent would resume the old conversation.
    const [warm, fresh] = await Promise.all([daemonCall(chat.home, 'POST', '/v1/projects/web/warm'), daemonCall(chat.home, 'POST', '/v1/projects/web/new-conversation')]);
    expect([warm.status, fresh.status]).toEqual([200, 200]);
    const next = await berth(['chat', 'web', 'what was it?']);
    expect(next.stdout).toContain('What number?');
    expect(JSON.stringify(chat.fake.mainRequests().at(-1)?.body)).not.toContain('Remember 9.');
    const sessions = (await chat.history()).filter((entry) => entry.type === 'turn_end').map((entry) => entry.sessionId);
    expect(new Set(sessions).size).toBe(2);
    await stopDaemonOf(chat.home);
    expect((await daemon).exitCode).toBe(0);
  });

  it('a client of another berth version says so in one line, and the old daemon is replaced once its turns end', async () => {
    // Another berth install: the same code under another version number.
    const other = await mkdtemp(path.join(tmpdir(), 'berth-old-'));
    try {
      const manifest = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
      await writeFile(path.join(other, 'package.json'), JSON.stringify({ ...manifest, version: '0.0.1-old' }));
      await cp(path.join(ROOT, 'bin'), path.join(other, 'bin'), { recursive: true });
      await cp(path.join(ROOT, 'dist'), path.join(other, 'dist'), { recursive: true });
      await symlink(path.join(ROOT, 'node_modules'), path.join(other, 'node_modules'));
      const old = execa('node', [path.join(other, 'bin', 'berth.js'), 'daemon'], { reject: false, env: { BERTH_HOME: chat.home, ...chat.env } });
      background.push(old);
      await waitFor(async () => (await daemonStatus(chat.home))?.version === '0.0.1-old', 'the old daemon');
      chat.fake.reply(message(text('New daemon here.')));
      const turn = await berth(['chat', 'web', 'hi']);
      expect(turn.stderr.trim().split('\n')).toEqual([expect.stringMatching(/runs berth 0\.0\.1-old, this is berth .*: it is replaced once its turns end$/)]);
      expect(turn.stdout).toContain('New daemon here.');
      expect((await daemonStatus(chat.home))?.version).toBe(manifest.version);
      expect((await old).exitCode).toBe(0);
    } finally {
      await stopDaemonOf(chat.home);
      await rm(other, { recursive: true, force: true });
    }
  });

  it('stops on berth daemon stop, refusing while a turn runs unless --force (the turn recorded as cancelled)', async () => {
    chat.fake.reply(slow({ ...message(text('Very slow words here.')), deltaChunks: 20 }, 500));
    const child = startChat(['web', 'slow']);
    await waitFor(() => chat.fake.mainRequests().length > 0, 'the turn to reach the model');
    const refused = await berth(['daemon', 'stop']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/^berth: turns are running in web: berth daemon stop --force cancels them\n$/);
    const forced = await berth(['daemon', 'stop', '--force']);
    expect(forced.exitCode).toBe(0);
    expect(await daemonStatus(chat.home)).toBeUndefined();
    await child;
    expect((await chat.history()).find((entry) => entry.type === 'turn_end')?.outcome).toBe('cancelled');
  });
});
