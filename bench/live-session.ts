// Message sent to first text delta, berth against the claude CLI run directly,
// in workspace mode, against the scripted fake of the Messages API
// (test/fixtures/fake-anthropic.ts), which answers every turn with the same
// short text in three deltas:
//
//   second turn  `berth chat web "<msg>" --json` to a project whose live agent
//                already runs in the daemon, until its first text_delta line;
//                against `claude -p --resume <id> --output-format stream-json
//                --verbose --include-partial-messages "<msg>"`, until its first
//                stream_event text delta. Target: at most 0.5x.
//   first turn   the same `berth chat` in a fresh berth home with no daemon
//                (the client starts the daemon, which starts the agent);
//                against `claude -p ... "<msg>"` without --resume, in a fresh
//                folder of the same kind (another project's workspace). Target:
//                at most 1.05x.
//   first turn,  the same `berth chat` in a fresh home whose daemon runs
//   daemon up    (started untimed), to a project with no live agent yet;
//                against `claude -p` as above. Target: at most 1.05x.
//   first turn   the real TUI on a real terminal (tmux), its daemon running:
//   in the TUI   the chat of a project with no live agent is opened (Enter),
//                the message typed after TYPING_MS (2 s: a short message's
//                typing), and the time taken from the key Enter that sends it
//                until the reply's first text is on the screen (polled every
//                10 ms); against `claude -p` as above. The TUI asks the daemon
//                to start the agent when the chat opens. Target: at most 1.05x.
//
// Where the client starts in the timed span (the two `berth chat` first
// turns), each round also times Node's own start (`node -e`, spawn to its
// first output): a Node client cannot cost less, and the report sets it
// against what the target leaves.
//
// Each round runs both, in alternating order, from the spawn of the process to
// the first delta line on its stdout; the medians of BENCH_ROUNDS (7; or the
// first argument) rounds are compared. Both use one CLI home (HOME,
// ~/.claude.json) and the same environment, as a user's shell gives them.
// Every daemon is stopped (`berth daemon stop --force`), every folder removed,
// and the run fails if any process it started is left.
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { answers, socketPath } from '../src/daemon/protocol.js';
import { prepareClaudeEnv } from '../test/fixtures/claude-env.js';
import { message, startFakeAnthropic, text, type FakeAnthropic } from '../test/fixtures/fake-anthropic.js';
import { reportFigure } from './figures.js';
import { TmuxTerminal } from './tmux-terminal.js';
import { BERTH_BIN, cleanUpOnce, median, numberFromEnv } from './tui-support.js';

const rounds = Number(process.argv[2] ?? numberFromEnv('BENCH_ROUNDS', 7));
/** BENCH_ONLY=second,first,daemon,tui (any of them): the variants to run; all by default. */
const only = new Set((process.env.BENCH_ONLY ?? 'second,first,daemon,tui').split(',').map((name) => name.trim()));
const MESSAGE = 'Say hello.';
const REPLY = 'Hello from the fake Messages API.';
const RUN_TIMEOUT_MS = 60_000;
const TYPING_MS = 2_000;
const CLI_BIN_DIR = cliBinDir();
const claudeBinary = path.join(CLI_BIN_DIR, 'claude');
const STREAM_FLAGS = ['--output-format', 'stream-json', '--verbose', '--include-partial-messages'];

/** One timed run: milliseconds from the spawn to each point, those it reached. */
interface Run {
  delta: number;
  /** The first line on stdout: berth's echo of the message (the daemon took it), claude's init line. */
  firstLine?: number;
  /** The first request of any kind at the fake: the CLI is up (its preconnect). */
  cliUp?: number;
  /** The turn's request at the fake. */
  request?: number;
  /** berth's first turn: its daemon answers on its socket. */
  daemon?: number;
}

interface Side {
  name: string;
  runs: Run[];
}

interface Bench {
  title: string;
  target: number;
  berth: Side;
  cli: Side;
  /** A client that is a Node program pays at least Node's own start: timed each round where the client starts then. */
  nodeStarts?: number[];
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'berth-bench-live-'));
  const fake = await startFakeAnthropic({ whenQueueEmpty: message(text(REPLY)) });
  const cli = await prepareClaudeEnv({ baseUrl: fake.url });
  // A user's shell: the CLI on PATH (as `berth` finds it), the key and the gateway.
  const env = { ...cli.env, PATH: `${CLI_BIN_DIR}:${cli.env.PATH}`, NO_COLOR: '1' };
  const homes: string[] = [];
  const cleanUp = async () => {
    for (const home of homes) await execa(process.execPath, [BERTH_BIN, 'daemon', 'stop', '--force'], { env: { ...env, BERTH_HOME: home }, extendEnv: false, reject: false });
    const left = await leftProcesses(root, cli.home);
    await fake.close();
    await cli.cleanup();
    await rm(root, { recursive: true, force: true });
    if (left.length > 0) throw new Error(`processes were left running (killed now): ${left.join(', ')}`);
  };
  const finish = cleanUpOnce(cleanUp);

  /** A berth home with projects web (berth's) and ref (the CLI's folder: a workspace like web's). */
  const newHome = async (name: string) => {
    const home = path.join(root, name);
    await mkdir(home);
    homes.push(home);
    for (const project of ['web', 'ref']) await execa(process.execPath, [BERTH_BIN, 'project', 'add', project], { env: { ...env, BERTH_HOME: home }, extendEnv: false });
    return { home, refFolder: path.join(home, 'workspaces', 'ref') };
  };
  const berthTurn = (home: string, watchDaemon: boolean) =>
    timed(fake, process.execPath, [BERTH_BIN, 'chat', 'web', MESSAGE, '--json'], { cwd: root, env: { ...env, BERTH_HOME: home } }, isBerthDelta, watchDaemon ? home : undefined);
  const cliTurn = (folder: string, resume: string[]) =>
    timed(fake, claudeBinary, ['-p', ...resume, ...STREAM_FLAGS, '--', MESSAGE], { cwd: folder, env }, isCliDelta);

  try {
    console.log(`load before: ${loadAverage()}`);
    const benches: Bench[] = [];

    // Second turn: one home whose daemon and live agent run (a first turn, untimed), and a conversation of the CLI's own.
    if (only.has('second')) {
      const second: Bench = { title: 'second turn, message to first text delta', target: 0.5, berth: { name: 'berth, live session', runs: [] }, cli: { name: 'claude -p --resume', runs: [] } };
      const { home, refFolder } = await newHome('second');
      await berthTurn(home, false);
      const first = await execa(claudeBinary, ['-p', '--output-format', 'json', '--', MESSAGE], { cwd: refFolder, env, extendEnv: false });
      const sessionId = (JSON.parse(first.stdout) as { session_id: string }).session_id;
      console.log(`second turn: ${rounds} rounds…`);
      for (let round = 0; round < rounds; round += 1) {
        const pair = [() => berthTurn(home, false).then((run) => second.berth.runs.push(run)), () => cliTurn(refFolder, ['--resume', sessionId]).then((run) => second.cli.runs.push(run))];
        for (const run of round % 2 === 0 ? pair : pair.reverse()) await run();
      }
      benches.push(second);
    }

    // First turn: a fresh home each round, no daemon; the CLI in a fresh folder of that home.
    if (only.has('first')) {
      const first: Bench = { title: 'first turn, message to first text delta', target: 1.05, berth: { name: 'berth, no daemon yet', runs: [] }, cli: { name: 'claude -p', runs: [] }, nodeStarts: [] };
      console.log(`first turn: ${rounds} rounds…`);
      for (let round = 0; round < rounds; round += 1) {
        const { home, refFolder } = await newHome(`first-${round}`);
        const pair = [() => berthTurn(home, true).then((run) => first.berth.runs.push(run)), () => cliTurn(refFolder, []).then((run) => first.cli.runs.push(run))];
        for (const run of round % 2 === 0 ? pair : pair.reverse()) await run();
        first.nodeStarts!.push(await nodeStart(env));
        await execa(process.execPath, [BERTH_BIN, 'daemon', 'stop', '--force'], { env: { ...env, BERTH_HOME: home }, extendEnv: false });
      }
      benches.push(first);
    }

    // First turn with the daemon running: a fresh home each round, its daemon started (untimed), no live agent yet.
    if (only.has('daemon')) {
      const firstLive: Bench = { title: 'first turn with the daemon running, message to first text delta', target: 1.05, berth: { name: 'berth, daemon running', runs: [] }, cli: { name: 'claude -p', runs: [] }, nodeStarts: [] };
      console.log(`first turn with the daemon running: ${rounds} rounds…`);
      for (let round = 0; round < rounds; round += 1) {
        const { home, refFolder } = await newHome(`first-live-${round}`);
        const berthEnv = { ...env, BERTH_HOME: home };
        await execa(process.execPath, [BERTH_BIN, 'daemon', 'restart'], { env: berthEnv, extendEnv: false });
        const pair = [() => berthTurn(home, false).then((run) => firstLive.berth.runs.push(run)), () => cliTurn(refFolder, []).then((run) => firstLive.cli.runs.push(run))];
        for (const run of round % 2 === 0 ? pair : pair.reverse()) await run();
        firstLive.nodeStarts!.push(await nodeStart(env));
        await execa(process.execPath, [BERTH_BIN, 'daemon', 'stop', '--force'], { env: berthEnv, extendEnv: false });
      }
      benches.push(firstLive);
    }

    // First turn in the TUI: a fresh home each round, its daemon running (untimed), the chat opened, the message typed.
    if (only.has('tui')) {
      const tui: Bench = { title: 'first turn in the TUI, Enter to the first text on screen', target: 1.05, berth: { name: 'berth TUI, chat opened', runs: [] }, cli: { name: 'claude -p', runs: [] } };
      console.log(`first turn in the TUI: ${rounds} rounds…`);
      const terminal = await TmuxTerminal.start({ columns: 120, rows: 40, cwd: root });
      try {
        for (let round = 0; round < rounds; round += 1) {
          const { home, refFolder } = await newHome(`tui-${round}`);
          const berthEnv = { ...env, BERTH_HOME: home };
          await execa(process.execPath, [BERTH_BIN, 'daemon', 'restart'], { env: berthEnv, extendEnv: false });
          const pair = [() => tuiTurn(terminal, berthEnv).then((run) => tui.berth.runs.push(run)), () => cliTurn(refFolder, []).then((run) => tui.cli.runs.push(run))];
          for (const run of round % 2 === 0 ? pair : pair.reverse()) await run();
          await execa(process.execPath, [BERTH_BIN, 'daemon', 'stop', '--force'], { env: berthEnv, extendEnv: false });
        }
      } finally {
        await terminal.kill();
      }
      benches.push(tui);
    }

    console.log(`load after: ${loadAverage()}`);
    for (const bench of benches) report(bench);
  } finally {
    await finish();
  }
}

/**
 * The devDependency's bin folder, above this file wherever it runs from
 * (bench/ or .bench-build/bench/; claude-env.ts's claudeBinary is relative to
 * test/fixtures/, which .bench-build moves).
 */
function cliBinDir(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'node_modules', '.bin', 'claude'))) return path.join(dir, 'node_modules', '.bin');
  }
  throw new Error('bench: cannot find node_modules/.bin/claude above this file');
}

/**
 * The TUI in `terminal`: the dashboard, Enter on web (the first row), the
 * chat drawn; the message typed after TYPING_MS; timed from Enter until the
 * reply's first text shows. Then back and quit.
 */
async function tuiTurn(terminal: TmuxTerminal, env: Record<string, string>): Promise<Run> {
  const poll = { timeoutMs: RUN_TIMEOUT_MS, pollMs: 10 };
  await terminal.launch([process.execPath, BERTH_BIN], env);
  await terminal.waitFor((screen) => /web\s+workspace/.test(screen), poll);
  await terminal.press('Enter');
  await terminal.waitFor((screen) => screen.includes('chat · web'), poll);
  await sleep(TYPING_MS);
  await terminal.press('-l', MESSAGE);
  await terminal.waitFor((screen) => screen.includes(MESSAGE), poll);
  const sentAt = performance.now();
  await terminal.press('Enter');
  // The reply's first words ("Hello", capitalised: the message says "hello").
  const shown = await terminal.waitFor((screen) => screen.includes(REPLY.split(' ')[0]!), poll);
  await terminal.waitFor((screen) => screen.includes(REPLY), poll);
  await terminal.press('Escape');
  await terminal.press('q');
  await terminal.waitForExit(10_000);
  return { delta: shown.at - sentAt };
}

/** berth chat --json: a text_delta line. */
const isBerthDelta = (line: Record<string, unknown>) => line.type === 'text_delta';
/** claude's stream-json: a stream_event of a text delta. */
function isCliDelta(line: Record<string, unknown>): boolean {
  const event = line.event as { type?: string; delta?: { type?: string } } | undefined;
  return line.type === 'stream_event' && event?.type === 'content_block_delta' && event.delta?.type === 'text_delta';
}

/**
 * Spawns the command and times its first delta line on stdout; then waits for
 * it to exit (untimed), and throws if it failed or printed no delta. With
 * `daemonHome`, also times when that home's daemon starts to answer.
 */
async function timed(
  fake: FakeAnthropic,
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string> },
  isDelta: (line: Record<string, unknown>) => boolean,
  daemonHome?: string,
): Promise<Run> {
  const seen = fake.requests.length;
  const startedAt = performance.now();
  const startedAtMs = Date.now();
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let daemon: number | undefined;
  let deltaAt: number | undefined;
  let firstLineAt: number | undefined;
  let watching = daemonHome !== undefined;
  const watch = (async () => {
    while (watching && daemonHome !== undefined) {
      if (await answers(socketPath(daemonHome))) {
        daemon = performance.now() - startedAt;
        return;
      }
      await sleep(5);
    }
  })();
  let stdout = '';
  let stderr = '';
  let buffer = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    buffer += chunk;
    for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      firstLineAt ??= performance.now();
      if (deltaAt === undefined && line.startsWith('{') && isDelta(JSON.parse(line) as Record<string, unknown>)) deltaAt = performance.now();
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const exitCode = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  watching = false;
  await watch;
  const what = `${path.basename(command)} ${args.join(' ')}`;
  if (exitCode !== 0) throw new Error(`${what} exited with ${exitCode}:\n${stderr}${stdout}`);
  if (deltaAt === undefined) throw new Error(`${what} printed no text delta:\n${stdout}`);
  const after = fake.requests.slice(seen);
  const since = (at: number | undefined) => (at === undefined ? undefined : at - startedAtMs);
  return {
    delta: deltaAt - startedAt,
    ...(firstLineAt !== undefined && { firstLine: firstLineAt - startedAt }),
    ...(after[0] && { cliUp: since(after[0].receivedAt) }),
    ...(after.find((request) => request.isMain) && { request: since(after.find((request) => request.isMain)?.receivedAt) }),
    ...(daemon !== undefined && { daemon }),
  };
}

function report(bench: Bench): void {
  const berth = median(sorted(bench.berth.runs.map((run) => run.delta)));
  const cli = median(sorted(bench.cli.runs.map((run) => run.delta)));
  const ratio = berth / cli;
  reportFigure({ bench: 'live-session', what: `${bench.title} (${bench.berth.name})`, value: berth, unit: 'ms', reference: `${bench.cli.name} ${ms(cli)}`, ratio, target: `at most ${bench.target}x`, met: ratio <= bench.target });
  console.log(`\n${bench.title} (workspace mode, ${bench.berth.runs.length} paired rounds, medians)`);
  for (const side of [bench.berth, bench.cli]) {
    const deltas = side.runs.map((run) => run.delta);
    const steps = (['daemon', 'firstLine', 'cliUp', 'request'] as const)
      .map((step) => [step, side.runs.map((run) => run[step]).filter((value): value is number => value !== undefined)] as const)
      .filter(([, values]) => values.length > 0)
      .map(([step, values]) => `${STEP_NAMES[step]} ${ms(median(sorted(values)))}`);
    console.log(`  ${side.name.padEnd(22)} first delta ${ms(median(sorted(deltas)))} (min ${ms(Math.min(...deltas))}, max ${ms(Math.max(...deltas))})${steps.length > 0 ? `; ${steps.join(', ')}` : ''}`);
    console.log(`  ${''.padEnd(22)} rounds: ${deltas.map((delta) => delta.toFixed(0)).join(' ')}`);
  }
  // Each round's own ratio too: the machine's load moves both runs of a round alike.
  const paired = median(sorted(bench.berth.runs.map((run, round) => run.delta / bench.cli.runs[round]!.delta)));
  console.log(`  ratio of the medians ${ratio.toFixed(2)}x (median of the rounds' ratios ${paired.toFixed(2)}x), target at most ${bench.target}x: ${ratio <= bench.target ? 'met' : 'missed'}`);
  if (bench.nodeStarts) {
    const start = median(sorted(bench.nodeStarts));
    console.log(`  Node's own start here (spawn to its first output): ${ms(start)}, ${((start / cli) * 100).toFixed(0)}% of the CLI's first delta; the target leaves ${((bench.target - 1) * 100).toFixed(0)}% (${ms(cli * (bench.target - 1))}), the floor of a Node client is ${((cli + start) / cli).toFixed(2)}x`);
  }
}

/** Milliseconds from spawning Node to its first output: what any Node client pays before its first line runs. */
async function nodeStart(env: Record<string, string>): Promise<number> {
  const startedAt = performance.now();
  const child = spawn(process.execPath, ['-e', "process.stdout.write('.')"], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  const firstOutput = await new Promise<number>((resolve) => child.stdout.once('data', () => resolve(performance.now() - startedAt)));
  await new Promise((resolve) => child.once('close', resolve));
  return firstOutput;
}

const STEP_NAMES = { daemon: 'daemon answers', firstLine: 'first line', cliUp: 'CLI up (first request)', request: 'turn request at the API' } as const;
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const ms = (value: number) => `${value.toFixed(0)} ms`;
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/**
 * The processes the bench started that still run: a daemon of one of its
 * homes or an agent with its CLI home. Given 10 s to end, then killed.
 */
async function leftProcesses(root: string, cliHome: string): Promise<string[]> {
  const ours = () => readdirSync('/proc').filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid).filter((pid) => {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      return environ.includes(`HOME=${cliHome}`) || environ.some((variable) => variable.startsWith(`BERTH_HOME=${root}/`));
    } catch {
      return false;
    }
  });
  for (let waited = 0; waited < 10_000 && ours().length > 0; waited += 100) await sleep(100);
  const left = ours().map((pid) => {
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
    return `${pid} (${commandLine.slice(0, 80)})`;
  });
  return left;
}

await main();
