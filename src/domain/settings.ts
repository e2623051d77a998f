import { BerthError } from './errors.js';
import { COMMANDS, COMMAND_NAMES, parseKeyList, type Command } from './keys.js';
import { parseDuration } from './duration.js';
import { hostListProblem } from './egress.js';
import { parseCommandArgv, parseNotifyOn } from './notifications.js';
import { quote } from './project.js';
import { SIZE_PATTERN, parseSize } from './size.js';

/**
 * The schema of berth's settings: every key, its type, its range and its
 * default. Values are validated against it when they are set and again when
 * the settings file is loaded, so a hand-edited file cannot smuggle in a bad one.
 */
type Kind =
  | { type: 'duration'; min: string; max: string; allowOff?: boolean }
  | { type: 'size'; min: string; max: string }
  | { type: 'integer'; min: number; max: number }
  | { type: 'number'; min: number; max: number }
  | { type: 'boolean' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'string'; pattern: RegExp; maxLength: number; hint: string }
  | { type: 'keys' }
  | { type: 'hosts' }
  | { type: 'events' }
  | { type: 'argv' };

export type SettingValue = string | number | boolean;

interface SettingSpec {
  kind: Kind;
  default: SettingValue;
  description: string;
}

const spec = (kind: Kind, value: SettingValue, description: string): SettingSpec => ({
  kind,
  default: value,
  description,
});

export const SETTINGS = {
  'notify.on': spec({ type: 'events' }, 'waiting,done,failed', 'notify when a project starts waiting for you, finishes or fails a turn (any of waiting,done,failed; empty for never)'),
  'notify.command': spec(
    { type: 'argv' },
    '',
    'a program the daemon runs for each notification, as a JSON array (no shell), with BERTH_PROJECT, BERTH_EVENT and BERTH_MESSAGE set',
  ),
  'dashboard.waitingFirst': spec({ type: 'boolean' }, false, 'the projects whose agent waits for you come first on the dashboard'),
  'defaults.mode': spec({ type: 'enum', values: ['workspace', 'container'] }, 'workspace', 'isolation mode of new projects'),
  'runtime.execTimeout': spec({ type: 'duration', min: '1s', max: '24h' }, '5m', 'time limit of a command run in a workspace or container'),
  'chat.turnTimeout': spec({ type: 'duration', min: '10s', max: '24h' }, '10m', 'time limit of one chat turn'),
  'chat.unattended': spec(
    { type: 'enum', values: ['deny', 'wait'] },
    'deny',
    'a permission request or question of a turn sent without a terminal, when nobody answers: deny it at once, or wait for berth approve/deny',
  ),
  'chat.sessionIdle': spec({ type: 'duration', min: '1s', max: '24h' }, '15m', "a project's live agent session ends after this long without a turn"),
  'claude.model': spec(
    { type: 'string', pattern: /^[A-Za-z0-9._:[\]-]*$/, maxLength: 100, hint: 'a model name such as sonnet, or empty for the CLI default' },
    '',
    'model passed to claude --model (empty: the CLI default)',
  ),
  'claude.permissionMode': spec(
    { type: 'enum', values: ['acceptEdits', 'default', 'plan', 'bypassPermissions'] },
    'acceptEdits',
    'claude --permission-mode (bypassPermissions only in containers)',
  ),
  'claude.apiKeyFile': spec(
    { type: 'string', pattern: /^(\/[^\0]*)?$/, maxLength: 4096, hint: 'an absolute path to a file holding the API key, or empty' },
    '',
    'file holding the API key, read when ANTHROPIC_API_KEY is not set (the key stays out of settings.json)',
  ),
  'claude.allowedTools': spec(
    { type: 'string', pattern: /^[^\0\n]*$/, maxLength: 2000, hint: 'tool rules separated by commas, e.g. Read,Bash(git *)' },
    '',
    'claude --allowedTools: tools the agent may use unasked (comma-separated rules)',
  ),
  'claude.disallowedTools': spec(
    { type: 'string', pattern: /^[^\0\n]*$/, maxLength: 2000, hint: 'tool rules separated by commas, e.g. WebFetch' },
    '',
    'claude --disallowedTools: tools the agent may not use (comma-separated rules)',
  ),
  'claude.mountHostCli': spec({ type: 'boolean' }, false, "mount the host's claude binary into containers instead of the image's"),
  'container.memory': spec({ type: 'size', min: '256m', max: '1024g' }, '2g', 'memory limit of a project container'),
  'container.cpus': spec({ type: 'number', min: 0.1, max: 256 }, 2, 'CPU limit of a project container'),
  'container.pids': spec({ type: 'integer', min: 64, max: 1_000_000 }, 512, 'process limit of a project container'),
  'container.nofile': spec({ type: 'integer', min: 256, max: 1_048_576 }, 4096, 'open-files ulimit (nofile) in a project container'),
  'container.nproc': spec({ type: 'integer', min: 64, max: 1_000_000 }, 2048, 'process ulimit (nproc) of the agent user in a container'),
  'container.image': spec(
    { type: 'string', pattern: /^[a-z0-9][a-z0-9._/:@-]*$/, maxLength: 200, hint: 'an image reference such as berth-workspace:latest' },
    'berth-workspace:latest',
    'image of project containers (berth image build makes it)',
  ),
  'container.stopTimeout': spec({ type: 'duration', min: '1s', max: '10m' }, '10s', 'grace period of a stop before the container is killed'),
  'container.healthInterval': spec({ type: 'duration', min: '1s', max: '1h' }, '60s', 'how often the image\'s healthcheck runs in a container (3 failures in a row: unhealthy)'),
  'container.readOnlyRoot': spec(
    { type: 'boolean' },
    true,
    "the container's root filesystem read-only; /tmp and the agent's home are in memory (tmpfs)",
  ),
  'container.mountSsh': spec({ type: 'boolean' }, false, 'mount ~/.ssh read-only into the container'),
  'engine': spec(
    { type: 'string', pattern: /^((unix|tcp|ssh|npipe):\/\/\S+)?$/, maxLength: 300, hint: 'an engine address such as unix:///run/podman/podman.sock, or empty' },
    '',
    'container engine address (empty: DOCKER_HOST, else the local Docker socket)',
  ),
  'limits.dailyUsd': spec({ type: 'number', min: 0, max: 100_000 }, 0, "a project's spend on the model API per day (UTC), in dollars; 0: no cap"),
  'network.subnetPool': spec(
    { type: 'string', pattern: /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\/(1[2-9]|2[0-4])$/, maxLength: 18, hint: 'an IPv4 range such as 10.239.0.0/16 (a /12 to a /24)' },
    '10.239.0.0/16',
    'the addresses from which each project network gets a /28 of its own',
  ),
  'net.allow': spec({ type: 'hosts' }, '', 'hosts a container may reach beyond the defaults (comma-separated; *.example.com; host:port)'),
  'net.deny': spec({ type: 'hosts' }, '', 'hosts taken off the allowlist, defaults included (comma-separated)'),
  'policies.tick': spec({ type: 'duration', min: '1s', max: '1h' }, '30s', 'how often the supervisor applies the policies'),
  'policies.idleTimeout': spec({ type: 'duration', min: '1s', max: '30d' }, '60m', 'stop a container after this long without activity'),
  'policies.maxRunning': spec({ type: 'integer', min: 1, max: 1000 }, 5, 'most containers running at once'),
  'policies.maxAge': spec({ type: 'duration', min: '1m', max: '365d' }, '72h', 'recreate a container older than this'),
  'policies.removeStoppedAfter': spec({ type: 'duration', min: '1s', max: '365d' }, '7d', 'remove a container stopped for longer than this'),
  'policies.workspaceMaxAge': spec(
    { type: 'duration', min: '1d', max: '3650d', allowOff: true },
    'off',
    'offer to remove berth-created workspaces idle for longer than this (off: never)',
  ),
  'policies.warmPool': spec({ type: 'integer', min: 0, max: 50 }, 0, 'ready containers kept waiting for new projects'),
  'policies.maxCommit': spec({ type: 'integer', min: 10, max: 1000 }, 100, 'percent of host memory that container limits may add up to'),
  ...keySettings(),
} as const satisfies Record<string, SettingSpec>;

/** `keys.openChat` = "enter,c": one setting per control-center command, so that each can be remapped. */
function keySettings(): Record<`keys.${Command}`, SettingSpec> {
  return Object.fromEntries(
    COMMAND_NAMES.map((name) => [`keys.${name}`, spec({ type: 'keys' }, COMMANDS[name].keys.join(','), `keys for: ${COMMANDS[name].description}`)]),
  ) as Record<`keys.${Command}`, SettingSpec>;
}

/** The key remappings among the settings, as buildKeymap takes them. */
export function keyOverrides(settings: Settings): Partial<Record<Command, string>> {
  return Object.fromEntries(COMMAND_NAMES.map((name) => [name, String(settings[`keys.${name}`])]));
}

export type SettingKey = keyof typeof SETTINGS;
export type Settings = Record<SettingKey, SettingValue>;
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(SETTINGS, key);
}

export function checkSettingKey(key: string): SettingKey {
  if (isSettingKey(key)) return key;
  throw new BerthError(`unknown setting ${quote(key)}: see berth config list`);
}

export function defaultSettings(): Settings {
  return Object.fromEntries(SETTING_KEYS.map((key) => [key, SETTINGS[key].default])) as Settings;
}

/** A value typed on the command line, as text, to its stored form; throws naming the key. */
export function parseSettingText(key: string, text: string): SettingValue {
  const known = checkSettingKey(key);
  const { kind } = SETTINGS[known];
  switch (kind.type) {
    case 'integer':
    case 'number':
      return checkSettingValue(known, /^-?[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : text);
    case 'boolean':
      return checkSettingValue(known, text === 'true' ? true : text === 'false' ? false : text);
    default:
      return checkSettingValue(known, text);
  }
}

/** A stored value, of any type, checked against the key's schema; throws naming the key. */
export function checkSettingValue(key: string, value: unknown): SettingValue {
  const known = checkSettingKey(key);
  const problem = describeProblem(SETTINGS[known].kind, value);
  if (problem) throw new BerthError(`setting ${known}: ${problem}, got ${show(value)}`);
  return value as SettingValue;
}

/** Every stored key known and every value valid, or an error naming the first bad key. */
export function checkSettings(stored: Record<string, unknown>): Settings {
  const settings = defaultSettings();
  for (const [key, value] of Object.entries(flatten(stored))) {
    settings[checkSettingKey(key)] = checkSettingValue(key, value);
  }
  return settings;
}

/** `{ policies: { tick: '30s' } }` → `{ 'policies.tick': '30s' }`. */
export function flatten(tree: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && !isSettingKey(key)) {
      Object.assign(flat, flatten(value as Record<string, unknown>, key));
    } else {
      flat[key] = value;
    }
  }
  return flat;
}

function describeProblem(kind: Kind, value: unknown): string | undefined {
  switch (kind.type) {
    case 'duration': {
      if (kind.allowOff && value === 'off') return undefined;
      const ms = typeof value === 'string' ? parseDuration(value) : undefined;
      const expected = `expected a duration such as 30s, 15m, 2h or 7d${kind.allowOff ? ', or off' : ''}`;
      if (ms === undefined) return expected;
      return outOfRange(ms, parseDuration(kind.min)!, parseDuration(kind.max)!, kind.min, kind.max);
    }
    case 'size': {
      const bytes = typeof value === 'string' && SIZE_PATTERN.test(value) ? parseSize(value) : undefined;
      if (bytes === undefined) return 'expected a size such as 512m or 2g';
      return outOfRange(bytes, parseSize(kind.min)!, parseSize(kind.max)!, kind.min, kind.max);
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return 'expected a whole number';
      return outOfRange(value, kind.min, kind.max, String(kind.min), String(kind.max));
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'expected a number';
      return outOfRange(value, kind.min, kind.max, String(kind.min), String(kind.max));
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'expected true or false';
    case 'enum':
      return typeof value === 'string' && kind.values.includes(value) ? undefined : `expected one of ${kind.values.join(', ')}`;
    case 'string':
      if (typeof value !== 'string' || value.length > kind.maxLength || !kind.pattern.test(value)) return `expected ${kind.hint}`;
      return undefined;
    case 'hosts':
      return hostListProblem(value);
    case 'events':
    case 'argv':
      if (typeof value !== 'string' || value.length > 2000) return kind.type === 'events' ? 'expected events separated by commas' : 'expected a JSON array of strings';
      try {
        if (kind.type === 'events') parseNotifyOn(value);
        else parseCommandArgv(value);
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    case 'keys':
      if (typeof value !== 'string' || value.length > 200) return 'expected keys separated by commas, such as enter,c or ctrl+o';
      try {
        parseKeyList(value);
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
  }
}

function outOfRange(value: number, min: number, max: number, minText: string, maxText: string): string | undefined {
  return value < min || value > max ? `must be between ${minText} and ${maxText}` : undefined;
}

function show(value: unknown): string {
  if (typeof value === 'string') return quote(value, 40);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Durations are stored as text (readable in the file); code reads them as milliseconds. */
export function settingMs(settings: Settings, key: SettingKey): number | undefined {
  const value = settings[key];
  return typeof value === 'string' ? parseDuration(value) : undefined;
}


/** Settings a project may override for itself; the others (engine, policies' caps) are berth-wide. */
const PROJECT_SETTING_PREFIXES = ['container.', 'claude.', 'runtime.', 'chat.', 'limits.', 'net.'];

export type ProjectSettings = Partial<Record<SettingKey, SettingValue>>;

export function isProjectSetting(key: SettingKey): boolean {
  return PROJECT_SETTING_PREFIXES.some((prefix) => key.startsWith(prefix)) || key === 'policies.idleTimeout';
}

export function checkProjectSettingKey(key: string): SettingKey {
  const known = checkSettingKey(key);
  if (!isProjectSetting(known)) throw new BerthError(`setting ${known} applies to all projects: use berth config set`);
  return known;
}

/** A project's overrides, each checked as a stored value would be. */
export function checkProjectSettings(overrides: Record<string, unknown>): ProjectSettings {
  const checked: ProjectSettings = {};
  for (const [key, value] of Object.entries(overrides)) checked[checkProjectSettingKey(key)] = checkSettingValue(key, value);
  return checked;
}

/** The settings in force for one project: berth's, then the project's own overrides. */
export function settingsForProject(settings: Settings, overrides: ProjectSettings | undefined): Settings {
  return { ...settings, ...overrides };
}
