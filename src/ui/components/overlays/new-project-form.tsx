/**
 * The `n` form: name, path, mode. The text fields are ink-text-input, focused
 * one at a time; this form's own input handler only moves between fields,
 * toggles the mode, submits and cancels, and leaves every typed character to
 * the focused field (Ink hands each key to every active handler).
 */
import { Box, Text, useInput } from 'ink';
import TextInput from 'ink-text-input';
import { useState } from 'react';
import { checkProjectName, type IsolationMode } from '../../../domain/project.js';
import { visibleText } from '../../../domain/visible-text.js';
import { useTheme } from '../../theme.js';

export interface NewProjectValues {
  name: string;
  path: string;
  mode: IsolationMode;
}

export interface NewProjectFormProps {
  width: number;
  defaultMode: IsolationMode;
  onSubmit: (values: NewProjectValues) => void;
  onCancel: () => void;
  /** The service's refusal, such as a name taken already. */
  error?: string;
  /** While the project is being created: says so and takes no input. */
  busy?: boolean;
}

const FIELDS = ['name', 'path', 'mode'] as const;
type Field = (typeof FIELDS)[number];

/** Rows the form takes, whatever its state: a constant, so the screen can place it. */
export const NEW_PROJECT_FORM_HEIGHT = 10;

const LABEL_WIDTH = 6;

/** Why the name is refused, in one line; undefined when it is valid. */
export function nameProblem(name: string): string | undefined {
  try {
    checkProjectName(name);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // The domain says `invalid project name "x": why`; under the field, the why is enough.
    const why = message.lastIndexOf(': ');
    return why >= 0 ? message.slice(why + 2) : message;
  }
}

export function NewProjectForm({ width, defaultMode, onSubmit, onCancel, error, busy = false }: NewProjectFormProps) {
  const theme = useTheme();
  const [field, setField] = useState<Field>('name');
  const [name, setName] = useState('');
  const [path, setPath] = useState('');
  const [mode, setMode] = useState<IsolationMode>(defaultMode);
  // An empty name is not worth a complaint until the user tries to submit it.
  const [triedSubmit, setTriedSubmit] = useState(false);
  const problem = nameProblem(name);

  const move = (step: 1 | -1) =>
    setField((current) => FIELDS[(FIELDS.indexOf(current) + step + FIELDS.length) % FIELDS.length] ?? 'name');

  useInput(
    (input, key) => {
      if (key.escape) return onCancel();
      if (key.return) {
        setTriedSubmit(true);
        if (problem) return setField('name');
        return onSubmit({ name, path: path.trim(), mode });
      }
      if (key.tab) return move(key.shift ? -1 : 1);
      if (key.downArrow) return move(1);
      if (key.upArrow) return move(-1);
      // ←/→ and Space are the text fields' own keys, except on the mode field.
      if (field === 'mode' && (input === ' ' || key.leftArrow || key.rightArrow)) {
        setMode((current) => (current === 'workspace' ? 'container' : 'workspace'));
      }
    },
    { isActive: !busy },
  );

  const showProblem = problem !== undefined && (name !== '' || triedSubmit);
  const label = (which: Field, text: string) => (
    <Text bold={field === which} color={field === which ? theme.color('accent') : undefined}>
      {field === which ? '›' : ' '} {text.padEnd(LABEL_WIDTH)}
    </Text>
  );
  const choice = (which: IsolationMode) => (
    <Text bold={mode === which}>
      {mode === which ? '●' : '○'} {which}
    </Text>
  );

  return (
    <Box flexDirection="column" width={width} height={NEW_PROJECT_FORM_HEIGHT} borderStyle="round" borderColor={theme.color('accent')} paddingX={1}>
      <Text bold wrap="truncate-end">
        New project
      </Text>
      <Box overflowX="hidden">
        {label('name', 'Name')}
        <TextInput value={name} onChange={setName} focus={!busy && field === 'name'} placeholder="lower-case letters, digits, . _ -" />
      </Box>
      <Text color={theme.color('bad')} wrap="truncate-end">
        {showProblem ? `${' '.repeat(LABEL_WIDTH + 2)}✗ ${problem}` : ' '}
      </Text>
      <Box overflowX="hidden">
        {label('path', 'Path')}
        <TextInput value={path} onChange={setPath} focus={!busy && field === 'path'} />
      </Box>
      <Text dimColor wrap="truncate-end">
        {' '.repeat(LABEL_WIDTH + 2)}optional: empty, berth creates the workspace
      </Text>
      <Box overflowX="hidden">
        {label('mode', 'Mode')}
        {choice('workspace')}
        <Text>{'  '}</Text>
        {choice('container')}
        {field === 'mode' ? <Text dimColor>{'  '}Space/←/→ switches</Text> : null}
      </Box>
      {busy ? (
        <Text color={theme.color('busy')} wrap="truncate-end">
          ◐ creating…
        </Text>
      ) : error ? (
        <Text color={theme.color('bad')} wrap="truncate-end">
          ✗ {visibleText(error, 'line')}
        </Text>
      ) : (
        <Text> </Text>
      )}
      <Text dimColor wrap="truncate-end">
        Tab/↓ next · Shift-Tab/↑ previous · Enter create · Esc cancel
      </Text>
    </Box>
  );
}
