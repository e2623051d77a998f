// What a short berth command costs against Node's own start: `berth --version`,
// `berth --help` and `berth project ls --json` with 50 projects (workspace mode,
// so no engine is asked), each timed from spawn to exit, interleaved with
// `node -e 0` in every round. Target (issue 16): at most 2x `node -e 0`. With
// the docker CLI on PATH and an engine answering, `docker ps` is timed too, as
// what a user would run instead of `project ls`. Without NODE_EXTRA_CA_CERTS.
//   first argument or BENCH_ROUNDS   rounds (15)
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { reportFigure } from './figures.js';
import { BERTH_BIN, berth, cleanUpOnce, median, numberFromEnv, projectNames } from './tui-support.js';

const rounds = Number(process.argv[2] ?? numberFromEnv('BENCH_ROUNDS', 15));
const PROJECTS = 50;
const TARGET = 2;

interface Contender {
  name: string;
  argv: string[];
  times: number[];
}

async function timed(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [program, ...args] = argv;
  const started = performance.now();
  // The environment as given: execa would add back what main() left out of it.
  const result = await execa(program!, args, { env, extendEnv: false, stdin: 'ignore', reject: false });
  const elapsed = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`${argv.join(' ')} failed (${result.exitCode}): ${result.stderr}`);
  return elapsed;
}

async function dockerAnswers(): Promise<boolean> {
  const result = await execa('docker', ['ps', '-q'], { reject: false, stdin: 'ignore' }).catch(() => undefined);
  return result?.exitCode === 0;
}

async function main(): Promise<void> {
  const home = await mkdtemp(path.join(tmpdir(), 'berth-bench-cli-'));
  const cleanUp = cleanUpOnce(() => rm(home, { recursive: true, force: true }));
  try {
    for (const name of projectNames(PROJECTS)) await berth(home, ['project', 'add', name]);
    // NODE_EXTRA_CA_CERTS makes every Node start read the CA bundle (about 90 ms here): it would hide berth's own share.
    const { NODE_EXTRA_CA_CERTS: _extraCertificates, ...inherited } = process.env;
    const env = { ...inherited, BERTH_HOME: home, NO_COLOR: '1' };
    const node = process.execPath;
    const floor: Contender = { name: 'node -e 0', argv: [node, '-e', '0'], times: [] };
    const contenders: Contender[] = [
      { name: 'berth --version', argv: [node, BERTH_BIN, '--version'], times: [] },
      { name: 'berth --help', argv: [node, BERTH_BIN, '--help'], times: [] },
      { name: `berth project ls --json (${PROJECTS})`, argv: [node, BERTH_BIN, 'project', 'ls', '--json'], times: [] },
    ];
    const others: Contender[] = (await dockerAnswers()) ? [{ name: 'docker ps', argv: ['docker', 'ps'], times: [] }] : [];
    const all = [floor, ...contenders, ...others];
    // One untimed run each: the page cache, not the first round, pays for reading the files.
    for (const contender of all) await timed(contender.argv, env);
    for (let round = 0; round < rounds; round += 1) {
      for (const contender of all) contender.times.push(await timed(contender.argv, env));
    }
    const floorMs = median([...floor.times].sort((a, b) => a - b));
    console.log(`\nshort commands, spawn to exit (${rounds} interleaved rounds, medians; target at most ${TARGET}x node -e 0)`);
    console.log(`  ${'node -e 0'.padEnd(36)} ${floorMs.toFixed(0).padStart(5)} ms`);
    for (const contender of [...contenders, ...others]) {
      const ms = median([...contender.times].sort((a, b) => a - b));
      const ratio = ms / floorMs;
      const verdict = contenders.includes(contender) ? `  ${ratio <= TARGET ? 'met' : 'missed'}` : '';
      console.log(`  ${contender.name.padEnd(36)} ${ms.toFixed(0).padStart(5)} ms  ${ratio.toFixed(2)}x${verdict}`);
      if (contenders.includes(contender)) {
        reportFigure({ bench: 'cli-start', what: contender.name, value: ms, unit: 'ms', reference: `node -e 0 ${floorMs.toFixed(0)} ms`, ratio, target: `at most ${TARGET}x`, met: ratio <= TARGET });
      }
    }
  } finally {
    await cleanUp();
  }
}

await main();
