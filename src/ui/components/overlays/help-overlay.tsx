/**
 * The `?` help: generated from the command table and the keymap in force, so
 * a command added to the table or a key remapped in settings shows here at
 * once. Sized by its props; never taller than `height`.
 */
import { Box, Text } from 'ink';
import { memo } from 'react';
import { COMMAND_NAMES, COMMANDS, type KeyContext, type Keymap } from '../../../domain/keys.js';
import { keysLabel } from '../../keymap.js';
import { useTheme } from '../../theme.js';

export interface HelpOverlayProps {
  keymap: Keymap;
  width: number;
  height: number;
}

type HelpLine =
  | { kind: 'heading'; text: string }
  | { kind: 'entry'; keys: string; description: string }
  | { kind: 'blank' }
  | { kind: 'more'; count: number };

const SECTIONS: ReadonlyArray<readonly [KeyContext, string]> = [
  ['dashboard', 'Dashboard'],
  ['chat', 'Chat'],
  ['logs', 'Logs'],
  ['everywhere', 'Everywhere'],
];

/** Below this width two columns would truncate most descriptions. */
const TWO_COLUMNS_MIN_WIDTH = 76;
const COLUMN_GAP = 2;

/** One block of lines per section, in table order; `everywhere` commands only under their own heading. */
function helpSections(keymap: Keymap): HelpLine[][] {
  return SECTIONS.map(([context, title]) => [
    { kind: 'heading', text: title } as HelpLine,
    // The keys that answer the agent are the chat's, while it waits for you.
    ...COMMAND_NAMES.filter((name) => COMMANDS[name].context === context || (context === 'chat' && COMMANDS[name].context === 'request')).map(
      (name): HelpLine => ({ kind: 'entry', keys: keysLabel(keymap, name), description: COMMANDS[name].description }),
    ),
  ]).filter((section) => section.length > 1);
}

function joinSections(sections: HelpLine[][]): HelpLine[] {
  return sections.flatMap((section, index) => (index === 0 ? section : [{ kind: 'blank' } as HelpLine, ...section]));
}

/** Splits between sections where the taller column is shortest. */
function splitInTwo(sections: HelpLine[][]): HelpLine[][] {
  let best: HelpLine[][] = [joinSections(sections), []];
  let bestHeight = Infinity;
  for (let cut = 1; cut < sections.length; cut += 1) {
    const left = joinSections(sections.slice(0, cut));
    const right = joinSections(sections.slice(cut));
    const height = Math.max(left.length, right.length);
    if (height < bestHeight) [best, bestHeight] = [[left, right], height];
  }
  return best;
}

/** Keeps `rows` lines at most; the last one then says how many commands were left out. */
function clip(lines: HelpLine[], rows: number): HelpLine[] {
  if (lines.length <= rows) return lines;
  const kept = lines.slice(0, Math.max(0, rows - 1));
  while (kept.length > 0 && kept[kept.length - 1]?.kind !== 'entry') kept.pop(); // no dangling heading or blank
  const count = lines.filter((line) => line.kind === 'entry').length - kept.filter((line) => line.kind === 'entry').length;
  return rows > 0 ? [...kept, { kind: 'more', count }] : [];
}

export function HelpOverlay({ keymap, width, height }: HelpOverlayProps) {
  const theme = useTheme();
  const innerWidth = Math.max(0, width - 4); // borders and one space of padding each side
  const rows = Math.max(0, height - 2); // the top line with the title, the bottom border
  const sections = helpSections(keymap);
  const twoColumns = width >= TWO_COLUMNS_MIN_WIDTH;
  const columns = (twoColumns ? splitInTwo(sections) : [joinSections(sections)]).map((lines) => clip(lines, rows));
  const columnWidth = twoColumns ? Math.floor((innerWidth - COLUMN_GAP) / 2) : innerWidth;
  const keysWidth = Math.max(0, ...columns.flat().map((line) => (line.kind === 'entry' ? line.keys.length : 0)));
  const title = ` keys — Esc or ${keysLabel(keymap, 'help')} closes `;
  const borderColor = theme.color('accent');
  if (height < 3 || width < 6) return null; // no room even for the frame
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text color={borderColor} wrap="truncate-end">
        {topBorder(title, width)}
      </Text>
      <Box borderStyle="round" borderTop={false} borderColor={borderColor} paddingX={1} height={height - 1} columnGap={COLUMN_GAP}>
        {columns.map((lines, index) => (
          <Box key={index} flexDirection="column" width={columnWidth} overflow="hidden">
            {lines.map((line, row) => (
              <HelpRow key={row} line={line} keysWidth={keysWidth} accent={theme.color('accent')} />
            ))}
          </Box>
        ))}
      </Box>
    </Box>
  );
}

/** `╭─ title ───╮` exactly `width` wide: Ink's borders carry no title. */
function topBorder(title: string, width: number): string {
  const room = width - 3; // ╭ ─ … ╮
  const shown = title.length > room ? title.slice(0, Math.max(0, room)) : title;
  return `╭─${shown}${'─'.repeat(Math.max(0, room - shown.length))}╮`;
}

const HelpRow = memo(function HelpRow({ line, keysWidth, accent }: { line: HelpLine; keysWidth: number; accent: string | undefined }) {
  switch (line.kind) {
    case 'heading':
      return (
        <Text bold wrap="truncate-end">
          {line.text}
        </Text>
      );
    case 'entry':
      return (
        <Text wrap="truncate-end">
          <Text color={accent}>{line.keys.padEnd(keysWidth)}</Text>
          {'  '}
          {line.description}
        </Text>
      );
    case 'more':
      return (
        <Text dimColor wrap="truncate-end">
          … {line.count} more: a larger terminal shows them
        </Text>
      );
    case 'blank':
      return <Text> </Text>;
  }
});
