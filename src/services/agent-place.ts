/**
 * Where a project's live agent runs, and how it reaches the model API from
 * there: opened once per session and closed with it. On the host (workspace
 * mode) the agent gets the key and the gateway as berth has them. In the
 * project's container it gets neither: a token for the credential proxy,
 * which holds the key on the host and counts the spend, and the proxy's URL
 * through a relay lease that makes it reachable from the container's
 * network (its egress allowlist governs everything else the agent reaches).
 */
import { readFile } from 'node:fs/promises';
import type { AgentCredentials } from '../agents/types.js';
import { BerthError } from '../domain/errors.js';
import type { Project } from '../domain/project.js';
import type { Settings, SettingValue } from '../domain/settings.js';
import type { CredentialProxy } from '../runtime/credential-proxy.js';
import type { UrlLease } from '../runtime/loopback-bridge.js';
import type { RuntimeService } from './runtime-service.js';

export interface AgentPlace {
  /** The key (or the proxy's token) and the base URL, as the agent reaches them from where it runs. */
  credentials: AgentCredentials;
  /** The credential proxy counts this session's spend (not the agent's own reports). */
  viaProxy: boolean;
  /** The relay to the model API, for the session's life (container mode only). */
  lease?: UrlLease;
}

export interface AgentPlaceDeps {
  runtime: RuntimeService;
  /** The credential proxy, started on first use. */
  proxy: () => CredentialProxy;
  env: NodeJS.ProcessEnv;
}

/** Starts the project's container when it is stopped (or was never created), saying each step: it can take a while. */
export async function ensureContainerRunning(runtime: RuntimeService, projectName: string, say: (text: string) => void): Promise<void> {
  const container = await runtime.container(projectName);
  if (container?.status === 'running') return;
  say('starting the container…');
  await runtime.up(projectName, say);
}

/** Opens the place of a session of `project` (its container, when it has one, running already). */
export async function openAgentPlace(deps: AgentPlaceDeps, project: Project, settings: Settings): Promise<AgentPlace> {
  const host = await hostCredentials(deps.env, settings);
  if (project.mode !== 'container') return { credentials: host, viaProxy: false };
  let credentials = host;
  let viaProxy = false;
  if (host.apiKey !== undefined) {
    const container = await deps.runtime.container(project.name);
    const endpoint = await deps.proxy().endpoint(project.name, container?.id);
    credentials = { apiKey: endpoint.token, baseUrl: endpoint.url };
    viaProxy = true;
  }
  if (credentials.baseUrl === undefined) return { credentials, viaProxy };
  const lease = await deps.runtime.reachableUrl(project.name, credentials.baseUrl);
  return { credentials: { ...credentials, baseUrl: lease.url }, viaProxy, lease };
}

/** The key and the gateway berth itself has: its environment, else claude.apiKeyFile. */
export async function hostCredentials(env: NodeJS.ProcessEnv, settings: Settings): Promise<AgentCredentials> {
  const apiKey = nonEmpty(env.ANTHROPIC_API_KEY) ?? (await keyFromFile(settingOf(settings, 'claude.apiKeyFile')));
  const baseUrl = nonEmpty(env.ANTHROPIC_BASE_URL);
  return { ...(apiKey && { apiKey }), ...(baseUrl && { baseUrl }) };
}

/** A setting that may not be in the schema yet (claude.apiKeyFile is proposed): undefined until it is. */
function settingOf(settings: Settings, key: string): SettingValue | undefined {
  return (settings as Partial<Record<string, SettingValue>>)[key];
}

async function keyFromFile(file: SettingValue | undefined): Promise<string | undefined> {
  if (typeof file !== 'string' || file === '') return undefined;
  try {
    return nonEmpty((await readFile(file, 'utf8')).trim());
  } catch (error) {
    throw new BerthError(`cannot read the API key from ${file} (claude.apiKeyFile): ${(error as Error).message}`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
