import { Box, Text } from 'ink';
import { visibleText } from '../../../domain/visible-text.js';
import { scrollWindow } from '../../chat-lines.js';
import { plainLogLine } from '../../log-buffer.js';
import { useTheme } from '../../theme.js';

export interface LogsScreenProps {
  projectName: string;
  lines: readonly string[];
  width: number;
  height: number;
  /** Lines scrolled up from the end; 0 follows. */
  scrollOffset: number;
  following: boolean;
  error?: string;
  hints: string;
}

/** A container's logs: the last lines that fit, or an earlier window when scrolled up. */
export function LogsScreen(props: LogsScreenProps) {
  const { lines, width, height, error } = props;
  const theme = useTheme();
  const rows = Math.max(0, height - 2 - (error ? 1 : 0));
  const { start, end } = scrollWindow(lines.length, rows, props.scrollOffset);
  const state = props.following ? 'following' : `paused at ${end} of ${lines.length} — f follows`;
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Box justifyContent="space-between" width={width}>
        <Text bold wrap="truncate-end">{`logs · ${visibleText(props.projectName, 'line')}`}</Text>
        <Text dimColor>{state}</Text>
      </Box>
      {error && (
        <Text color={theme.color('bad')} wrap="truncate-end">
          {`✗ ${visibleText(error, 'line')}`}
        </Text>
      )}
      <Box flexDirection="column" height={rows} overflow="hidden">
        {lines.length === 0 && !error ? (
          <Text dimColor>no logs yet</Text>
        ) : (
          lines.slice(start, end).map((line, index) => (
            <Text key={start + index} wrap="truncate-end">
              {plainLogLine(line) || ' '}
            </Text>
          ))
        )}
      </Box>
      <Text dimColor wrap="truncate-end">
        {props.hints}
      </Text>
    </Box>
  );
}
