import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BerthError } from '../../src/domain/errors.js';
import type { ExecRequest, RuntimeProject } from '../../src/runtime/types.js';
import { WorkspaceRuntime } from '../../src/runtime/workspace-runtime.js';
import { useTempDirs } from '../helpers/temp.js';

/** Linux: a zombie (exited, not yet reaped by init) no longer runs. */
async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

const pidsIn = (text: string): number[] => [...text.matchAll(/pid=(\d+)/g)].map((match) => Number(match[1]));

describe('workspace runtime', () => {
  const tempDir = useTempDirs();
  const runtime = new WorkspaceRuntime();
  let project: RuntimeProject;

  beforeEach(async () => {
    project = { name: 'demo', path: await tempDir('berth-ws-') };
  });

  const run = (argv: string[], extra: Partial<ExecRequest> = {}) => runtime.exec(project, { argv, timeoutMs: 30_000, ...extra });

  it('streams stdout and stderr as they arrive, in order, in the project folder', async () => {
    // The child waits for a file the test writes only once it has seen the previous chunk:
    // the order is then fixed, and nothing can be buffered until the end.
    const script = [
      'pwd',
      'until [ -e go1 ]; do sleep 0.02; done',
      'echo err-one >&2',
      'until [ -e go2 ]; do sleep 0.02; done',
      'echo out-two',
    ].join('\n');
    const seen: string[] = [];
    const outcome = await run(['bash', '-c', script], {
      onStdout: (chunk) => {
        seen.push(`out:${chunk}`);
        if (chunk.includes(project.path)) void writeFile(path.join(project.path, 'go1'), '');
      },
      onStderr: (chunk) => {
        seen.push(`err:${chunk}`);
        void writeFile(path.join(project.path, 'go2'), '');
      },
    });
    expect(seen).toEqual([`out:${project.path}\n`, 'err:err-one\n', 'out:out-two\n']);
    expect(outcome).toMatchObject({ exitCode: 0, timedOut: false, cancelled: false });
    expect(outcome.durationMs).toBeGreaterThan(0);
  });

  it('passes exit codes through', async () => {
    expect((await run(['bash', '-c', 'exit 3'])).exitCode).toBe(3);
    expect((await run(['true'])).exitCode).toBe(0);
  });

  it('on timeout, ends the command and what it started', async () => {
    let output = '';
    const outcome = await run(['bash', '-c', 'sleep 100 & echo pid=$!; echo pid=$$; sleep 100'], {
      timeoutMs: 1_500,
      onStdout: (chunk) => (output += chunk),
    });
    expect(outcome).toMatchObject({ exitCode: null, timedOut: true, cancelled: false });
    const pids = pidsIn(output);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(await isRunning(pid)).toBe(false);
  });

  // A timeout of its own: without the SIGKILL this would wait for the child's 100 s.
  it('on cancel, kills within the grace even a command that ignores SIGTERM', { timeout: 20_000 }, async () => {
    const controller = new AbortController();
    let output = '';
    let abortedAt = 0;
    const outcome = await run(['bash', '-c', 'trap "" TERM; sleep 100 & echo pid=$!; echo pid=$$; echo ready; wait'], {
      signal: controller.signal,
      onStdout: (chunk) => {
        output += chunk;
        if (output.includes('ready') && !abortedAt) {
          abortedAt = performance.now();
          controller.abort();
        }
      },
    });
    const took = performance.now() - abortedAt;
    expect(outcome).toMatchObject({ exitCode: null, timedOut: false, cancelled: true });
    // The grace is 2 s; the bound is loose because the machine may be busy.
    expect(took).toBeLessThan(5_000);
    const pids = pidsIn(output);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(await isRunning(pid)).toBe(false);
  });

  it('does not start a command whose signal is already aborted', async () => {
    const outcome = await run(['touch', 'started'], { signal: AbortSignal.abort() });
    expect(outcome).toMatchObject({ exitCode: null, cancelled: true });
    expect(existsSync(path.join(project.path, 'started'))).toBe(false);
  });

  it('leaves nothing running once the command has exited', async () => {
    let output = '';
    const outcome = await run(['bash', '-c', 'sleep 100 >/dev/null 2>&1 & echo pid=$!'], { onStdout: (chunk) => (output += chunk) });
    expect(outcome.exitCode).toBe(0);
    const [background] = pidsIn(output);
    expect(await isRunning(background!)).toBe(false);
  });

  describe('environment', () => {
    const planted = { AWS_SECRET_ACCESS_KEY: 'aws-secret', GITHUB_TOKEN: 'gh-token', BERTH_HOME: '/berth/home', BERTH_TEST_PLANTED: 'x' };
    beforeEach(() => {
      Object.assign(process.env, planted, { LC_BERTH_TEST: 'de_DE.UTF-8' });
    });
    afterEach(() => {
      for (const name of [...Object.keys(planted), 'LC_BERTH_TEST']) delete process.env[name];
    });

    it("gives the command only the allowlisted part of berth's environment, plus the request's", async () => {
      let output = '';
      await run([process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.env))'], {
        env: { ANTHROPIC_API_KEY: 'sk-for-the-agent' },
        onStdout: (chunk) => (output += chunk),
      });
      const env = JSON.parse(output) as Record<string, string>;
      for (const name of Object.keys(planted)) expect(env).not.toHaveProperty(name);
      expect(env).toMatchObject({ PATH: process.env.PATH, ANTHROPIC_API_KEY: 'sk-for-the-agent', LC_BERTH_TEST: 'de_DE.UTF-8' });
      if (process.env.HOME) expect(env.HOME).toBe(process.env.HOME);
    });
  });

  it('hands an argument full of shell syntax to the program unchanged', async () => {
    const message = `fix "it" & $(touch pwned) ; \`touch pwned\` | cat > out 'q' * ~ $HOME \\n %s\nline two 💥`;
    let output = '';
    const outcome = await run(['printf', '%s', message], { onStdout: (chunk) => (output += chunk) });
    expect(outcome.exitCode).toBe(0);
    expect(output).toBe(message);
    expect(existsSync(path.join(project.path, 'pwned'))).toBe(false);
  });

  it('refuses a missing folder and a missing program with one line', async () => {
    const missing = { name: 'gone', path: path.join(project.path, 'nowhere') };
    await expect(runtime.exec(missing, { argv: ['true'], timeoutMs: 1_000 })).rejects.toThrow(
      new BerthError(`the workspace of gone is missing: ${missing.path} is not a folder`),
    );
    const error = await run(['berth-no-such-program-here']).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BerthError);
    expect((error as Error).message).toMatch(/^cannot run berth-no-such-program-here in demo: no such program/);
    expect((error as Error).message).not.toContain('\n');
  });
});
