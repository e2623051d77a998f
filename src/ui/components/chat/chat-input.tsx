/**
 * The chat's input line. A message may hold several lines (a bracketed paste
 * keeps its newlines, see paced-input.ts), but the line is one row whatever
 * it holds: newlines show as `⏎`, other controls as visible characters, and
 * a long draft scrolls sideways to keep the cursor in view. A field that grew
 * with its text would make the frame taller than the terminal, and Ink would
 * leave stale characters behind.
 */
import { Text, useInput } from 'ink';
import { useState } from 'react';
import { visibleText } from '../../../domain/visible-text.js';

export interface ChatInputProps {
  value: string;
  onChange: (value: string) => void;
  onSubmit: (value: string) => void;
  focus: boolean;
  /** Columns the line may take. */
  width: number;
  placeholder?: string;
}

const shown = (text: string) => visibleText(text, 'line');

export function ChatInput({ value, onChange, onSubmit, focus, width, placeholder = '' }: ChatInputProps) {
  // The cursor counts from the end, so a draft set from outside (cleared after Enter, kept from before) puts it last.
  const [fromEnd, setFromEnd] = useState(0);
  const cursor = Math.max(0, value.length - fromEnd);
  useInput(
    (input, key) => {
      if (key.return) return onSubmit(value);
      if (key.leftArrow) return setFromEnd(Math.min(value.length, value.length - cursor + 1));
      if (key.rightArrow) return setFromEnd(Math.max(0, value.length - cursor - 1));
      if (key.backspace || key.delete) {
        if (cursor > 0) onChange(value.slice(0, cursor - 1) + value.slice(cursor));
        return;
      }
      // Keys of the screen (Esc, Tab, PgUp, Ctrl-C) and of nothing at all.
      if (input === '' || key.ctrl || key.meta || key.tab || key.escape || key.upArrow || key.downArrow) return;
      onChange(value.slice(0, cursor) + input + value.slice(cursor));
    },
    { isActive: focus },
  );
  const room = Math.max(1, width);
  if (value === '') {
    if (!focus) return <Text dimColor wrap="truncate-end">{placeholder}</Text>;
    return (
      <Text wrap="truncate-end">
        <Text inverse>{placeholder.slice(0, 1) || ' '}</Text>
        <Text dimColor>{placeholder.slice(1)}</Text>
      </Text>
    );
  }
  const before = shown(value.slice(0, cursor));
  const after = shown(value.slice(cursor));
  // The cursor's cell, then as much of either side as fits: the left side is cut first, marked with `…`.
  const left = before.length + 1 > room ? `…${before.slice(before.length - room + 2)}` : before;
  const right = after.slice(1, Math.max(0, room - left.length - 1));
  if (!focus) return <Text wrap="truncate-end">{`${left}${after.slice(0, 1)}${right}`}</Text>;
  return (
    <Text wrap="truncate-end">
      {left}
      <Text inverse>{after.slice(0, 1) || ' '}</Text>
      {right}
    </Text>
  );
}
