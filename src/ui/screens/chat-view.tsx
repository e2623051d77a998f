import { Box, useInput } from 'ink';
import { ChatScreen } from '../components/chat/chat-screen.js';
import { hintsText } from '../components/key-hints.js';
import { StatusLine } from '../components/status-line.js';
import { Header } from '../components/dashboard/header.js';
import { commandFor } from '../keymap.js';
import type { ScreenProps } from './screen-props.js';
import { useState } from 'react';

const HINTS_IDLE = [['cancel', 'back'], ['switchPane', 'dashboard'], ['newConversation', 'new conversation'], ['pageUp', 'scroll'], ['interrupt', 'quit']] as const;
const HINTS_RUNNING = [['cancel', 'cancel the turn'], ['switchPane', 'dashboard (the turn goes on)'], ['pageUp', 'scroll']] as const;

/** A project's conversation: its transcript, the live turn, and the input line. */
export function ChatView(props: ScreenProps & { project: string }) {
  const { snapshot, ui, update, keymap, actions, columns, rows, project } = props;
  const [scrollOffset, setScrollOffset] = useState(0);
  const view = snapshot.projects.find((candidate) => candidate.project.name === project);
  const running = view?.turn?.running === true;
  const chatHeight = Math.max(3, rows - 2);
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
  const draft = ui.drafts[project] ?? '';
  return (
    <Box flexDirection="column" width={columns} height={rows}>
      <Header width={columns} version={props.version} engine={snapshot.engine} {...(snapshot.host && { host: snapshot.host })} />
      <ChatScreen
        projectName={project}
        {...(snapshot.conversations.get(project) && { conversation: snapshot.conversations.get(project) })}
        {...(view?.turn && { turn: view.turn })}
        width={columns}
        height={chatHeight}
        scrollOffset={scrollOffset}
        input={draft}
        onInputChange={(text) => update({ drafts: { ...ui.drafts, [project]: text } })}
        onSubmit={(text) => {
          if (text.trim() === '') return;
          if (running) {
            actions.notify('a turn is running: wait for it, or Esc cancels it');
            return;
          }
          setScrollOffset(0);
          update({ drafts: { ...ui.drafts, [project]: '' } });
          actions.send(project, text);
        }}
        inputActive
        hints={hintsText(keymap, running ? HINTS_RUNNING : HINTS_IDLE)}
      />
      <StatusLine status={snapshot.status} width={columns} />
    </Box>
  );
}
