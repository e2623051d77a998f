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
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, rename, rm } from 'node:fs/promises';
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
 *
 * The agent can write in that folder: a link it put there is never followed
 * (berth may run as root, and the link could name any file of the host). The
 * config is read only as a regular file, and the temporary file is made anew
 * (O_EXCL, a random name) and changed through its own descriptor.
 */
export async function answerFirstRunPrompts(configDir: string, start: InteractiveStart): Promise<void> {
  const file = path.join(configDir, CONFIG_FILE);
  const current = await readConfig(file);
  const folder = await lstat(configDir);
  if (!folder.isDirectory()) throw new BerthError(`cannot open the agent's own TUI: ${configDir} is not a folder`);
  const asRoot = process.getuid?.() === 0;
  const mode = !asRoot && (folder.mode & 0o007) !== 0 ? 0o666 : 0o600;
  const temporary = `${file}.berth-${randomBytes(8).toString('hex')}`;
  const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(withPromptsAnswered(current, start), null, 2)}\n`);
    await handle.chmod(mode);
    if (asRoot) await handle.chown(folder.uid, folder.gid);
    await handle.close();
    // rename replaces whatever is at `file`, a link included, without following it.
    await rename(temporary, file);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
}

/** The config as a JSON object: {} when there is none; a one-line error for a link, a non-file, unreadable or invalid content. */
async function readConfig(file: string): Promise<Json> {
  const refuse = (why: string) => new BerthError(`cannot open the agent's own TUI: ${file} ${why}; move it away and try again`);
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return {};
    if (code === 'ELOOP') throw refuse('is a symbolic link');
    throw refuse(`cannot be read (${code ?? (error as Error).message})`);
  }
  try {
    if (!(await handle.stat()).isFile()) throw refuse('is not a regular file');
    let parsed: unknown;
    try {
      parsed = JSON.parse(await handle.readFile('utf8'));
    } catch (error) {
      throw refuse(`is not valid (${(error as Error).message})`);
    }
    const config = objectOf(parsed);
    if (config !== parsed) throw refuse('is not valid (not a JSON object)');
    return config;
  } finally {
    await handle.close();
  }
}
