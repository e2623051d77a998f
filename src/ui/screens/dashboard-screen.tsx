import { Box, useInput } from 'ink';
import { useMemo } from 'react';
import { waitingProjects, type ProjectView } from '../../services/control-center-state.js';
import { DetailsPane, detailLines } from '../components/dashboard/details-pane.js';
import { Header } from '../components/dashboard/header.js';
import { ProjectList } from '../components/dashboard/project-list.js';
import { hintsText, KeyHints } from '../components/key-hints.js';
import { ConfirmDialog, confirmDialogHeight } from '../components/overlays/confirm-dialog.js';
import { FilterBar } from '../components/overlays/filter-bar.js';
import { HelpOverlay } from '../components/overlays/help-overlay.js';
import { NetworkOverlay } from '../components/overlays/network-overlay.js';
import { NewProjectForm } from '../components/overlays/new-project-form.js';
import { StatusLine } from '../components/status-line.js';
import { commandFor } from '../keymap.js';
import { dashboardLayout } from '../layout.js';
import type { ScreenProps } from './screen-props.js';

const HINTS = [
  ['openChat', 'chat'],
  ['newProject', 'new'],
  ['startStop', 'start/stop'],
  ['logs', 'logs'],
  ['shell', 'shell'],
  ['filter', 'filter'],
  ['help', 'help'],
  ['quit', 'quit'],
] as const;

export interface DashboardScreenProps extends ScreenProps {
  views: readonly ProjectView[];
  /** True while the new-project form waits for the service. */
  formBusy: boolean;
  formError?: string;
  /** The form opens afresh: no error of an earlier attempt. */
  onOpenForm: () => void;
  onAddProject: (values: { name: string; path: string; mode: 'workspace' | 'container' }) => void;
  defaultMode: 'workspace' | 'container';
}

export function DashboardScreen(props: DashboardScreenProps) {
  const { snapshot, ui, update, keymap, columns, rows, views, now } = props;
  const layout = dashboardLayout(columns, rows);
  const selectedView = views.find((view) => view.project.name === ui.selected) ?? views[0];
  const overlay = ui.overlay;
  /** The list's column: the whole body, unless the details sit beside it. */
  const bodyHeight = layout.sideBySide ? layout.listHeight : layout.listHeight + layout.detailsHeight;
  const waiting = useMemo(() => waitingProjects(snapshot), [snapshot.requests]);
  useInput((input, key) => {
    // Esc is no dashboard command, but it closes the help as users expect.
    if (overlay?.kind === 'help' && key.escape) return update({ overlay: undefined });
    dashboardKey(props, selectedView, commandFor(keymap, 'dashboard', input, key));
  }, {
    isActive: overlay === undefined || overlay.kind === 'help',
  });

  const bottom = (() => {
    if (overlay?.kind === 'filter') {
      return (
        <FilterBar
          value={ui.filter}
          width={columns}
          onChange={(filter) => update({ filter })}
          onSubmit={() => update({ overlay: undefined })}
          onCancel={() => update({ overlay: undefined, filter: '' })}
        />
      );
    }
    return <StatusLine status={snapshot.status} width={columns} />;
  })();

  const body = (() => {
    if (overlay?.kind === 'help') return <HelpOverlay keymap={keymap} width={columns} height={bodyHeight} />;
    if (overlay?.kind === 'network') {
      return (
        <NetworkOverlay
          project={overlay.project}
          width={Math.min(columns, 100)}
          height={bodyHeight}
          load={props.actions.network}
          edit={props.actions.editNetwork}
          onClose={() => update({ overlay: undefined })}
        />
      );
    }
    if (overlay?.kind === 'new-project') {
      return (
        <NewProjectForm
          width={Math.min(columns, 76)}
          defaultMode={props.defaultMode}
          onSubmit={props.onAddProject}
          onCancel={() => update({ overlay: undefined })}
          busy={props.formBusy}
          {...(props.formError !== undefined && { error: props.formError })}
        />
      );
    }
    const list = (
      <ProjectList
        projects={views}
        selected={selectedView?.project.name}
        width={layout.listWidth}
        height={overlay?.kind === 'confirm' ? Math.max(1, bodyHeight - confirmDialogHeight(overlay.detail)) : layout.listHeight}
        focused={ui.pane === 'list'}
        now={now}
        waiting={waiting}
        seen={ui.seen}
        {...(ui.filter !== '' && { emptyText: `No project matches “${ui.filter}” — Esc on / clears the filter` })}
      />
    );
    const details = layout.detailsHeight > 0 && overlay?.kind !== 'confirm' && (
      <DetailsPane view={selectedView} width={layout.detailsWidth} height={layout.detailsHeight} now={now} focused={ui.pane === 'details'} scroll={ui.detailsScroll} />
    );
    return (
      <Box flexDirection={layout.sideBySide ? 'row' : 'column'}>
        <Box flexDirection="column">
          {list}
          {overlay?.kind === 'confirm' && (
            <ConfirmDialog
              message={overlay.message}
              {...(overlay.detail !== undefined && { detail: overlay.detail })}
              width={Math.min(columns, 76)}
              onAnswer={(yes) => {
                update({ overlay: undefined });
                if (yes) overlay.action();
              }}
            />
          )}
        </Box>
        {layout.sideBySide && <Box width={1} />}
        {details}
      </Box>
    );
  })();

  return (
    <Box flexDirection="column" width={columns} height={rows}>
      <Header width={columns} version={props.version} engine={snapshot.engine} {...(snapshot.host && { host: snapshot.host })} waiting={waitingProjects(snapshot).size} />
      {/* The list and the details fit themselves; only an overlay is clipped (a clip costs Ink a slice of every line, every frame). */}
      <Box flexDirection="column" height={bodyHeight} {...(overlay && { overflow: 'hidden' as const })}>
        {body}
      </Box>
      {bottom}
      <KeyHints text={overlay?.kind === 'help' ? 'Esc or ? closes the help' : hintsText(keymap, HINTS)} />
    </Box>
  );
}

function dashboardKey(props: DashboardScreenProps, selected: ProjectView | undefined, command: ReturnType<typeof commandFor>): void {
  const { ui, update, views, actions } = props;
  if (ui.overlay?.kind === 'help') {
    // Any of these closes the help; other keys are ignored so a stray key does nothing behind it.
    if (command === 'help' || command === 'quit') update({ overlay: undefined });
    if (command === 'interrupt') actions.quit();
    return;
  }
  const index = selected ? views.indexOf(selected) : -1;
  const select = (next: number) => {
    const view = views[Math.max(0, Math.min(views.length - 1, next))];
    if (view) update({ selected: view.project.name, detailsScroll: 0 });
  };
  const page = Math.max(1, dashboardLayout(props.columns, props.rows).listHeight - 2);
  const name = selected?.project.name;
  const confirm = (message: string, action: () => void, detail?: string) =>
    update({ overlay: { kind: 'confirm', message, action, ...(detail !== undefined && { detail }) } });
  const inDetails = ui.pane === 'details';
  switch (command) {
    case 'up':
      return inDetails ? update({ detailsScroll: Math.max(0, ui.detailsScroll - 1) }) : select(index - 1);
    case 'down':
      if (!inDetails) return select(index + 1);
      return update({ detailsScroll: Math.min(ui.detailsScroll + 1, Math.max(0, (selected ? detailLines(selected, props.now).length : 0) - 1)) });
    case 'pageUp':
      return select(index - page);
    case 'pageDown':
      return select(index + page);
    case 'top':
      return select(0);
    case 'bottom':
      return select(views.length - 1);
    case 'switchPane':
      return update({ pane: ui.pane === 'list' ? 'details' : 'list' });
    case 'help':
      return update({ overlay: { kind: 'help' } });
    case 'filter':
      return update({ overlay: { kind: 'filter' } });
    case 'newProject':
      props.onOpenForm();
      return update({ overlay: { kind: 'new-project' } });
    case 'buildImage':
      return actions.buildImage();
    case 'nextWaiting': {
      // The next, below the selected one and round: pressed again, it goes on to the one after.
      const waiting = waitingProjects(props.snapshot);
      const next = [...views.slice(index + 1), ...views.slice(0, index + 1)].find((view) => waiting.has(view.project.name));
      if (!next) return actions.notify('no agent waits for you');
      return update({ selected: next.project.name, detailsScroll: 0 });
    }
    case 'quit':
    case 'interrupt':
      return actions.quit();
    default:
      break;
  }
  if (!name || !selected || command === undefined) return;
  const busyTurn = selected.turn?.running === true;
  const container = selected.project.mode === 'container';
  switch (command) {
    case 'openChat':
      return actions.openChat(name);
    case 'network':
      return update({ overlay: { kind: 'network', project: name } });
    case 'startStop':
      if (container && selected.container?.status === 'running' && busyTurn) {
        return confirm(`Stop ${name}'s container while a turn runs?`, () => actions.startOrStop(name), 'The turn will fail.');
      }
      return actions.startOrStop(name);
    case 'restart':
      if (!container) return actions.notify(`${name} runs on the host: there is no container to restart`);
      return confirm(`Restart ${name}'s container?`, () => actions.restart(name), busyTurn ? 'A turn is running: it will fail.' : 'Processes in it are stopped.');
    case 'refresh':
      if (!container) return actions.notify(`${name} runs on the host: there is no container to recreate`);
      return confirm(`Recreate ${name}'s container?`, () => actions.refresh(name), 'The workspace and the agent config are kept; everything else in the container is lost.');
    case 'removeContainer':
      if (!container || !selected.container) return actions.notify(`${name} has no container to remove`);
      return confirm(`Remove ${name}'s container?`, () => actions.removeContainer(name), 'The workspace is kept; the container is created again on the next message.');
    case 'toggleMode': {
      const next = container ? 'workspace' : 'container';
      const detail = container
        ? 'The agent will run on the host, in the workspace folder, with your user’s rights.'
        : 'The agent will run in a container, created on the next message.';
      return confirm(`Switch ${name} to ${next} mode?`, () => actions.toggleMode(name), detail);
    }
    case 'logs':
      if (!container) return actions.notify(`${name} runs on the host: it has no container logs`);
      return actions.openLogs(name);
    case 'shell':
      return actions.shell(name);
    case 'attach':
      return actions.attach(name);
    default:
      return;
  }
}

