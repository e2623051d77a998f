import { Box, useInput } from 'ink';
import { useState } from 'react';
import type { Command } from '../../domain/keys.js';
import { ChatScreen } from '../components/chat/chat-screen.js';
import { hintsText } from '../components/key-hints.js';
import { StatusLine } from '../components/status-line.js';
import { Header } from '../components/dashboard/header.js';
import { commandFor } from '../keymap.js';
import type { ScreenProps } from './screen-props.js';

type Hints = ReadonlyArray<readonly [Command, string]>;
const HINTS_IDLE: Hints = [['cancel', 'back'], ['switchPane', 'dashboard'], ['newConversation', 'new conversation'], ['pageUp', 'scroll'], ['interrupt', 'quit']];
const HINTS_RUNNING: Hints = [['cancel', 'cancel the turn'], ['switchPane', 'dashboard (the turn goes on)'], ['pageUp', 'scroll']];

/** The take-back key second, where 80 columns still show it. */
function chatHints(running: boolean, queued: boolean): Hints {
  if (!queued) return running ? HINTS_RUNNING : HINTS_IDLE;
  return [['cancel', running ? 'cancel the turn' : 'back'], ['withdrawQueued', 'take back queued'], ['switchPane', 'dashboard'], ['pageUp', 'scroll']];
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
  useInput((input, key) => {
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
      default:
        return;
    }
  });
  return (
    <Box flexDirection="column" width={columns} height={rows}>
      <Header width={columns} version={props.version} engine={snapshot.engine} {...(snapshot.host && { host: snapshot.host })} />
      <ChatScreen
        projectName={project}
        {...(conversation && { conversation })}
        {...(view?.turn && { turn: view.turn })}
        width={columns}
        height={chatHeight}
        scrollOffset={scrollOffset}
        input={draft}
        onInputChange={setDraft}
        onSubmit={(text) => {
          if (text.trim() === '') return;
          // While a turn runs the message is queued behind it.
          setScrollOffset(0);
          setDraft('');
          actions.send(project, text);
        }}
        inputActive
        hints={hintsText(keymap, chatHints(running, queued.length > 0))}
      />
      <StatusLine status={snapshot.status} width={columns} />
    </Box>
  );
}
