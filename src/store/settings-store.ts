import { statSync } from 'node:fs';
import Conf from 'conf';
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
 * The user's settings, through conf (atomic writes, nested keys by dot
 * notation). Only values the user set are stored; defaults come from the
 * schema, so a new default reaches users who never changed the key. The file
 * is validated whole against the schema each time it is loaded, and changed
 * under the same kind of lock as the registry (see file-lock.ts).
 */
export class SettingsStore {
  readonly file: string;
  private readonly conf: Conf<Record<string, unknown>>;
  private cached: { stamp: string; settings: Settings } | undefined;

  constructor(dir: string) {
    this.file = path.join(dir, `${FILE_NAME}.json`);
    try {
      this.conf = new Conf({ cwd: dir, configName: FILE_NAME, projectName: 'berth', clearInvalidConfig: false });
    } catch (error) {
      throw new BerthError(`settings file ${this.file} is not valid JSON (${firstLine(error)}); fix it or move it away`);
    }
  }

  /**
   * The settings in force. Read afresh only when the file changed (its
   * modification time, size or inode): a screen asks many times a second,
   * and another berth process may change the file at any time.
   */
  load(): Settings {
    const stamp = fileStamp(this.file);
    if (this.cached && this.cached.stamp === stamp) return this.cached.settings;
    const settings = this.reading(() => checkSettings(this.conf.store));
    this.cached = { stamp, settings };
    return settings;
  }

  get(key: string): SettingValue {
    return this.load()[checkSettingKey(key)];
  }

  /** Validates `text` for `key` and stores it; the rest of the file must be valid, the key's own value may be a bad one to repair. */
  set(key: string, text: string): SettingValue {
    const value = parseSettingText(key, text);
    this.change(key, () => this.conf.set(key, value));
    return value;
  }

  /** Drops the value set for `key`, so its default applies; a key unknown to berth but in the file may be dropped too. */
  unset(key: string): void {
    this.change(key, () => this.conf.delete(key));
  }

  /**
   * Changes one key under the settings lock, on the file as it is now: two
   * berth processes setting keys at once keep both. Every other key must be
   * valid; the one changed need not be, so that a bad value can be repaired.
   */
  private change(key: string, write: () => void): void {
    this.cached = undefined;
    withFileLockSync(this.file, () => {
      const { [key]: current, ...others } = this.reading(() => flatten(this.conf.store));
      if (current === undefined) checkSettingKey(key);
      this.reading(() => checkSettings(others));
      writingSync(this.file, write);
    });
  }

  /** What `read` makes of the file (conf reads it afresh each time); its failure is one line naming the file. */
  private reading<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      throw new BerthError(`settings file ${this.file}: ${firstLine(error)}`);
    }
  }

  list(): SettingEntry[] {
    const settings = this.load();
    return SETTING_KEYS.map((key) => ({
      key,
      value: settings[key],
      default: SETTINGS[key].default,
      source: this.conf.has(key) ? 'set' : 'default',
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
