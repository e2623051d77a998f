import { Box, Text } from 'ink';
import { memo, useRef } from 'react';
import { AGENT_STATE_LABELS, agentStateOf, type AgentState } from '../../../domain/agent-state.js';
import { STATS_HISTORY_MS } from '../../../domain/stats.js';
import type { ProjectView } from '../../../services/control-center-state.js';
import { fit, formatLastActive, formatMemory, formatPercent } from '../../format.js';
import { bucketPeaks, sparkline } from '../../sparkline.js';
import { stateLook, useTheme, type Tone } from '../../theme.js';
import { visibleWindow } from '../../visible-window.js';

export interface ProjectListProps {
  projects: readonly ProjectView[];
  selected: string | undefined;
  width: number;
  height: number;
  focused: boolean;
  now: number;
  /** Shown instead of the rows when there are none (a filter that matches nothing, say). */
  emptyText?: string;
  /** The projects whose agent waits for an answer. */
  waiting?: ReadonlySet<string>;
  /** When the user last had each project's chat open. */
  seen?: Readonly<Record<string, number>>;
}

const NOBODY_WAITS: ReadonlySet<string> = new Set();
const NEVER_SEEN: Readonly<Record<string, number>> = {};

/** The projects, one row each, windowed to `height` (the first line is the column titles). */
export function ProjectList({ projects, selected, width, height, focused, now, emptyText, waiting = NOBODY_WAITS, seen = NEVER_SEEN }: ProjectListProps) {
  const theme = useTheme();
  const columns = listColumns(width, longestName(projects));
  const rowsShown = Math.max(0, height - 1);
  const selectedIndex = projects.findIndex((view) => view.project.name === selected);
  // The window's start is remembered between frames so it scrolls only when the selection reaches an edge.
  const startRef = useRef(0);
  const shown = visibleWindow(projects.length, selectedIndex, rowsShown, startRef.current);
  startRef.current = shown.start;
  if (height <= 0) return null;

  const windowed = projects.length > rowsShown;
  const position = windowed ? `${selectedIndex >= 0 ? selectedIndex + 1 : shown.start + 1} of ${projects.length}` : '';
  const titles = titleLine(columns);
  const header = position && width > position.length + 1 ? `${fit(titles.trimEnd(), width - position.length - 1)} ${position}` : fit(titles, width);

  // No clipping box: every row is cut to the width and the rows to the height already,
  // and a clip would make Ink slice every line of every frame again.
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold wrap="truncate-end">
        {header}
      </Text>
      {projects.length === 0 && rowsShown > 0 ? (
        <Text color={theme.color('muted')} wrap="truncate-end">
          {fit(`  ${emptyText ?? 'No projects yet — press n to add one'}`, width)}
        </Text>
      ) : (
        projects.slice(shown.start, shown.end).map((view) => (
          <ProjectRow key={view.project.name} {...rowCells(view, columns, now, agentOf(view, waiting, seen))} selected={view.project.name === selected} focused={focused} />
        ))
      )}
    </Box>
  );
}

function agentOf(view: ProjectView, waiting: ReadonlySet<string>, seen: Readonly<Record<string, number>>): AgentState {
  const seenAt = seen[view.project.name];
  return agentStateOf({ waiting: waiting.has(view.project.name), ...(view.turn && { turn: view.turn }), ...(seenAt !== undefined && { seenAt }) });
}

/** Widths of the columns; 0 for a column left out. The name and the agent column take what remains. */
export interface ListColumns {
  name: number;
  mode: number;
  state: number;
  cpu: number;
  spark: number;
  memory: number;
  active: number;
  turn: number;
}

const MARKER = 2;
const NAME_MIN = 12;
const NAME_MAX = 32;
/** Enough for `◌ idle, unhealthy`. */
const STATE_EXTRA = 6;
/** `? waiting for you` shows as `? waiting…` in it: the word that matters. */
const TURN_MIN = 10;
const FIXED = { mode: 9, state: 11, cpu: 5, memory: 9, active: 8 } as const;

/**
 * From the widest choice down, the first in which the name keeps NAME_MIN
 * characters: the sparkline narrows, then goes, then the mode, the last
 * activity, the memory and the CPU go in that order. State and turn stay:
 * they are what the list is for.
 */
const CHOICES: ReadonlyArray<Omit<ListColumns, 'name' | 'turn' | 'state'>> = [
  { mode: FIXED.mode, cpu: FIXED.cpu, spark: 10, memory: FIXED.memory, active: FIXED.active },
  { mode: FIXED.mode, cpu: FIXED.cpu, spark: 6, memory: FIXED.memory, active: FIXED.active },
  { mode: FIXED.mode, cpu: FIXED.cpu, spark: 0, memory: FIXED.memory, active: FIXED.active },
  { mode: 0, cpu: FIXED.cpu, spark: 0, memory: FIXED.memory, active: FIXED.active },
  { mode: 0, cpu: FIXED.cpu, spark: 0, memory: FIXED.memory, active: 0 },
  { mode: 0, cpu: FIXED.cpu, spark: 0, memory: 0, active: 0 },
  { mode: 0, cpu: 0, spark: 0, memory: 0, active: 0 },
];

/**
 * The columns for a list `width` characters wide; their widths, gaps and the
 * marker add up to `width`. The name column is as wide as the longest name
 * (within NAME_MIN–NAME_MAX); room left over widens the state (for a health
 * note) and then the turn column (for progress text).
 */
export function listColumns(width: number, longestName = NAME_MAX): ListColumns {
  const choice = CHOICES.find((candidate) => nameRoom(candidate, width) >= NAME_MIN) ?? CHOICES[CHOICES.length - 1]!;
  const room = nameRoom(choice, width);
  const name = Math.max(1, Math.min(room, Math.max(NAME_MIN, Math.min(NAME_MAX, longestName))));
  const spare = Math.max(0, room - name);
  const state = FIXED.state + Math.min(STATE_EXTRA, spare);
  const turn = TURN_MIN + spare - (state - FIXED.state);
  return { name, state, turn, ...choice };
}

function nameRoom(choice: (typeof CHOICES)[number], width: number): number {
  const others = [choice.mode, FIXED.state, choice.cpu, choice.spark, choice.memory, choice.active, TURN_MIN].filter((column) => column > 0);
  return width - MARKER - others.reduce((sum, column) => sum + column + 1, 0);
}

function longestName(projects: readonly ProjectView[]): number {
  let longest = 0;
  for (const view of projects) longest = Math.max(longest, view.project.name.length);
  return longest;
}

function titleLine(columns: ListColumns): string {
  return [
    '  ',
    fit('NAME', columns.name),
    columns.mode ? ` ${fit('MODE', columns.mode)}` : '',
    ` ${fit('STATE', columns.state)}`,
    columns.cpu ? ` ${fit('CPU', columns.cpu, 'right')}` : '',
    columns.spark ? ` ${fit('', columns.spark)}` : '',
    columns.memory ? ` ${fit('MEM', columns.memory)}` : '',
    columns.active ? ` ${fit('ACTIVE', columns.active)}` : '',
    ` ${fit('AGENT', columns.turn)}`,
  ].join('');
}

/** What a row shows, as strings already fitted to their columns (each after the name starts with its gap). */
interface RowCells {
  name: string;
  mode: string;
  state: string;
  stateTone: Tone;
  cpu: string;
  spark: string;
  memory: string;
  active: string;
  turn: string;
  turnTone: Tone | '';
}

function rowCells(view: ProjectView, columns: ListColumns, now: number, agent: AgentState): RowCells {
  const { project, stats, container, turn } = view;
  const look = stateLook(view.state);
  const live = project.mode === 'container' && stats !== undefined;
  const gap = (text: string, width: number, align: 'left' | 'right' = 'left') => (width > 0 ? ` ${fit(text, width, align)}` : '');
  let sparkText = '';
  if (live && columns.spark > 0) {
    // A full bar is every CPU the container may use busy, so an idle one reads low.
    const cpuMax = Math.max(1, container?.limits.cpus ?? 1) * 100;
    const points = stats.history.map((sample) => ({ time: sample.time, value: sample.cpuPercent }));
    sparkText = sparkline(bucketPeaks(points, STATS_HISTORY_MS / columns.spark), columns.spark, cpuMax);
  }
  const turnText = agentMarker(view, agent);
  return {
    name: fit(project.name, columns.name),
    mode: gap(project.mode, columns.mode),
    state: gap(`${look.symbol} ${look.word}${healthNote(view)}`, columns.state),
    stateTone: look.tone,
    cpu: gap(live ? formatPercent(stats.latest.cpuPercent) : '', columns.cpu, 'right'),
    spark: gap(sparkText, columns.spark),
    memory: gap(live ? formatMemory(stats.latest.memoryUsed, stats.latest.memoryLimit || container?.limits.memoryBytes) : '', columns.memory),
    active: gap(formatLastActive(project.lastActive, now), columns.active),
    turn: gap(turnText, columns.turn),
    turnTone: turn?.cancelling ? 'warn' : AGENT_TONES[agent],
  };
}

/** The container's health, when the state word does not already say it (an idle container that is unhealthy, say). */
function healthNote({ state, container }: ProjectView): string {
  if (!container || container.health === 'none' || container.status !== 'running') return '';
  if (state === container.health || (state === 'starting' && container.health === 'starting')) return '';
  // `running` with a healthy check says nothing new either.
  if (container.health === 'healthy' && (state === 'running' || state === 'healthy')) return '';
  return `, ${container.health}`;
}

const AGENT_TONES: Record<AgentState, Tone> = { working: 'busy', waiting: 'warn', done: 'good', failed: 'bad', idle: 'muted' };

/** The agent's state as a symbol and a word; with the long work a turn waits on, `cancelling` once Esc was pressed. */
function agentMarker({ turn, progress }: ProjectView, agent: AgentState): string {
  if (turn?.running && turn.cancelling && agent !== 'waiting') return 'cancelling';
  const { symbol, word } = AGENT_STATE_LABELS[agent];
  if (agent === 'working' && progress) return `${symbol} ${word} · ${progress}`;
  if (agent === 'idle' && progress) return `⟳ ${progress}`;
  return `${symbol} ${word}`;
}

type ProjectRowProps = RowCells & { selected: boolean; focused: boolean };

/**
 * One project; every prop is a string or a flag, so an unchanged row is not drawn again.
 * Its cells are texts of their own, the plain ones apart from those with glyphs (the state's
 * symbol, the sparkline): Ink measures the width of every text on every frame, at once for
 * plain ASCII, one grapheme at a time for the rest (a frame of 50 rows: 40 ms of CPU as one
 * text a row, 28 ms so).
 */
export const ProjectRow = memo(function ProjectRow(props: ProjectRowProps) {
  const theme = useTheme();
  const { selected, focused } = props;
  const look = { inverse: selected && focused, bold: selected };
  return (
    <Box flexDirection="row" height={1}>
      <Text wrap="truncate-end" {...look}>{`${selected ? '› ' : '  '}${props.name}${props.mode}`}</Text>
      <Text wrap="truncate-end" {...look} color={theme.color(props.stateTone)}>{props.state}</Text>
      <Text wrap="truncate-end" {...look}>{props.cpu}</Text>
      <Text wrap="truncate-end" {...look} color={theme.color('accent')}>{props.spark}</Text>
      <Text wrap="truncate-end" {...look}>{`${props.memory}${props.active}`}</Text>
      {/* Padded to the edge only where the inverse bar shows it: Ink works through every space of every frame. */}
      <Text wrap="truncate-end" {...look} color={props.turnTone ? theme.color(props.turnTone) : undefined}>{selected ? props.turn : props.turn.trimEnd()}</Text>
    </Box>
  );
});
