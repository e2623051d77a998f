/**
 * The first-run prompts of the CLI's TUI, answered in the config berth keeps
 * for a container's agent: what the CLI needs (proven against the real TUI in
 * test/integration/daemon-container.test.ts), and nothing of the rest lost.
 */
import { execa } from 'execa';
import { readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { answerFirstRunPrompts, withPromptsAnswered } from '../../src/agents/claude/interactive-config.js';
import { BerthError } from '../../src/domain/errors.js';
import { useTempDirs } from '../helpers/temp.js';

const TOKEN = 'berth-proxy-token-0123456789abcdefghij';

describe('withPromptsAnswered', () => {
  it('marks the onboarding done, the workspace trusted and the key approved by its last 20 characters', () => {
    expect(withPromptsAnswered({}, { workspace: '/workspace', apiKey: TOKEN })).toEqual({
      hasCompletedOnboarding: true,
      projects: { '/workspace': { hasTrustDialogAccepted: true } },
      customApiKeyResponses: { approved: ['0123456789abcdefghij'], rejected: [] },
    });
  });

  it('keeps what the agent wrote, adds a key once, and takes it out of the rejected ones', () => {
    const current = {
      numStartups: 7,
      projects: { '/workspace': { lastSessionId: 'x', hasTrustDialogAccepted: false }, '/other': { allowedTools: [] } },
      customApiKeyResponses: { approved: ['older-key-suffix-abcd'], rejected: ['0123456789abcdefghij'] },
    };
    const once = withPromptsAnswered(current, { workspace: '/workspace', apiKey: TOKEN });
    expect(once).toMatchObject({
      numStartups: 7,
      projects: { '/workspace': { lastSessionId: 'x', hasTrustDialogAccepted: true }, '/other': { allowedTools: [] } },
      customApiKeyResponses: { approved: ['older-key-suffix-abcd', '0123456789abcdefghij'], rejected: [] },
    });
    expect(withPromptsAnswered(once, { workspace: '/workspace', apiKey: TOKEN })).toEqual(once);
  });

  it('approves no key when the agent is given none, and reads odd shapes as empty', () => {
    const next = withPromptsAnswered({ projects: [], customApiKeyResponses: 'no' }, { workspace: '/workspace' });
    expect(next.projects).toEqual({ '/workspace': { hasTrustDialogAccepted: true } });
    expect(next.customApiKeyResponses).toBe('no');
  });
});

describe('answerFirstRunPrompts', () => {
  const tempDir = useTempDirs();

  it('writes the config whole into the folder, private, keeping what was there', async () => {
    const folder = await tempDir('berth-agent-config-');
    await writeFile(path.join(folder, '.claude.json'), JSON.stringify({ numStartups: 3 }));
    await answerFirstRunPrompts(folder, { workspace: '/workspace', apiKey: TOKEN });
    const written = JSON.parse(await readFile(path.join(folder, '.claude.json'), 'utf8')) as Record<string, unknown>;
    expect(written).toMatchObject({ numStartups: 3, hasCompletedOnboarding: true });
    expect((await stat(path.join(folder, '.claude.json'))).mode & 0o777).toBe(0o600);
    expect(await readdir(folder)).toEqual(['.claude.json']);
  });

  it('never follows a link the agent put in its folder, nor reads a file that is not regular', async () => {
    const folder = await tempDir('berth-agent-config-');
    const hostFile = path.join(await tempDir('berth-host-'), 'credentials.json');
    await writeFile(hostFile, JSON.stringify({ primaryApiKey: 'sk-host-secret' }));
    await symlink(hostFile, path.join(folder, '.claude.json'));
    const linked = await answerFirstRunPrompts(folder, { workspace: '/workspace' }).catch((error: unknown) => error);
    expect((linked as Error).message).toMatch(/^cannot open the agent's own TUI: .*\.claude\.json is a symbolic link; move it away and try again$/);
    expect(await readFile(hostFile, 'utf8')).toBe(JSON.stringify({ primaryApiKey: 'sk-host-secret' }));
    expect(await readdir(folder)).toEqual(['.claude.json']);

    await rm(path.join(folder, '.claude.json'));
    await execa('mkfifo', [path.join(folder, '.claude.json')]);
    const fifo = await answerFirstRunPrompts(folder, { workspace: '/workspace' }).catch((error: unknown) => error);
    expect((fifo as Error).message).toMatch(/\.claude\.json is not a regular file; move it away/);
  });

  it('refuses a config that is not a JSON object in one line, and leaves it as it was', async () => {
    const folder = await tempDir('berth-agent-config-');
    for (const broken of ['{"cut": ', '[1, 2]']) {
      await writeFile(path.join(folder, '.claude.json'), broken);
      const refusal = await answerFirstRunPrompts(folder, { workspace: '/workspace' }).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(BerthError);
      expect((refusal as Error).message).toMatch(/^cannot open the agent's own TUI: .*\.claude\.json is not valid \(.*\); move it away and try again$/);
      expect((refusal as Error).message).not.toContain('\n');
      expect(await readFile(path.join(folder, '.claude.json'), 'utf8')).toBe(broken);
    }
  });
});
