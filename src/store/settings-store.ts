import { readFileSync, statSync } from 'node:fs';
import type Conf from 'conf';
import path from 'node:path';
import { BerthError } from '../domain/errors.js';
import {
  SETTINGS,
  SETTING_KEYS,
  checkSettingKey,
  checkSettings,
  flatten,
  parseSettingText,
  type SettingKey,
  type SettingValue,
  type Settings,
} from '../domain/settings.js';
import { withFileLockSync } from './file-lock.js';
import { writingSync } from './write-error.js';

export interface SettingEntry {
  key: SettingKey;
  value: SettingValue;
  default: SettingValue;
  /** Whether the value was set by the user or is the default. */
  source: 'set' | 'default';
  description: string;
}

const FILE_NAME = 'settings';

/**
 * The user's settings, changed through conf (atomic writes, nested keys by
 * dot notation). Only values the user set are stored; defaults come from the
 * schema, so a new default reaches users who never changed the key. The file
 * is validated whole against the schema each time it is loaded, and changed
 * under the same kind of lock as the registry (see file-lock.ts). Reading
 * needs no conf: the file is plain JSON, and conf (with ajv) costs a
 * client's start-up a tenth of a second, so it is loaded for changes only.
 */
export class SettingsStore {
  readonly file: string;
  private conf: Conf<Record<string, unknown>> | undefined;
  private cached: { stamp: string; settings: Settings } | undefined;

  constructor(private readonly dir: string) {
    this.file = path.join(dir, `${FILE_NAME}.json`);
  }

  private async writer(): Promise<Conf<Record<string, unknown>>> {
    if (this.conf) return this.conf;
    const { default: ConfClass } = await import('conf');
    try {
      return (this.conf = new ConfClass({ cwd: this.dir, configName: FILE_NAME, projectName: 'berth', clearInvalidConfig: false }));
    } catch (error) {
      throw new BerthError(`settings file ${this.file} is not valid JSON (${firstLine(error)}); fix it or move it away`);
    }
  }

  /** The file's content as stored: {} while there is none. */
  private stored(): Record<string, unknown> {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new BerthError(`settings file ${this.file} cannot be read: ${firstLine(error)}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new BerthError(`settings file ${this.file} is not valid JSON (${firstLine(error)}); fix it or move it away`);
    }
    // As conf reads it: null is no settings; anything else must be an object of them.
    if (parsed === null) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new BerthError(`settings file ${this.file} holds no JSON object of settings; fix it or move it away`);
    return parsed as Record<string, unknown>;
  }

  /**
   * The settings in force. Read afresh only when the file changed (its
   * modification time, size or inode): a screen asks many times a second,
   * and another berth process may change the file at any time.
   */
  load(): Settings {
    const stamp = fileStamp(this.file);
    if (this.cached && this.cached.stamp === stamp) return this.cached.settings;
    const stored = this.stored();
    const settings = this.reading(() => checkSettings(stored));
    this.cached = { stamp, settings };
    return settings;
  }

  get(key: string): SettingValue {
    return this.load()[checkSettingKey(key)];
  }

  /** Validates `text` for `key` and stores it; the rest of the file must be valid, the key's own value may be a bad one to repair. */
  async set(key: string, text: string): Promise<SettingValue> {
    const value = parseSettingText(key, text);
    await this.change(key, (conf) => conf.set(key, value));
    return value;
  }

  /** Drops the value set for `key`, so its default applies; a key unknown to berth but in the file may be dropped too. */
  async unset(key: string): Promise<void> {
    await this.change(key, (conf) => conf.delete(key));
  }

  /**
   * Changes one key under the settings lock, on the file as it is now: two
   * berth processes setting keys at once keep both. Every other key must be
   * valid; the one changed need not be, so that a bad value can be repaired.
   */
  private async change(key: string, write: (conf: Conf<Record<string, unknown>>) => void): Promise<void> {
    const conf = await this.writer();
    this.cached = undefined;
    withFileLockSync(this.file, () => {
      const { [key]: current, ...others } = this.reading(() => flatten(conf.store));
      if (current === undefined) checkSettingKey(key);
      this.reading(() => checkSettings(others));
      writingSync(this.file, () => write(conf));
    });
  }

  /** What `read` makes of the file (conf and stored() read it afresh each time); its failure is one line naming the file. */
  private reading<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      throw new BerthError(`settings file ${this.file}: ${firstLine(error)}`);
    }
  }

  list(): SettingEntry[] {
    const settings = this.load();
    const set = flatten(this.stored());
    return SETTING_KEYS.map((key) => ({
      key,
      value: settings[key],
      default: SETTINGS[key].default,
      source: key in set ? 'set' : 'default',
      description: SETTINGS[key].description,
    }));
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/** What tells one version of a file from the next without reading it; '' while it does not exist. */
function fileStamp(file: string): string {
  try {
    const info = statSync(file, { bigint: true });
    return `${info.ino}:${info.size}:${info.mtimeNs}`;
  } catch {
    return '';
  }
}
