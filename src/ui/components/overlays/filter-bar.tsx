/**
 * The `/` prompt under the project list. Enter keeps the filter and leaves
 * the prompt; Esc clears the filter and leaves it.
 */
import { Box, Text, useInput } from 'ink';
import TextInput from 'ink-text-input';
import { useTheme } from '../../theme.js';

export interface FilterBarProps {
  value: string;
  onChange: (value: string) => void;
  /** Enter: the filter stays applied. */
  onSubmit: (value: string) => void;
  /** Esc: called after `onChange('')`. */
  onCancel: () => void;
  width: number;
  isActive?: boolean;
}

export function FilterBar({ value, onChange, onSubmit, onCancel, width, isActive = true }: FilterBarProps) {
  const theme = useTheme();
  useInput(
    (_input, key) => {
      if (!key.escape) return;
      onChange('');
      onCancel();
    },
    { isActive },
  );
  return (
    <Box width={width} height={1} overflow="hidden">
      <Box flexShrink={0}>
        <Text color={theme.color('accent')} bold>
          /{' '}
        </Text>
      </Box>
      <Box flexGrow={1} overflow="hidden">
        <TextInput value={value} onChange={onChange} onSubmit={onSubmit} focus={isActive} placeholder="name or mode" />
      </Box>
      {width >= 50 ? (
        <Box flexShrink={0}>
          <Text dimColor> Enter keep · Esc clear</Text>
        </Box>
      ) : null}
    </Box>
  );
}
