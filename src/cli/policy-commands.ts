import { createInterface } from 'node:readline/promises';
import type { PolicyAction } from '../domain/policies.js';
import { createContext } from '../services/context.js';
import type { PassOptions, PolicyOutcome } from '../services/supervisor.js';
import type { CommandHandler } from './command-table.js';
import { printJson, printLine, printTable } from './output.js';

/** `berth sweep`: one pass of every policy, each action printed with its reason. */
export const sweep: CommandHandler = async ({ options, global }) => {
  const context = createContext();
  const supervisor = await context.supervisor(global);
  const dryRun = options['dry-run'] === true;
  const pass: PassOptions = { dryRun };
  if (options.apply === true) pass.confirmWorkspaces = (actions) => (options.yes === true ? Promise.resolve(true) : askToRemove(actions));
  try {
    const outcomes = await supervisor.pass(pass);
    if (options.json) printJson(outcomes.map(outcomeJson));
    else if (outcomes.length === 0) printLine('nothing to do: every policy is satisfied');
    else printTable(['ACTION', 'PROJECT', 'RESULT', 'REASON'], outcomes.map(outcomeRow));
    return outcomes.some((outcome) => outcome.result === 'failed') ? 1 : 0;
  } finally {
    await (await context.runtime(global)).close();
  }
};

/** `berth policies`: the settings the supervisor applies, with their values in force. */
export const listPolicies: CommandHandler = async ({ options }) => {
  const entries = createContext().settings().list().filter((entry) => entry.key.startsWith('policies.'));
  if (options.json) {
    printJson(Object.fromEntries(entries.map((entry) => [entry.key, entry.value])));
    return;
  }
  printTable(
    ['POLICY', 'VALUE', 'WHAT IT DOES'],
    entries.map((entry) => [entry.key, `${String(entry.value)}${entry.source === 'set' ? '' : ' (default)'}`, entry.description]),
  );
};

function outcomeJson(outcome: PolicyOutcome) {
  const { action } = outcome;
  return { action: action.kind, project: 'project' in action ? action.project : null, reason: action.reason, result: outcome.result, ...(outcome.detail && { detail: outcome.detail }) };
}

function outcomeRow(outcome: PolicyOutcome): string[] {
  const { action } = outcome;
  const result = outcome.detail ? `${outcome.result}: ${outcome.detail}` : outcome.result;
  return [action.kind, 'project' in action ? action.project : '-', result, action.reason];
}

/** Asks on the terminal; anything but y or yes keeps the workspaces. Without a terminal, keeps them. */
async function askToRemove(actions: Array<Extract<PolicyAction, { kind: 'remove-workspace' }>>): Promise<boolean> {
  if (!process.stdin.isTTY) {
    process.stderr.write(`berth: ${actions.length} idle workspace(s) would be removed; on no terminal, pass --yes to remove them\n`);
    return false;
  }
  process.stderr.write('These projects and the workspaces berth created for them would be deleted:\n');
  for (const action of actions) process.stderr.write(`  ${action.project}  ${action.path}  (${action.reason})\n`);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question('Delete them? [y/N] ')).trim());
  } finally {
    prompt.close();
  }
}
