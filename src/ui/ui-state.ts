/**
 * What the user is looking at: the screen, the selected project, the filter.
 * Kept outside React so that it survives the Ink tree being unmounted while
 * a shell has the terminal.
 */
export type View =
  | { screen: 'dashboard' }
  | { screen: 'chat'; project: string }
  | { screen: 'logs'; project: string };

export type Overlay =
  | { kind: 'help' }
  | { kind: 'new-project' }
  | { kind: 'filter' }
  | { kind: 'network'; project: string }
  | { kind: 'confirm'; message: string; detail?: string; action: () => void };

export interface UiState {
  view: View;
  overlay?: Overlay;
  selected?: string;
  filter: string;
  /** Which dashboard pane arrows move in. */
  pane: 'list' | 'details';
  detailsScroll: number;
  /** Per project: the message being typed, kept when the user leaves the chat. */
  drafts: Record<string, string>;
  /** Per project: when its chat was last open here (a turn that ended since reads done, or failed). */
  seen: Record<string, number>;
}

export function initialUiState(): UiState {
  return { view: { screen: 'dashboard' }, filter: '', pane: 'list', detailsScroll: 0, drafts: {}, seen: {} };
}
