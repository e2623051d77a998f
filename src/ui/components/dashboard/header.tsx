import { Box, Text } from 'ink';
import { memo } from 'react';
import type { EngineState, EngineView, HostStats } from '../../../services/control-center-state.js';
import { formatBytes, formatPercent, oneLine, truncate } from '../../format.js';
import { useTheme, type Tone } from '../../theme.js';

export interface HeaderProps {
  width: number;
  version: string;
  engine: EngineView;
  host?: HostStats;
  /** How many projects' agents wait for an answer. */
  waiting?: number;
}

const ENGINE_LOOKS: Record<EngineState['state'], { symbol: string; tone: Tone }> = {
  connected: { symbol: '●', tone: 'good' },
  connecting: { symbol: '◐', tone: 'warn' },
  unreachable: { symbol: '✗', tone: 'bad' },
  unused: { symbol: '○', tone: 'muted' },
};

/** Below this the address says nothing useful: drop it rather than show `un…`. */
const MIN_ADDRESS = 8;
const GAP = '  ';

export interface HeaderLine {
  title: string;
  /** `? 2 waiting for you`, after the title; empty when nothing waits. */
  waiting: string;
  symbol: string;
  tone: Tone;
  /** The address and the state, after the symbol; empty when nothing fits. */
  engine: string;
  host: string;
  /** Spaces between the engine and the host, so the host sits on the right. */
  padding: number;
}

/**
 * The header's parts, fitted to `width`: the host figures lose the disk, then
 * the memory, before the engine state does; the engine address is cut first.
 */
export function headerLine({ width, version, engine, host, waiting: count = 0 }: HeaderProps): HeaderLine {
  const fullTitle = truncate(`berth ${version}`, width);
  // Said before the engine and the host: it is what the user must act on.
  const waiting = count > 0 ? truncate(`${GAP}? ${count} waiting for you`, width - fullTitle.length) : '';
  const title = fullTitle;
  const { symbol, tone } = ENGINE_LOOKS[engine.status.state];
  for (const hostText of hostVariants(host)) {
    const room = width - title.length - waiting.length - GAP.length - (hostText ? hostText.length + GAP.length : 0);
    const engineText = fitEngine(engine, room - symbol.length - 1);
    if (engineText === undefined) continue;
    const used = title.length + waiting.length + GAP.length + symbol.length + 1 + engineText.length;
    return { title, waiting, symbol, tone, engine: engineText, host: hostText, padding: hostText ? width - used - hostText.length : 0 };
  }
  return { title, waiting, symbol: '', tone, engine: '', host: '', padding: 0 };
}

function hostVariants(host: HostStats | undefined): string[] {
  if (!host) return [''];
  const cpu = `cpu ${formatPercent(host.cpuPercent)}`;
  const memory = `mem ${formatBytes(host.memoryUsed)}/${formatBytes(host.memoryTotal)}`;
  const disk = `disk ${formatBytes(host.diskUsed)}/${formatBytes(host.diskTotal)}`;
  return [[cpu, memory, disk].join(GAP), [cpu, memory].join(GAP), cpu, ''];
}

/** The engine's address and state in `room` characters, or undefined when even the state word does not fit. */
function fitEngine(engine: EngineView, room: number): string | undefined {
  const status = engine.status;
  const word = status.state === 'unused' ? 'no engine needed' : status.state === 'connecting' ? 'connecting…' : status.state;
  if (room < word.length) return undefined;
  const state = status.state === 'unreachable' ? `unreachable: ${oneLine(status.error, 40)}` : word;
  // With no engine in use its address is beside the point.
  const address = status.state === 'unused' ? '' : engine.address;
  if (address) {
    const addressRoom = Math.min(address.length, room - state.length - 1);
    if (addressRoom >= Math.min(MIN_ADDRESS, address.length)) return `${truncate(address, addressRoom)} ${state}`;
  }
  return truncate(state, room);
}

/** One line: `berth <version>`, the engine and its state, then the host's CPU, memory and disk. */
export const Header = memo(function Header(props: HeaderProps) {
  const theme = useTheme();
  const line = headerLine(props);
  return (
    <Box width={props.width} height={1}>
      <Text wrap="truncate-end">
        <Text bold color={theme.color('accent')}>
          {line.title}
        </Text>
        {line.waiting && (
          <Text bold color={theme.color('warn')}>
            {line.waiting}
          </Text>
        )}
        {line.symbol && (
          <>
            {GAP}
            <Text color={theme.color(line.tone)}>{line.symbol}</Text>
            {` ${line.engine}`}
          </>
        )}
        {line.host && (
          <>
            {' '.repeat(Math.max(GAP.length, line.padding))}
            <Text dimColor>{line.host}</Text>
          </>
        )}
      </Text>
    </Box>
  );
});
