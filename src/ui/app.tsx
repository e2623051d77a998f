import { waitingProjects } from '../services/control-center-state.js';
import { useApp } from 'ink';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Keymap } from '../domain/keys.js';
import type { ControlCenter } from '../services/control-center-state.js';
import { ScreenErrorBoundary } from './components/screen-error-boundary.js';
import { filterProjects } from './filter-projects.js';
import { useSnapshot } from './hooks/use-snapshot.js';
import { DashboardScreen } from './screens/dashboard-screen.js';
import { ChatView } from './screens/chat-view.js';
import { LogsView } from './screens/logs-view.js';
import type { ScreenActions, ScreenProps } from './screens/screen-props.js';
import type { UiState } from './ui-state.js';

/** How the app ended: a quit, or a pause while a shell has the terminal. */
export type AppExit = { kind: 'quit' } | { kind: 'shell'; project: string } | { kind: 'attach'; project: string };

export interface AppProps {
  service: ControlCenter;
  keymap: Keymap;
  version: string;
  columns: number;
  rows: number;
  defaultMode: 'workspace' | 'container';
  /** The projects whose agent waits for you come first in the list (setting dashboard.waitingFirst). */
  waitingFirst?: boolean;
  /** Survives a remount (after a shell): the screen comes back as it was left. */
  memory: { ui: UiState };
  onExit: (exit: AppExit) => void;
}

/** The control center: chooses the screen; the screens draw, the service does the work. */
export function App(props: AppProps) {
  const { service, memory, onExit } = props;
  const { exit } = useApp();
  const snapshot = useSnapshot(service);
  const [ui, setUi] = useState(memory.ui);
  const [formBusy, setFormBusy] = useState(false);
  const [formError, setFormError] = useState<string | undefined>();
  const uiRef = useRef(ui);
  uiRef.current = ui;
  const update = useCallback((change: Partial<UiState>) => {
    setUi((current) => (memory.ui = { ...current, ...change }));
  }, [memory]);
  const leave = useCallback((how: AppExit) => {
    onExit(how);
    exit();
  }, [onExit, exit]);

  const actions = useMemo((): ScreenActions => {
    const reallyQuit = () => leave({ kind: 'quit' });
    return {
      openChat: (name) => {
        service.openConversation(name);
        update({ view: { screen: 'chat', project: name }, selected: name, overlay: undefined, seen: { ...uiRef.current.seen, [name]: Date.now() } });
      },
      openLogs: (name) => update({ view: { screen: 'logs', project: name }, selected: name, overlay: undefined }),
      backToDashboard: () => {
        const left = uiRef.current.view;
        update({ view: { screen: 'dashboard' }, ...(left.screen === 'chat' && { seen: { ...uiRef.current.seen, [left.project]: Date.now() } }) });
      },
      startOrStop: (name) => void service.startOrStop(name),
      restart: (name) => void service.restart(name),
      refresh: (name) => void service.refresh(name),
      removeContainer: (name) => void service.removeContainer(name),
      toggleMode: (name) => void service.toggleMode(name),
      shell: (name) => leave({ kind: 'shell', project: name }),
      attach: (name) => leave({ kind: 'attach', project: name }),
      buildImage: () => void service.buildImage(),
      send: (name, message) => service.send(name, message),
      cancel: (name) => service.cancel(name),
      answer: (name, id, answer) => service.answer(name, id, answer),
      withdrawLast: (name) => service.withdrawLast(name),
      newConversation: (name) => void service.newConversation(name),
      notify: (text) => service.notify(text),
      network: (name) => service.network(name),
      editNetwork: (name, verb, host) => service.editNetwork(name, verb, host),
      quit: () => {
        if (!service.anyTurnRunning()) return reallyQuit();
        const running = service.snapshot().projects.filter((view) => view.turn?.running).map((view) => view.project.name);
        update({
          view: { screen: 'dashboard' },
          overlay: {
            kind: 'confirm',
            message: `Quit while a turn runs in ${running.join(', ')}?`,
            detail: 'The turn is cancelled, and recorded so; queued messages are not sent.',
            action: reallyQuit,
          },
        });
      },
    };
  }, [service, update, leave]);

  const waitingFirst = props.waitingFirst === true;
  const views = useMemo(() => {
    const shown = filterProjects(snapshot.projects, ui.filter);
    if (!waitingFirst || snapshot.requests.length === 0) return shown;
    const waiting = waitingProjects(snapshot);
    return [...shown.filter((view) => waiting.has(view.project.name)), ...shown.filter((view) => !waiting.has(view.project.name))];
  }, [snapshot.projects, snapshot.requests, ui.filter, waitingFirst]);
  // The clock for "3m ago" and uptimes moves with each snapshot, so an idle screen is not redrawn for it alone.
  const now = useMemo(() => Date.now(), [snapshot]);
  useEffect(() => {
    if (ui.selected === undefined && views[0]) update({ selected: views[0].project.name });
  }, [ui.selected, views, update]);

  const screenProps: ScreenProps = { snapshot, ui, update, keymap: props.keymap, actions, columns: props.columns, rows: props.rows, version: props.version, now };
  const addProject = (values: { name: string; path: string; mode: 'workspace' | 'container' }) => {
    setFormBusy(true);
    setFormError(undefined);
    void service.addProject(values).then((error) => {
      setFormBusy(false);
      setFormError(error);
      if (error === undefined) update({ overlay: undefined, selected: values.name });
    });
  };
  const view = ui.view;
  return (
    <ScreenErrorBoundary key={view.screen} width={props.columns} onReset={() => update({ view: { screen: 'dashboard' }, overlay: undefined })}>
      {view.screen === 'chat' && <ChatView key={view.project} {...screenProps} project={view.project} />}
      {view.screen === 'logs' && <LogsView key={view.project} {...screenProps} project={view.project} source={service} />}
      {view.screen === 'dashboard' && (
        <DashboardScreen
          {...screenProps}
          views={views}
          defaultMode={props.defaultMode}
          formBusy={formBusy}
          {...(formError !== undefined && { formError })}
          onOpenForm={() => setFormError(undefined)}
          onAddProject={addProject}
        />
      )}
    </ScreenErrorBoundary>
  );
}
