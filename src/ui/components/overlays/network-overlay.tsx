/**
 * The `N` overlay: the hosts a project's container may reach, the hosts
 * refused lately, and the edits `berth net` makes. ↑/↓ pick an entry, `d`
 * denies it, `a` opens a line to type a host to allow; Esc closes.
 */
import { Box, Text, useInput } from 'ink';
import TextInput from 'ink-text-input';
import { useCallback, useEffect, useState } from 'react';
import { visibleText } from '../../../domain/visible-text.js';
import type { NetworkView } from '../../../services/control-center.js';
import { useTheme } from '../../theme.js';

export interface NetworkOverlayProps {
  project: string;
  width: number;
  height: number;
  load: (project: string) => Promise<NetworkView>;
  edit: (project: string, verb: 'allow' | 'deny', host: string) => Promise<string | undefined>;
  onClose: () => void;
}

/** Rows around the lists: border, title, enforcement, headings, the input or key line, the error. */
const CHROME_ROWS = 9;

export function NetworkOverlay({ project, width, height, load, edit, onClose }: NetworkOverlayProps) {
  const theme = useTheme();
  const [view, setView] = useState<NetworkView | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [cursor, setCursor] = useState(0);
  const [adding, setAdding] = useState(false);
  const [draft, setDraft] = useState('');
  const [busy, setBusy] = useState(false);

  const reload = useCallback(() => {
    load(project).then(setView, (failure: unknown) => setError(failure instanceof Error ? failure.message : String(failure)));
  }, [load, project]);
  useEffect(reload, [reload]);

  const apply = (verb: 'allow' | 'deny', host: string) => {
    setBusy(true);
    void edit(project, verb, host).then((refusal) => {
      setBusy(false);
      setError(refusal);
      if (refusal === undefined) {
        setAdding(false);
        setDraft('');
        reload();
      }
    });
  };

  const entries = view?.allowlist ?? [];
  useInput(
    (input, key) => {
      if (adding) {
        if (key.escape) {
          setAdding(false);
          setError(undefined);
        }
        return;
      }
      if (key.escape || input === 'q' || input === 'N') return onClose();
      if (key.upArrow || input === 'k') return setCursor((at) => Math.max(0, at - 1));
      if (key.downArrow || input === 'j') return setCursor((at) => Math.min(Math.max(0, entries.length - 1), at + 1));
      if (input === 'a') {
        setError(undefined);
        return setAdding(true);
      }
      const selected = entries[cursor];
      if ((input === 'd' || key.delete) && selected) {
        apply('deny', selected.entry);
        setCursor((at) => Math.max(0, Math.min(at, entries.length - 2)));
      }
    },
    { isActive: !busy },
  );

  const listRows = Math.max(1, height - CHROME_ROWS - Math.min(view?.refused.length ?? 0, 5));
  const first = Math.max(0, Math.min(cursor - listRows + 1, entries.length - listRows));
  const shown = entries.slice(first, first + listRows);
  const hostWidth = Math.max(10, Math.min(40, ...entries.map((entry) => entry.entry.length)));
  return (
    <Box flexDirection="column" width={width} borderStyle="round" paddingX={1}>
      <Text bold wrap="truncate-end">
        {visibleText(project, 'line')}: hosts it may reach
      </Text>
      <Text dimColor wrap="truncate-end">
        {view ? visibleText(enforcementText(view), 'line') : 'reading…'}
      </Text>
      <Text bold wrap="truncate-end">
        {'  '}
        {'ALLOWED'.padEnd(hostWidth)}  {'PORTS'.padEnd(7)}  FROM
      </Text>
      {shown.map((entry, index) => {
        const at = first + index === cursor;
        return (
          <Text key={entry.entry} wrap="truncate-end" inverse={at && !adding}>
            {at ? '› ' : '  '}
            {visibleText(`${entry.entry.padEnd(hostWidth)}  ${entry.ports.padEnd(7)}  ${entry.source}`, 'line')}
          </Text>
        );
      })}
      {view && entries.length === 0 && <Text dimColor>  nothing: the container reaches no host</Text>}
      <Text bold wrap="truncate-end">
        Refused lately
      </Text>
      {view && view.refused.length === 0 && <Text dimColor>  none</Text>}
      {view?.refused.slice(0, 5).map((refusal) => (
        <Text key={`${refusal.time}${refusal.host}${refusal.port}`} color={theme.color('warn')} wrap="truncate-end">
          {'  '}
          {visibleText(`${refusal.time.slice(11, 19)} ${refusal.host}:${refusal.port}`, 'line')}
        </Text>
      ))}
      {adding ? (
        <Box>
          <Text>allow: </Text>
          <TextInput value={draft} onChange={setDraft} onSubmit={(host) => apply('allow', host)} placeholder="host, *.domain or host:port" />
        </Box>
      ) : (
        <Text dimColor wrap="truncate-end">
          <Text bold>a</Text> allow a host · <Text bold>d</Text> deny the selected · <Text bold>Esc</Text> close
        </Text>
      )}
      {error !== undefined && (
        <Text color={theme.color('bad')} wrap="truncate-end">
          {visibleText(error, 'line')}
        </Text>
      )}
    </Box>
  );
}

function enforcementText(view: NetworkView): string {
  if (view.mode !== 'container') return 'workspace mode: the agent uses this machine\'s network; the allowlist applies in container mode';
  if (view.enforced === undefined) return 'no container yet: it will have its own network, with this list as its only way out';
  if (view.enforced && view.hostExposed) return `its own network with no route out, this list its only way out; but this machine's services are in reach: ${view.hostExposed}`;
  if (view.enforced) return 'its own network with no route out: this list, through berth\'s egress proxy, is its only way out';
  return `NOT enforced: the container has a route out: ${view.routeOut ?? 'its network has one'}`;
}
