import { SETTINGS, isSettingKey } from '../domain/settings.js';
import { createContext } from '../services/context.js';
import type { CommandHandler } from './command-table.js';
import { printJson, printLine, printTable } from './output.js';

export const listConfig: CommandHandler = async ({ options }) => {
  const entries = createContext().settings().list();
  if (options.json) {
    printJson(entries);
    return;
  }
  printTable(
    ['KEY', 'VALUE', 'DEFAULT', 'DESCRIPTION'],
    entries.map((entry) => [entry.key, show(entry.value), entry.source === 'set' ? show(entry.default) : '(default)', entry.description]),
  );
};

export const getConfig: CommandHandler = async ({ args, options }) => {
  const value = createContext().settings().get(args[0]!);
  if (options.json) printJson(value);
  else printLine(show(value));
};

export const setConfig: CommandHandler = async ({ args }) => {
  const [key, text] = args as [string, string];
  const value = await createContext().settings().set(key, text);
  printLine(`${key} = ${show(value)}`);
};

export const unsetConfig: CommandHandler = async ({ args }) => {
  const key = args[0]!;
  await createContext().settings().unset(key);
  printLine(isSettingKey(key) ? `${key} = ${show(SETTINGS[key].default)} (the default)` : `${key} removed`);
};

function show(value: string | number | boolean): string {
  return value === '' ? '""' : String(value);
}
