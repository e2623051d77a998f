/**
 * The CLI's own TUI, started where berth keeps the agent's config (the
 * project's container), stops at its first-run prompts: onboarding (which
 * checks that it reaches api.anthropic.com, and fails without internet), the
 * API key from the environment (here, the credential proxy's token), trust
 * in the folder. berth answers them in that config before it hands the
 * terminal over: the onboarding is done, the key approved (the CLI keeps
 * approved keys by their last 20 characters), the workspace trusted (it is
 * the container's, and the container is what confines the agent).
 * The user's own config on the host is never written.
 */
import { chmod, chown, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BerthError } from '../../domain/errors.js';

/** The file the CLI reads its config from, in its config folder (CLAUDE_CONFIG_DIR). */
export const CONFIG_FILE = '.claude.json';
const APPROVED_KEY_LENGTH = 20;

export interface InteractiveStart {
  /** The workspace as the agent sees it. */
  workspace: string;
  /** The key the agent is given, if any. */
  apiKey?: string;
}

type Json = Record<string, unknown>;

function objectOf(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** `config` with the first-run prompts answered; everything else in it kept. */
export function withPromptsAnswered(config: Json, start: InteractiveStart): Json {
  const projects = objectOf(config.projects);
  const next: Json = {
    ...config,
    hasCompletedOnboarding: true,
    projects: { ...projects, [start.workspace]: { ...objectOf(projects[start.workspace]), hasTrustDialogAccepted: true } },
  };
  if (start.apiKey !== undefined && start.apiKey !== '') {
    const responses = objectOf(config.customApiKeyResponses);
    const suffix = start.apiKey.slice(-APPROVED_KEY_LENGTH);
    const approved = stringsOf(responses.approved);
    next.customApiKeyResponses = {
      ...responses,
      approved: approved.includes(suffix) ? approved : [...approved, suffix],
      rejected: stringsOf(responses.rejected).filter((key) => key !== suffix),
    };
  }
  return next;
}

/**
 * Answers the first-run prompts in the config file of `configDir` (the host
 * side of the container's config folder), written whole (a temporary file
 * renamed over it) and owned as the folder is, so the agent keeps writing it;
 * where berth cannot give it away (not root), a folder open to others (as
 * berth leaves it for an agent of another uid) gets a file open as it is.
 */
export async function answerFirstRunPrompts(configDir: string, start: InteractiveStart): Promise<void> {
  const file = path.join(configDir, CONFIG_FILE);
  let current: Json = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    current = objectOf(parsed);
    if (current !== parsed) throw new SyntaxError('not a JSON object');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new BerthError(`cannot open the agent's own TUI: ${file} is not valid (${(error as Error).message}); move it away and try again`);
    }
  }
  const folder = await stat(configDir);
  const asRoot = process.getuid?.() === 0;
  const mode = !asRoot && (folder.mode & 0o007) !== 0 ? 0o666 : 0o600;
  const temporary = `${file}.berth-${process.pid}`;
  try {
    await writeFile(temporary, `${JSON.stringify(withPromptsAnswered(current, start), null, 2)}\n`, { mode });
    await chmod(temporary, mode);
    if (asRoot) await chown(temporary, folder.uid, folder.gid);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
