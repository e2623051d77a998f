/**
 * What the user is asked while an agent works, and the rules they keep: a
 * tool call the permission mode and the tool rules do not allow by themselves
 * (a permission request), or a question the agent puts (AskUserQuestion).
 * Pure: the chat service asks, the clients show and answer.
 */
import { BerthError } from './errors.js';
import { quote } from './project.js';

/** The tool through which Claude Code asks the user a question with options. */
export const QUESTION_TOOL = 'AskUserQuestion';

export interface QuestionOption {
  label: string;
  description?: string;
}

export interface AgentQuestion {
  question: string;
  header?: string;
  options: QuestionOption[];
  multiSelect: boolean;
}

/** A request that waits for the user's answer, as every client shows it. */
export interface PendingRequest {
  /** The agent's own id of the request: what `berth approve <name> <id>` names. */
  id: string;
  project: string;
  turn: number;
  tool: string;
  input: unknown;
  /** What the call will do, for a person: the command, the diff, the URL. */
  detail: string;
  /** The rule that "allow always" would keep; none for a question. */
  rule?: string;
  /** A question's, with its options: answered, not allowed. */
  questions?: AgentQuestion[];
  since: string;
}

/** The user's answer to a request. */
export type RequestAnswer =
  | { allow: true; always?: boolean; answers?: Record<string, string> }
  | { allow: false; message?: string };

/** Who decided, for the transcript and the audit log: a client, a kept rule, or chat.unattended. */
export type Decider = string;

const DETAIL_MAX_LINES = 40;
const RULE_MAX = 500;

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function stringField(input: unknown, key: string): string | undefined {
  const value = record(input)[key];
  return typeof value === 'string' ? value : undefined;
}

/** The lines of a text, each marked (`-`, `+`), at most DETAIL_MAX_LINES of them in all. */
function marked(marker: string, text: string): string[] {
  return text.split('\n').map((line) => `${marker} ${line}`);
}

function capped(lines: string[]): string {
  if (lines.length <= DETAIL_MAX_LINES) return lines.join('\n');
  return [...lines.slice(0, DETAIL_MAX_LINES), `… ${lines.length - DETAIL_MAX_LINES} more lines`].join('\n');
}

/** What a tool call will do, in a few lines: the command for Bash, the diff for Edit and Write, the URL for WebFetch. */
export function describeToolCall(tool: string, input: unknown): string {
  const file = stringField(input, 'file_path') ?? stringField(input, 'notebook_path');
  switch (tool) {
    case 'Bash':
      return `$ ${stringField(input, 'command') ?? ''}`;
    case 'Edit':
      return capped([`${file ?? '?'}:`, ...marked('-', stringField(input, 'old_string') ?? ''), ...marked('+', stringField(input, 'new_string') ?? '')]);
    case 'MultiEdit': {
      const edits = Array.isArray(record(input).edits) ? (record(input).edits as unknown[]) : [];
      return capped([`${file ?? '?'}:`, ...edits.flatMap((edit) => [...marked('-', stringField(edit, 'old_string') ?? ''), ...marked('+', stringField(edit, 'new_string') ?? '')])]);
    }
    case 'Write':
      return capped([`${file ?? '?'} (written whole):`, ...marked('+', stringField(input, 'content') ?? '')]);
    case 'WebFetch':
      return stringField(input, 'url') ?? '?';
    case 'WebSearch':
      return `search: ${stringField(input, 'query') ?? ''}`;
    default: {
      const text = JSON.stringify(input ?? {});
      return text.length > 300 ? `${text.slice(0, 300)}…` : text;
    }
  }
}

/** Tools whose calls "allow always" keeps only narrowed to what they act on: never all of them. */
const NARROWED_TOOLS = ['Bash', 'Edit', 'MultiEdit', 'Write', 'NotebookEdit', 'Read', 'WebFetch'];

/**
 * The rule that "allow always" keeps for this call, in Claude Code's own
 * syntax: `Bash(<the command>)`, `Edit(<the file>)`, `WebFetch(domain:<host>)`,
 * or the bare tool name for another tool. Undefined when a call of a tool
 * that must be narrowed names nothing to narrow it to (a command of several
 * lines, an edit without its file): it is allowed once, never always.
 */
export function ruleFor(tool: string, input: unknown): string | undefined {
  const command = stringField(input, 'command');
  if (tool === 'Bash') return command !== undefined && command.trim() !== '' && !/[\r\n]/.test(command) ? `Bash(${command})` : undefined;
  const file = stringField(input, 'file_path') ?? stringField(input, 'notebook_path');
  if (['Edit', 'MultiEdit', 'Write', 'NotebookEdit', 'Read'].includes(tool)) return file !== undefined && file !== '' && !/[\r\n]/.test(file) ? `${tool}(${file})` : undefined;
  if (tool === 'WebFetch') {
    try {
      return `WebFetch(domain:${new URL(stringField(input, 'url') ?? '').hostname})`;
    } catch {
      return undefined;
    }
  }
  return NARROWED_TOOLS.includes(tool) ? undefined : tool;
}

/** What makes one shell command several: a prefix rule allows none of it. */
const SHELL_OPERATORS = /[;&|`<>]|\$\(/;

/**
 * Whether a kept rule allows the call: the bare tool name allows every call of
 * it; otherwise the rule must be the call's own rule (ruleFor), or a
 * `Bash(<prefix>:*)` that the command starts with.
 */
export function ruleAllows(rule: string, tool: string, input: unknown): boolean {
  if (rule === tool) return true;
  const own = ruleFor(tool, input);
  if (rule === own) return true;
  const prefix = /^Bash\((.*):\*\)$/.exec(rule)?.[1];
  const command = stringField(input, 'command');
  if (tool !== 'Bash' || prefix === undefined || command === undefined || /[\r\n]/.test(command) || SHELL_OPERATORS.test(command)) return false;
  return command === prefix || command.startsWith(`${prefix} `);
}

/** A rule as the user typed it (`berth project forget-rule`), refused in one line when it cannot be one. */
export function checkRule(rule: string): string {
  if (rule.trim() === '' || rule.length > RULE_MAX || /[\0\n\r]/.test(rule) || !/^[A-Za-z][\w.-]*(\(.*\))?$/s.test(rule)) {
    throw new BerthError(`invalid tool rule ${quote(rule)}: a tool name, optionally with what it applies to in parentheses, e.g. Bash(npm test)`);
  }
  return rule;
}

/** The questions of an AskUserQuestion call; none when its input is not one. */
export function questionsOf(input: unknown): AgentQuestion[] {
  const questions = record(input).questions;
  if (!Array.isArray(questions)) return [];
  return questions.flatMap((entry): AgentQuestion[] => {
    const question = stringField(entry, 'question');
    if (question === undefined) return [];
    const options = Array.isArray(record(entry).options) ? (record(entry).options as unknown[]) : [];
    const header = stringField(entry, 'header');
    return [
      {
        question,
        ...(header !== undefined && { header }),
        options: options.flatMap((option): QuestionOption[] => {
          const label = stringField(option, 'label');
          const description = stringField(option, 'description');
          return label === undefined ? [] : [{ label, ...(description !== undefined && { description }) }];
        }),
        multiSelect: record(entry).multiSelect === true,
      },
    ];
  });
}

/**
 * The input an allowed AskUserQuestion call runs with: its own, plus the
 * answers by question (Claude Code reads `answers` and gives them to the
 * model). Every question must have an answer.
 */
export function answeredInput(input: unknown, questions: AgentQuestion[], answers: Record<string, string> | undefined): Record<string, unknown> {
  const missing = questions.find((question) => typeof answers?.[question.question] !== 'string' || answers[question.question]!.trim() === '');
  if (missing) throw new BerthError(`no answer to the question ${quote(missing.question)}`);
  return { ...record(input), answers: Object.fromEntries(questions.map((question) => [question.question, answers![question.question]!])) };
}

/**
 * An answer a person typed to a question: the number of an option (several,
 * comma-separated, where more than one may be chosen), or their own words.
 */
export function answerFromChoice(question: AgentQuestion, typed: string): string {
  const text = typed.trim();
  const numbers = text.split(',').map((part) => part.trim());
  if (numbers.every((part) => /^\d+$/.test(part)) && numbers.length > 0) {
    const labels = numbers.map((part) => question.options[Number(part) - 1]?.label);
    if (labels.every((label) => label !== undefined) && (question.multiSelect || labels.length === 1)) return labels.join(', ');
  }
  return text;
}
