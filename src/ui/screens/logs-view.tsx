import { waitingProjects } from '../../services/control-center-state.js';
import { Box, useInput } from 'ink';
import { useEffect, useRef, useState } from 'react';
import { LogsScreen } from '../components/logs/logs-screen.js';
import { hintsText } from '../components/key-hints.js';
import { Header } from '../components/dashboard/header.js';
import { StatusLine } from '../components/status-line.js';
import { commandFor } from '../keymap.js';
import { LogBuffer } from '../log-buffer.js';
import type { ScreenProps } from './screen-props.js';

const HINTS = [['back', 'back'], ['follow', 'follow'], ['pageUp', 'scroll'], ['interrupt', 'quit']] as const;
/** Log chunks can come by the thousand: the screen is redrawn at most this often. */
const REDRAW_MS = 100;

export interface LogsSource {
  followLogs(name: string, onChunk: (text: string) => void, signal: AbortSignal): Promise<void>;
}

/** A container's logs, followed while the screen is open. */
export function LogsView(props: ScreenProps & { project: string; source: LogsSource }) {
  const { snapshot, keymap, actions, columns, rows, project, source } = props;
  const buffer = useRef(new LogBuffer());
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<string | undefined>();
  const [scrollOffset, setScrollOffset] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const redraw = () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        setVersion((value) => value + 1);
      }, REDRAW_MS);
    };
    source
      .followLogs(project, (chunk) => {
        buffer.current.push(chunk);
        redraw();
      }, abort.signal)
      .catch((failure: unknown) => {
        if (!abort.signal.aborted) setError(failure instanceof Error ? failure.message.split('\n')[0] : String(failure));
      });
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [project, source]);
  const height = Math.max(3, rows - 2);
  const page = Math.max(1, height - 3);
  useInput((input, key) => {
    const command = commandFor(keymap, 'logs', input, key) ?? commandFor(keymap, 'dashboard', input, key);
    const lines = buffer.current.lines().length;
    switch (command) {
      case 'back':
        return actions.backToDashboard();
      case 'follow':
        return setScrollOffset(0);
      case 'up':
        return setScrollOffset((offset) => Math.min(lines, offset + 1));
      case 'down':
        return setScrollOffset((offset) => Math.max(0, offset - 1));
      case 'pageUp':
        return setScrollOffset((offset) => Math.min(lines, offset + page));
      case 'pageDown':
        return setScrollOffset((offset) => Math.max(0, offset - page));
      case 'bottom':
        return setScrollOffset(0);
      case 'top':
        return setScrollOffset(lines);
      case 'interrupt':
        return actions.quit();
      default:
        return;
    }
  });
  void version;
  return (
    <Box flexDirection="column" width={columns} height={rows}>
      <Header width={columns} version={props.version} engine={snapshot.engine} {...(snapshot.host && { host: snapshot.host })} waiting={waitingProjects(snapshot).size} />
      <LogsScreen
        projectName={project}
        lines={buffer.current.lines()}
        width={columns}
        height={height}
        scrollOffset={scrollOffset}
        following={scrollOffset === 0}
        {...(error !== undefined && { error })}
        hints={hintsText(keymap, HINTS)}
      />
      <StatusLine status={snapshot.status} width={columns} />
    </Box>
  );
}
