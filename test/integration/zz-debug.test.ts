import { it } from 'vitest';
import { execa } from 'execa';
import { message, text, toolUse } from '../fixtures/fake-anthropic.js';
import { BERTH_BIN } from '../helpers/berth-cli.js';
import { useWorkspaceChat } from '../helpers/workspace-chat.js';

const chat = useWorkspaceChat({ allowBash: true, prefix: 'berth-dbg-' });
it('debug', async () => {
  chat.fake.reply(message(toolUse('Bash', { command: 'sleep 1 && echo hi > p.txt', description: 'x' })), message(text('Done.')));
  const r = await execa('node', [BERTH_BIN, 'chat', 'web', 'hi'], { reject: false, timeout: 40000, env: { BERTH_HOME: chat.home, NO_COLOR: '1', ...chat.env }, stdin: 'ignore' });
  console.log('EXIT', r.exitCode, 'OUT', r.stdout, 'ERR', r.stderr);
}, 60000);
