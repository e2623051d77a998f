import { Text } from 'ink';
import { memo } from 'react';
import type { Command, Keymap } from '../../domain/keys.js';
import { firstKeyLabel } from '../keymap.js';

/** `Enter chat · n new · ? help`: the first keys of a screen, from the keymap in force. */
export function hintsText(keymap: Keymap, hints: ReadonlyArray<readonly [Command, string]>): string {
  return hints.map(([command, label]) => `${firstKeyLabel(keymap, command)} ${label}`).join(' · ');
}

export const KeyHints = memo(function KeyHints({ text }: { text: string }) {
  return (
    <Text dimColor wrap="truncate-end">
      {text}
    </Text>
  );
});
