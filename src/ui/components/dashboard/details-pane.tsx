import { Box, Text } from 'ink';
import type { TurnOutcome } from '../../../domain/chat.js';
import type { ContainerLimits, HealthCheck } from '../../../domain/container.js';
import type { ProjectView, TurnView } from '../../../services/control-center-state.js';
import { visibleText } from '../../../domain/visible-text.js';
import { fit, formatBytes, formatCount, formatElapsed, formatLastActive, formatUptime, formatUsd, oneLine } from '../../format.js';
import { stateLook, useTheme, type Tone } from '../../theme.js';

export interface DetailsPaneProps {
  view: ProjectView | undefined;
  width: number;
  height: number;
  now: number;
  focused: boolean;
  /** Lines scrolled past, when the details are longer than the pane. */
  scroll?: number;
}

export interface DetailLine {
  label: string;
  value: string;
  tone?: Tone;
}

const LABEL_WIDTH = 12;

const OUTCOMES: Record<TurnOutcome, { symbol: string; tone: Tone }> = {
  success: { symbol: '✓', tone: 'good' },
  error: { symbol: '✗', tone: 'bad' },
  cancelled: { symbol: '⊘', tone: 'warn' },
  timeout: { symbol: '✗', tone: 'bad' },
  interrupted: { symbol: '✗', tone: 'bad' },
};

/** The pane's first line: the project and its mode (which is why no line below repeats the mode). */
export function detailsTitle({ project }: ProjectView): string {
  return `${project.name} — ${project.mode === 'workspace' ? 'workspace, on the host' : 'container'}`;
}

/** Everything the pane says of a project, one labelled line each, before clipping; the most useful first. */
export function detailLines(view: ProjectView, now: number): DetailLine[] {
  const { project, container, turn } = view;
  const lines: DetailLine[] = [];
  if (view.progress) lines.push({ label: 'now', value: `⟳ ${view.progress}`, tone: 'busy' });
  lines.push({ label: 'workspace', value: project.path });
  if (project.mode === 'container') {
    if (!container) {
      lines.push({ label: 'container', value: 'none yet: created on the next message', tone: 'muted' });
    } else {
      lines.push({ label: 'container', value: `${container.id.slice(0, 12)}  ${container.image}` });
      lines.push({ label: 'limits', value: limitsText(container.limits) });
      lines.push(uptimeLine(view, now));
      lines.push(healthLine(container.health, container.failingStreak));
    }
  }
  lines.push(...turnLines(turn, now));
  if (view.policy) lines.push({ label: 'policy', value: `${view.policy.text} (${formatLastActive(new Date(view.policy.time).toISOString(), now)})`, tone: 'warn' });
  const usage = project.usage;
  lines.push({
    label: 'usage',
    value: usage && usage.turns > 0
      ? `${usage.turns} turn${usage.turns === 1 ? '' : 's'} · ${formatCount(usage.tokensIn)} in · ${formatCount(usage.tokensOut)} out · ${formatUsd(usage.costUsd)}`
      : 'no turns yet',
  });
  lines.push({ label: 'last active', value: project.lastActive ? formatLastActive(project.lastActive, now) : 'never' });
  lines.push({ label: 'session', value: project.sessionId ?? '— (the next message starts one)' });
  // The health log last: the health line above already says whether it matters.
  const checks = [...(container?.healthLog ?? [])].reverse();
  checks.forEach((check, index) => lines.push(healthCheckLine(check, now, index === 0 ? 'checks' : '')));
  return lines;
}

function limitsText(limits: ContainerLimits): string {
  const memory = limits.memoryBytes > 0 ? `${formatBytes(limits.memoryBytes)} memory` : 'no memory limit';
  const cpus = limits.cpus > 0 ? `${limits.cpus} CPU${limits.cpus === 1 ? '' : 's'}` : 'all CPUs';
  const pids = limits.pids > 0 ? `${limits.pids} pids` : 'no pids limit';
  return `${memory} · ${cpus} · ${pids}`;
}

function uptimeLine({ container, state }: ProjectView, now: number): DetailLine {
  const look = stateLook(state);
  if (container?.status === 'running' && container.startedAt) {
    return { label: 'uptime', value: `${formatUptime(now - Date.parse(container.startedAt))} (${look.symbol} ${look.word})` };
  }
  const stopped = container?.finishedAt ? `, stopped ${formatLastActive(container.finishedAt, now)}` : '';
  return { label: 'uptime', value: `${look.symbol} ${look.word}${stopped}`, tone: look.tone };
}

function healthLine(health: string, failingStreak: number): DetailLine {
  if (health === 'none') return { label: 'health', value: 'no healthcheck', tone: 'muted' };
  const failing = failingStreak > 0 ? ` · ${failingStreak} failed check${failingStreak === 1 ? '' : 's'} in a row` : '';
  const tone: Tone = health === 'unhealthy' ? 'bad' : failingStreak > 0 || health === 'starting' ? 'warn' : 'good';
  return { label: 'health', value: `${health}${failing}`, tone };
}

/** One healthcheck of the engine's log, the newest first: when, how it ended, what it said. */
function healthCheckLine(check: HealthCheck, now: number, label: string): DetailLine {
  const ok = check.exitCode === 0;
  const said = check.output === '' ? '' : `: ${oneLine(check.output)}`;
  return { label, value: `${ok ? '✓' : '✗'} ${formatLastActive(check.time, now)}, exit ${check.exitCode}${said}`, tone: ok ? 'muted' : 'bad' };
}

function turnLines(turn: TurnView | undefined, now: number): DetailLine[] {
  if (!turn) return [{ label: 'last turn', value: 'none yet', tone: 'muted' }];
  if (turn.running) {
    const running = `⟳ running for ${formatElapsed(now - turn.startedAt)}`;
    return [{ label: 'turn', value: turn.cancelling ? `${running}, cancelling…` : running, tone: turn.cancelling ? 'warn' : 'busy' }];
  }
  const outcome = OUTCOMES[turn.outcome ?? 'success'];
  const parts = [`${outcome.symbol} ${turn.outcome ?? 'ended'}`];
  if (turn.usage) {
    parts.push(
      formatUsd(turn.usage.costUsd),
      `${formatCount(turn.usage.tokensIn)} in / ${formatCount(turn.usage.tokensOut)} out`,
      formatElapsed(turn.usage.durationMs),
    );
  }
  const lines: DetailLine[] = [{ label: 'last turn', value: parts.join(' · '), tone: outcome.tone }];
  if (turn.error) lines.push({ label: 'error', value: oneLine(turn.error, 200), tone: 'bad' });
  return lines;
}

/** The selected project's details: a title line, then as many lines as fit from `scroll` on. */
export function DetailsPane({ view, width, height, now, focused, scroll = 0 }: DetailsPaneProps) {
  const theme = useTheme();
  if (height <= 0) return null;
  if (!view) {
    return (
      <Box flexDirection="column" width={width} height={height} overflow="hidden">
        <Text color={theme.color('muted')} wrap="truncate-end">
          {fit('No project selected', width)}
        </Text>
      </Box>
    );
  }
  const lines = detailLines(view, now);
  const room = height - 1;
  const first = Math.max(0, Math.min(scroll, lines.length - room));
  const shown = lines.slice(first, first + room);
  const more = [first > 0 ? '↑' : '', first + room < lines.length ? '↓' : ''].join('');
  const title = detailsTitle(view);
  const titleText = more && width > more.length + 2 ? `${fit(title, width - more.length - 1)} ${more}` : fit(title, width);
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      {/* Inverse, not colour, tells the focused pane (Tab) under NO_COLOR. */}
      <Text bold inverse={focused} wrap="truncate-end">
        {titleText}
      </Text>
      {shown.map((line) => (
        <Text key={line.label} wrap="truncate-end">
          <Text dimColor>{fit(line.label, LABEL_WIDTH - 1)} </Text>
          <Text {...(line.tone && { color: theme.color(line.tone) })}>{visibleText(line.value, 'line')}</Text>
        </Text>
      ))}
    </Box>
  );
}
