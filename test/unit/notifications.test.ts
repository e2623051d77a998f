import { describe, expect, it } from 'vitest';
import type { TranscriptEntry } from '../../src/domain/chat.js';
import { notificationFor, parseCommandArgv, parseNotifyOn, terminalNotification } from '../../src/domain/notifications.js';
import { parseSettingText } from '../../src/domain/settings.js';

const at = { time: '2026-12-01T00:00:00.000Z', turn: 1 };

describe('notifications', () => {
  it('come when a request waits for a person, and when a turn ends (not when the user cancelled it)', () => {
    const request = (waiting: boolean): TranscriptEntry => ({ type: 'permission_request', id: 'r', tool: 'Bash', input: {}, detail: '$ x', waiting, ...at });
    expect(notificationFor('web', request(true))).toEqual({ project: 'web', event: 'waiting', message: 'web waits for you: Bash' });
    expect(notificationFor('web', request(false))).toBeUndefined();
    const end = (outcome: 'success' | 'error' | 'cancelled' | 'timeout'): TranscriptEntry => ({ type: 'turn_end', outcome, sessionId: null, ...at });
    expect(notificationFor('web', end('success'))).toEqual({ project: 'web', event: 'done', message: 'web finished its turn' });
    expect(notificationFor('web', end('error'))).toMatchObject({ event: 'failed', message: "web's turn failed" });
    expect(notificationFor('web', end('timeout'))).toMatchObject({ event: 'failed', message: "web's turn timed out" });
    expect(notificationFor('web', end('cancelled'))).toBeUndefined();
    expect(notificationFor('web', { type: 'text', text: 'hi', ...at })).toBeUndefined();
  });

  it('notify.on names events; notify.command is an argv, never a shell string', () => {
    expect(parseNotifyOn('waiting, failed,waiting')).toEqual(['waiting', 'failed']);
    expect(parseNotifyOn('')).toEqual([]);
    expect(() => parseNotifyOn('waiting,finished')).toThrow('unknown event "finished"');
    expect(parseCommandArgv('["ntfy","publish","my topic; rm -rf ~"]')).toEqual(['ntfy', 'publish', 'my topic; rm -rf ~']);
    expect(parseCommandArgv('')).toEqual([]);
    for (const bad of ['ntfy publish', '[]', '[""]', '["a",1]', '{"a":1}']) expect(() => parseCommandArgv(bad)).toThrow(/^expected a JSON array of strings/);
    expect(() => parseSettingText('notify.command', 'curl -d hi ntfy.sh/x')).toThrow(/expected a JSON array of strings/);
  });

  it('the terminal gets the bell, OSC 9 and OSC 777; inside tmux, wrapped in its passthrough; nothing in the message can end them', () => {
    expect(terminalNotification('web waits for you: Bash', false)).toBe('\u0007\u001B]9;web waits for you: Bash\u0007\u001B]777;notify;berth;web waits for you: Bash\u0007');
    expect(terminalNotification('a\u0007b;c\u001B]d', false)).toBe('\u0007\u001B]9;a b c ]d\u0007\u001B]777;notify;berth;a b c ]d\u0007');
    expect(terminalNotification('done', true)).toBe('\u0007\u001BPtmux;\u001B\u001B]9;done\u0007\u001B\u001B]777;notify;berth;done\u0007\u001B\\');
  });
});
