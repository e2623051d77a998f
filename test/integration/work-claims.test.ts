/**
 * Work claims on a real registry file: a dead berth's turn claim is taken
 * over while its leftovers are ended, so that no turn starts meanwhile; one
 * that cannot be ended stays and refuses turns; a claim released though its
 * removal could not be written does not block its own process.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { WorkClaim } from '../../src/domain/work.js';
import { WorkClaims } from '../../src/services/work-claims.js';
import { AuditLog } from '../../src/store/audit-log.js';
import { ProjectRegistry } from '../../src/store/project-registry.js';
import { TranscriptStore } from '../../src/store/transcripts.js';
import { useTempDirs } from '../helpers/temp.js';

const tempDir = useTempDirs();

/** A pid that ran and is gone. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

async function registryWith(work: WorkClaim[]) {
  const home = await tempDir('berth-claims-');
  const registry = new ProjectRegistry(path.join(home, 'projects.json'));
  await registry.update((projects) => {
    projects.push({ name: 'web', path: path.join(home, 'web'), mode: 'workspace', ownsWorkspace: false, createdAt: new Date().toISOString(), lastActive: null, state: 'ready', work });
  });
  return { home, registry };
}

const deadTurn = (): WorkClaim => ({ kind: 'turn', marker: '00000000000000aa', owner: { pid: deadPid(), start: '' }, since: new Date().toISOString(), mode: 'workspace', turn: 1 });

describe('work claims', () => {
  it('a turn waits while a dead turn is recovered, and starts only after', async () => {
    const { home, registry } = await registryWith([deadTurn()]);
    const steps: string[] = [];
    const deps = (name: string) => ({
      registry,
      transcripts: new TranscriptStore(path.join(home, 'transcripts')),
      audit: new AuditLog(path.join(home, 'audit.jsonl')),
      endLeftovers: async () => {
        steps.push(`${name} ends the leftovers`);
        await sleep(600);
        steps.push(`${name} ended them`);
      },
    });
    const recovering = new WorkClaims(deps('first')).recover('web');
    await sleep(100);
    const taking = new WorkClaims(deps('second')).take('web', 'turn').then((claim) => {
      steps.push('second took the turn');
      return claim;
    });
    expect(await recovering).toEqual([]);
    const claim = await taking;
    expect(steps).toEqual(['first ends the leftovers', 'first ended them', 'second took the turn']);
    const work = (await registry.get('web'))!.work!;
    expect(work.map((held) => held.marker)).toEqual([claim.marker]);
    await claim.release();
    expect((await registry.get('web'))!.work).toBeUndefined();
  });

  it('keeps a dead claim whose leftovers cannot be ended, and refuses a turn saying why', async () => {
    const { home, registry } = await registryWith([deadTurn()]);
    const claims = new WorkClaims({
      registry,
      transcripts: new TranscriptStore(path.join(home, 'transcripts')),
      audit: new AuditLog(path.join(home, 'audit.jsonl')),
      endLeftovers: () => Promise.reject(new Error('the engine does not answer')),
    });
    await expect(claims.take('web', 'turn')).rejects.toThrow(
      /^a turn of berth process \d+, which ended without finishing it, left processes in web that could not be ended \(the engine does not answer\): try again once they can be$/,
    );
    const [kept] = (await registry.get('web'))!.work!;
    expect(kept).toMatchObject({ marker: '00000000000000aa', owner: { start: '' } });
    // A command may still run: only turns wait for a turn.
    const exec = await claims.take('web', 'exec');
    await exec.release();
  });

  it('a turn that comes while this process recovers the project waits for that recovery, and is refused when it failed', async () => {
    const { home, registry } = await registryWith([deadTurn()]);
    let ends = 0;
    const claims = new WorkClaims({
      registry,
      transcripts: new TranscriptStore(path.join(home, 'transcripts')),
      audit: new AuditLog(path.join(home, 'audit.jsonl')),
      endLeftovers: async () => {
        ends += 1;
        await sleep(400);
        throw new Error('the container is paused');
      },
    });
    // As a daemon's start-up recovery: meanwhile this process holds the dead claim.
    const starting = claims.recover('web');
    await sleep(100);
    await expect(claims.recoverFor('web', true)).rejects.toThrow(/left processes in web that could not be ended \(the container is paused\)/);
    expect(await starting).toHaveLength(1);
    expect(ends).toBe(1);
  });

  it("drops this process's own claim once released, even when its removal was not written", async () => {
    const { home, registry } = await registryWith([]);
    const claims = new WorkClaims({
      registry,
      transcripts: new TranscriptStore(path.join(home, 'transcripts')),
      audit: new AuditLog(path.join(home, 'audit.jsonl')),
      endLeftovers: () => Promise.resolve(),
    });
    const first = await claims.take('web', 'exec');
    const stuck = (await registry.get('web'))!.work!;
    await first.release();
    // As if the release had not reached the file (a full disk): the claim is back in it.
    await registry.update((projects) => void (projects[0]!.work = stuck));
    const second = await claims.take('web', 'turn', { wait: false });
    expect((await registry.get('web'))!.work!.map((held) => held.marker)).toEqual([second.marker]);
    await second.release();
    // Not taken for work that a dead berth left unfinished: it ended, in this process.
    expect(await readFile(path.join(home, 'audit.jsonl'), 'utf8').catch(() => '')).not.toContain('interrupted');
  });
});
