import Conf from 'conf';
import path from 'node:path';
import { BerthError } from '../domain/errors.js';
import {
  SETTINGS,
  SETTING_KEYS,
  checkSettingKey,
  checkSettings,
  parseSettingText,
  type SettingKey,
  type SettingValue,
  type Settings,
} from '../domain/settings.js';

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
 * is validated whole against the schema each time it is loaded.
 */
export class SettingsStore {
  readonly file: string;
  private readonly conf: Conf<Record<string, unknown>>;

  constructor(dir: string) {
    this.file = path.join(dir, `${FILE_NAME}.json`);
    try {
      this.conf = new Conf({ cwd: dir, configName: FILE_NAME, projectName: 'berth', clearInvalidConfig: false });
    } catch (error) {
      throw new BerthError(`settings file ${this.file} is not valid JSON (${firstLine(error)}); fix it or move it away`);
    }
  }

  load(): Settings {
    try {
      return checkSettings(this.conf.store);
    } catch (error) {
      throw new BerthError(`settings file ${this.file}: ${firstLine(error)}`);
    }
  }

  get(key: string): SettingValue {
    return this.load()[checkSettingKey(key)];
  }

  /** Validates `text` for `key` and stores it; the rest of the file must be valid too. */
  set(key: string, text: string): SettingValue {
    this.load();
    const value = parseSettingText(key, text);
    this.conf.set(key, value);
    return value;
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
