import { Text } from 'ink';
import { memo } from 'react';
import type { StatusMessage } from '../../services/control-center-state.js';
import { visibleText } from '../../domain/visible-text.js';
import { useTheme } from '../theme.js';

const MARKS = { info: '·', progress: '…', error: '✗' } as const;

/** The last thing that happened, one line: progress, a result, or an error. */
export const StatusLine = memo(function StatusLine({ status, width }: { status?: StatusMessage; width: number }) {
  const theme = useTheme();
  if (!status) return <Text> </Text>;
  const tone = status.level === 'error' ? 'bad' : status.level === 'progress' ? 'busy' : undefined;
  return (
    <Text wrap="truncate-end" color={tone && theme.color(tone)}>
      {`${MARKS[status.level]} ${visibleText(status.text, 'line')}`.slice(0, Math.max(0, width))}
    </Text>
  );
});
