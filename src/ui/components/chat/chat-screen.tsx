import { Box, Text } from 'ink';
import { memo, useMemo } from 'react';
import type { ConversationView, TurnView } from '../../../services/control-center-state.js';
import { chatLines, queuedLines, scrollWindow, streamingLines, type ChatLine } from '../../chat-lines.js';
import { visibleText } from '../../../domain/visible-text.js';
import { useTheme } from '../../theme.js';
import { ChatInput } from './chat-input.js';

export interface ChatScreenProps {
  projectName: string;
  conversation?: ConversationView;
  turn?: TurnView;
  width: number;
  height: number;
  /** Lines scrolled up from the end; 0 follows the stream. */
  scrollOffset: number;
  input: string;
  onInputChange: (text: string) => void;
  onSubmit: (text: string) => void;
  inputActive: boolean;
  hints: string;
  /**
   * The agent waits for an answer: `text` says what and which keys answer it,
   * in place of the input line (`typed`: the input line takes the answer, and `text` is its placeholder).
   */
  prompt?: { text: string; typed: boolean };
}

/** Rows the screen keeps for itself: the title, the input line and the hints. */
const CHROME_ROWS = 3;
/** Rows for the queued messages at most: a long queue must not push the conversation away. */
const QUEUED_ROWS = 3;

/**
 * A project's conversation, the text the model is writing at its end, the
 * messages queued behind the running turn, and the input line under them.
 */
export function ChatScreen(props: ChatScreenProps) {
  const { conversation, turn, width, height } = props;
  const theme = useTheme();
  const entryLines = useMemo(() => chatLines(conversation?.entries ?? [], width), [conversation?.entries, width]);
  const streaming = conversation?.streaming;
  const writingLines = useMemo(() => (streaming === undefined ? [] : streamingLines(streaming, width)), [streaming, width]);
  const lines = writingLines.length === 0 ? entryLines : [...entryLines, ...writingLines];
  // The conversation keeps a row at least, whatever waits.
  const queued = queuedLines(conversation?.queued ?? [], Math.min(QUEUED_ROWS, Math.max(0, height - CHROME_ROWS - 1)));
  const rows = Math.max(0, height - CHROME_ROWS - queued.length);
  const { start, end } = scrollWindow(lines.length, rows, props.scrollOffset);
  const hidden = start;
  // The first row says what is above when something is: the screen never grows for it.
  const shown = hidden > 0 && rows > 1 ? lines.slice(start + 1, end) : lines.slice(start, end);
  const marker = turn?.running ? (turn.cancelling ? 'cancelling…' : '⟳ turn running') : '';
  const body = (() => {
    if (!conversation || !conversation.loaded) return <Text dimColor>loading the conversation…</Text>;
    if (lines.length === 0) return <Text dimColor>No messages yet: type one below and press Enter.</Text>;
    return (
      <>
        {hidden > 0 && rows > 1 && <Text dimColor>{`↑ ${hidden + 1} more lines (PgUp)`}</Text>}
        {shown.map((line) => (
          <ChatRow key={line.key} line={line} color={line.tone && theme.color(line.tone)} />
        ))}
      </>
    );
  })();
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Box justifyContent="space-between" width={width}>
        <Text bold wrap="truncate-end">{`chat · ${visibleText(props.projectName, 'line')}`}</Text>
        <Text color={theme.color(turn?.cancelling ? 'warn' : 'busy')}>{marker}</Text>
      </Box>
      <Box flexDirection="column" height={rows} overflow="hidden">
        {body}
      </Box>
      {queued.map((line, index) => (
        <Text key={index} dimColor wrap="truncate-end">
          {line}
        </Text>
      ))}
      <Box width={width}>
        <Text color={theme.color(props.prompt ? 'warn' : 'accent')}>{props.prompt ? '? ' : '› '}</Text>
        {props.prompt && !props.prompt.typed ? (
          <Text bold color={theme.color('warn')} wrap="truncate-end">
            {props.prompt.text}
          </Text>
        ) : (
          <ChatInput
            value={props.input}
            onChange={props.onInputChange}
            onSubmit={props.onSubmit}
            focus={props.inputActive}
            width={width - 2}
            placeholder={props.prompt?.text ?? (turn?.running ? 'message the agent… (Enter queues it for after the turn)' : 'message the agent… (Enter sends)')}
          />
        )}
      </Box>
      <Text dimColor wrap="truncate-end">
        {props.hints}
      </Text>
    </Box>
  );
}

const ChatRow = memo(function ChatRow({ line, color }: { line: ChatLine; color: string | undefined }) {
  return (
    <Text wrap="truncate-end" {...(color !== undefined && { color })} bold={line.bold === true} dimColor={line.dim === true}>
      {line.text === '' ? ' ' : line.text}
    </Text>
  );
});
