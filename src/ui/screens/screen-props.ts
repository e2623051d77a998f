import type { RequestAnswer } from '../../domain/approvals.js';
import type { Keymap } from '../../domain/keys.js';
import type { ControlCenterSnapshot } from '../../services/control-center-state.js';
import type { NetworkView } from '../../services/control-center.js';
import type { UiState } from '../ui-state.js';

/** What a screen may ask for; the app turns these into service calls and view changes. */
export interface ScreenActions {
  openChat(name: string): void;
  openLogs(name: string): void;
  backToDashboard(): void;
  startOrStop(name: string): void;
  restart(name: string): void;
  refresh(name: string): void;
  removeContainer(name: string): void;
  toggleMode(name: string): void;
  shell(name: string): void;
  /** Hands the terminal to the agent's own TUI on the project's conversation. */
  attach(name: string): void;
  buildImage(): void;
  send(name: string, message: string): void;
  cancel(name: string): boolean;
  /** Answers a request of the project's agent (a tool call to allow or deny, a question). */
  answer(name: string, id: string, answer: RequestAnswer): void;
  /** Takes back the last message queued in the project before it is sent; false when none waits. */
  withdrawLast(name: string): boolean;
  /** The project's next message starts a new conversation; the old transcript stays. */
  newConversation(name: string): void;
  notify(text: string): void;
  /** The project's allowlist and refused hosts, for the network overlay. */
  network(name: string): Promise<NetworkView>;
  /** Resolves with the one-line reason when the edit was refused. */
  editNetwork(name: string, verb: 'allow' | 'deny', host: string): Promise<string | undefined>;
  /** Quits, asking first while a turn runs. */
  quit(): void;
}

export interface ScreenProps {
  snapshot: ControlCenterSnapshot;
  ui: UiState;
  update(change: Partial<UiState>): void;
  keymap: Keymap;
  actions: ScreenActions;
  columns: number;
  rows: number;
  version: string;
  /** The clock the screen shows times against; refreshed with each snapshot. */
  now: number;
}
