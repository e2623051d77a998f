import { Box, Text, useInput } from 'ink';
import { Component, type ReactNode } from 'react';
import { visibleText } from '../../domain/visible-text.js';

interface Props {
  children: ReactNode;
  /** Back to a screen that works (the dashboard). */
  onReset: () => void;
  width: number;
}

/**
 * A screen that throws while drawing shows the error in one line instead of
 * taking berth down with it, so running turns and containers carry on.
 */
export class ScreenErrorBoundary extends Component<Props, { error: Error | undefined }> {
  override state: { error: Error | undefined } = { error: undefined };

  static getDerivedStateFromError(error: unknown): { error: Error } {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <ScreenError
        message={error.message.split('\n')[0] ?? 'unknown error'}
        width={this.props.width}
        onReset={() => {
          this.setState({ error: undefined });
          this.props.onReset();
        }}
      />
    );
  }
}

function ScreenError({ message, width, onReset }: { message: string; width: number; onReset: () => void }) {
  useInput((_input, key) => {
    if (key.escape || key.return) onReset();
  });
  return (
    <Box flexDirection="column" width={width}>
      <Text color="red" wrap="truncate-end">{`✗ berth could not draw this screen: ${visibleText(message, 'line')}`}</Text>
      <Text dimColor>Esc or Enter goes back to the dashboard; running turns and containers are not affected.</Text>
    </Box>
  );
}
