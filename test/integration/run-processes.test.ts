/**
 * A run's processes on this machine, found and ended wherever they went: a
 * process group of their own, a session of their own (setsid), a cleared
 * environment; and the identity of a berth process, told apart from a
 * process that got its pid later.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { currentProcess, isRunning } from '../../src/runtime/process/process-identity.js';
import { endRun, killRunNow, newRunMarker, RUN_MARKER, runProcesses } from '../../src/runtime/process/run-processes.js';
import { processesRunning, waitFor } from '../helpers/processes.js';

const started: string[] = [];

afterEach(() => {
  for (const marker of started.splice(0)) killRunNow({ marker });
});

/** A shell leading its own group that starts a sleeper in every way there is to leave it, each sleeping `tag` seconds. */
function startTree(marker: string, tag: string): number {
  const script = [
    `sleep ${tag}1 &`,
    // A process group of its own, as Claude Code gives each Bash tool.
    `(set -m; sleep ${tag}2 &) &`,
    // A session of its own.
    `setsid sleep ${tag}3 &`,
    // Its environment cleared: found as a descendant.
    `env -u ${RUN_MARKER} sleep ${tag}4 &`,
    'wait',
  ].join('\n');
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore', env: { ...process.env, [RUN_MARKER]: marker } });
  started.push(marker);
  return child.pid!;
}

const sleepers = async (tag: string) => (await Promise.all([1, 2, 3, 4].map((n) => processesRunning(`sleep ${tag}${n}`, 'exact')))).flat();

describe('run processes', () => {
  it('endRun ends the whole run, wherever its processes went, and nothing else', async () => {
    const marker = newRunMarker();
    const group = startTree(marker, '91.');
    const bystander = startTree(newRunMarker(), '92.');
    await waitFor(async () => (await sleepers('91.')).length === 4 && (await sleepers('92.')).length === 4, 'both trees started');
    expect((await runProcesses({ marker, group })).length).toBeGreaterThanOrEqual(5);

    await endRun({ marker, group }, 1_000);
    expect(await sleepers('91.')).toEqual([]);
    expect(await runProcesses({ marker, group })).toEqual([]);
    expect(await sleepers('92.')).toHaveLength(4);
    expect(isRunning({ pid: bystander, start: '' })).toBe(true);
  });

  it('finds a run by its marker alone, as a later berth does after a crash', async () => {
    const marker = newRunMarker();
    startTree(marker, '93.');
    await waitFor(async () => (await sleepers('93.')).length === 4, 'the tree started');
    await endRun({ marker }, 1_000);
    // The one that cleared its environment is a descendant of the marked shell, and went with it.
    expect(await sleepers('93.')).toEqual([]);
  });

  it('killRunNow kills the run at once, synchronously (for the exit of berth)', async () => {
    const marker = newRunMarker();
    const group = startTree(marker, '94.');
    await waitFor(async () => (await sleepers('94.')).length === 4, 'the tree started');
    killRunNow({ marker, group });
    await waitFor(async () => (await sleepers('94.')).length === 0, 'the tree gone', 2_000);
  });

  it('tells a running berth process from one that is gone, and from a reused pid', () => {
    const self = currentProcess();
    expect(self.pid).toBe(process.pid);
    expect(self.start).toMatch(/^[0-9a-f-]+:\d+$/);
    expect(isRunning(self)).toBe(true);
    expect(isRunning({ pid: process.pid, start: 'another-boot:1' })).toBe(false);
    expect(isRunning({ pid: process.ppid, start: '' })).toBe(true);
    expect(isRunning({ pid: 2 ** 22 + 17, start: '' })).toBe(false);
  });
});
