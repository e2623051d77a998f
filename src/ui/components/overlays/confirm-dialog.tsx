/**
 * Asks before a destructive action. Only `y` confirms: Enter is pressed out of
 * habit too easily to be a yes. `n` and Esc refuse.
 */
import { Box, Text, useInput } from 'ink';
import { useRef } from 'react';
import { visibleText } from '../../../domain/visible-text.js';
import { useTheme } from '../../theme.js';

export interface ConfirmDialogProps {
  message: string;
  detail?: string;
  width: number;
  onAnswer: (yes: boolean) => void;
  isActive?: boolean;
}

/** Rows the dialog takes: its border, the message, the detail if any, the keys. */
export function confirmDialogHeight(detail?: string): number {
  return detail ? 5 : 4;
}

export function ConfirmDialog({ message, detail, width, onAnswer, isActive = true }: ConfirmDialogProps) {
  const theme = useTheme();
  // One answer only: a second `y` typed before the parent closes the dialog must not act twice.
  const answered = useRef(false);
  useInput(
    (input, key) => {
      if (answered.current) return;
      const yes = input === 'y' || input === 'Y';
      const no = input === 'n' || input === 'N' || key.escape;
      if (!yes && !no) return;
      answered.current = true;
      onAnswer(yes);
    },
    { isActive },
  );
  return (
    <Box flexDirection="column" width={width} borderStyle="round" borderColor={theme.color('bad')} paddingX={1}>
      <Text color={theme.color('bad')} bold wrap="truncate-end">
        ! {visibleText(message, 'line')}
      </Text>
      {detail ? (
        <Text dimColor wrap="truncate-end">
          {visibleText(detail, 'line')}
        </Text>
      ) : null}
      <Text wrap="truncate-end">
        <Text bold>y</Text> yes · <Text bold>n</Text>/<Text bold>Esc</Text> no
      </Text>
    </Box>
  );
}
