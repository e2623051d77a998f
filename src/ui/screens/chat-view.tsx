import { waitingProjects } from '../../services/control-center-state.js';
import { Box, useInput } from 'ink';
import { useState } from 'react';
import { answerFromChoice, type PendingRequest } from '../../domain/approvals.js';
import type { Command, Keymap } from '../../domain/keys.js';
import { visibleText } from '../../domain/visible-text.js';
import { ChatScreen } from '../components/chat/chat-screen.js';
import { hintsText } from '../components/key-hints.js';
import { StatusLine } from '../components/status-line.js';
import { Header } from '../components/dashboard/header.js';
import { commandFor, firstKeyLabel } from '../keymap.js';
import type { ScreenProps } from './screen-props.js';

type Hints = ReadonlyArray<readonly [Command, string]>;
const HINTS_IDLE: Hints = [['cancel', 'back'], ['switchPane', 'dashboard'], ['newConversation', 'new conversation'], ['pageUp', 'scroll'], ['interrupt', 'quit']];
const HINTS_RUNNING: Hints = [['cancel', 'cancel the turn'], ['switchPane', 'dashboard (the turn goes on)'], ['pageUp', 'scroll']];

/** The take-back key second, where 80 columns still show it. */
function chatHints(running: boolean, queued: boolean): Hints {
  if (!queued) return running ? HINTS_RUNNING : HINTS_IDLE;
  return [['cancel', running ? 'cancel the turn' : 'back'], ['withdrawQueued', 'take back queued'], ['switchPane', 'dashboard'], ['pageUp', 'scroll']];
}

const HINTS_REQUEST: Hints = [['allowOnce', 'allow once'], ['allowAlways', 'always'], ['deny', 'deny'], ['cancel', 'cancel the turn'], ['switchPane', 'dashboard']];

/** Keys that come this soon after a request appears were typed for the message: they answer nothing. */
const ANSWER_GRACE_MS = 500;

/** How far the user got in answering the request shown: denying (typing the message), or the questions answered so far. */
interface Answering {
  id: string;
  /** When it was first shown here. */
  shownAt: number;
  denying: boolean;
  answers: Record<string, string>;
  typed: string;
}

/** What the input line says while the agent waits: the keys that answer a tool call, the message of a denial, the question. */
function promptText(request: PendingRequest, answering: Answering, keymap: Keymap): string {
  const question = request.questions?.[Object.keys(answering.answers).length];
  if (question) {
    const count = request.questions!.length > 1 ? ` (${Object.keys(answering.answers).length + 1} of ${request.questions!.length})` : '';
    return `${visibleText(question.question, 'line')}${count}: an option's number${question.multiSelect ? ' (or several: 1,3)' : ''}, or your own words; Enter answers`;
  }
  if (answering.denying) return 'a message to the agent, Enter denies (Enter alone: no message; Esc: back)';
  const always = request.rule === undefined ? '' : ` · ${firstKeyLabel(keymap, 'allowAlways')} always (${visibleText(request.rule, 'line')})`;
  return `${visibleText(request.tool, 'line')} waits for you: ${firstKeyLabel(keymap, 'allowOnce')} allow once${always} · ${firstKeyLabel(keymap, 'deny')} deny`;
}

/** A project's conversation: its transcript, the live turn, the queued messages and the input line. */
export function ChatView(props: ScreenProps & { project: string }) {
  const { snapshot, ui, update, keymap, actions, columns, rows, project } = props;
  const [scrollOffset, setScrollOffset] = useState(0);
  const view = snapshot.projects.find((candidate) => candidate.project.name === project);
  const conversation = snapshot.conversations.get(project);
  const queued = conversation?.queued ?? [];
  const running = view?.turn?.running === true;
  const chatHeight = Math.max(3, rows - 2);
  const draft = ui.drafts[project] ?? '';
  const setDraft = (text: string) => update({ drafts: { ...ui.drafts, [project]: text } });
  // The oldest request of the project's agent that waits; answered here or anywhere, it goes from the snapshot.
  const request = snapshot.requests.find((candidate) => candidate.project === project);
  const [answeringState, setAnswering] = useState<Answering | undefined>();
  const [firstShown, setFirstShown] = useState<{ id: string; at: number } | undefined>();
  if (request && firstShown?.id !== request.id) setFirstShown({ id: request.id, at: Date.now() });
  const shownAt = request && firstShown?.id === request.id ? firstShown.at : Date.now();
  const answering = request && (answeringState?.id === request.id ? answeringState : { id: request.id, shownAt, denying: false, answers: {}, typed: '' });
  const typedAnswer = request !== undefined && answering !== undefined && ((request.questions?.length ?? 0) > 0 || answering.denying);
  const submitAnswer = (typed: string) => {
    if (!request || !answering) return;
    const question = request.questions?.[Object.keys(answering.answers).length];
    if (question) {
      if (typed.trim() === '') return;
      const answers = { ...answering.answers, [question.question]: answerFromChoice(question, typed) };
      if (Object.keys(answers).length < request.questions!.length) return setAnswering({ ...answering, answers, typed: '' });
      setAnswering(undefined);
      return actions.answer(project, request.id, { allow: true, answers });
    }
    setAnswering(undefined);
    actions.answer(project, request.id, { allow: false, ...(typed.trim() !== '' && { message: typed.trim() }) });
  };
  useInput((input, key) => {
    if (request && answering) {
      if (answering.denying && key.escape) return setAnswering({ ...answering, denying: false, typed: '' });
      const answer = typedAnswer ? undefined : commandFor(keymap, 'request', input, key);
      if (answer !== undefined && Date.now() - answering.shownAt < ANSWER_GRACE_MS) return;
      if (answer === 'allowOnce') return actions.answer(project, request.id, { allow: true });
      // No rule to keep (a command of several lines, say): it may be allowed once only.
      if (answer === 'allowAlways' && request.rule !== undefined) return actions.answer(project, request.id, { allow: true, always: true });
      if (answer === 'deny') return setAnswering({ ...answering, denying: true });
    }
    const command = commandFor(keymap, 'chat', input, key, true);
    switch (command) {
      case 'cancel':
        if (running) {
          if (!view?.turn?.cancelling) actions.cancel(project);
        } else actions.backToDashboard();
        return;
      case 'switchPane':
        return actions.backToDashboard();
      case 'withdrawQueued': {
        const last = queued.at(-1);
        if (!actions.withdrawLast(project)) return actions.notify('no message is queued to take back');
        // Back in the input, ahead of what is typed there: taken back one by one, they come back in their order.
        if (last) setDraft(draft === '' ? last.text : `${last.text}\n${draft}`);
        return;
      }
      case 'newConversation':
        if (running) actions.notify('a turn is running: a new conversation starts once it has ended (Esc cancels it)');
        else actions.newConversation(project);
        return;
      case 'pageUp':
        return setScrollOffset((offset) => offset + Math.max(1, chatHeight - 4));
      case 'pageDown':
        return setScrollOffset((offset) => Math.max(0, offset - Math.max(1, chatHeight - 4)));
      case 'interrupt':
        return actions.quit();
      case 'attach':
        if (running) return actions.notify("a turn is running: the agent's own TUI opens once it has ended (Esc cancels it)");
        return actions.attach(project);
      default:
        return;
    }
  });
  return (
    <Box flexDirection="column" width={columns} height={rows}>
      <Header width={columns} version={props.version} engine={snapshot.engine} {...(snapshot.host && { host: snapshot.host })} waiting={waitingProjects(snapshot).size} />
      <ChatScreen
        projectName={project}
        {...(conversation && { conversation })}
        {...(view?.turn && { turn: view.turn })}
        width={columns}
        height={chatHeight}
        scrollOffset={scrollOffset}
        input={typedAnswer ? answering!.typed : draft}
        onInputChange={typedAnswer ? (typed) => setAnswering({ ...answering!, typed }) : setDraft}
        onSubmit={(text) => {
          if (typedAnswer) return submitAnswer(text);
          if (text.trim() === '') return;
          // While a turn runs the message is queued behind it.
          setScrollOffset(0);
          setDraft('');
          actions.send(project, text);
        }}
        inputActive={request === undefined || typedAnswer}
        {...(request && answering && { prompt: { text: promptText(request, answering, keymap), typed: typedAnswer } })}
        hints={hintsText(keymap, request && !typedAnswer ? HINTS_REQUEST : chatHints(running, queued.length > 0))}
      />
      <StatusLine status={snapshot.status} width={columns} />
    </Box>
  );
}
