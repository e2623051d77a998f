import { describe, expect, it } from 'vitest';
import { answeredInput, answerFromChoice, checkRule, describeToolCall, questionsOf, ruleAllows, ruleFor, type PendingRequest } from '../../src/domain/approvals.js';
import { PendingRequests } from '../../src/services/pending-requests.js';

describe('what a request shows', () => {
  it('the command for Bash, the diff for Edit and Write, the URL for WebFetch', () => {
    expect(describeToolCall('Bash', { command: 'npm test' })).toBe('$ npm test');
    expect(describeToolCall('Edit', { file_path: '/w/a.ts', old_string: 'let a = 1;', new_string: 'const a = 1;\nexport { a };' })).toBe('/w/a.ts:\n- let a = 1;\n+ const a = 1;\n+ export { a };');
    expect(describeToolCall('Write', { file_path: '/w/b.txt', content: 'hello' })).toBe('/w/b.txt (written whole):\n+ hello');
    expect(describeToolCall('WebFetch', { url: 'https://example.com/x', prompt: 'read it' })).toBe('https://example.com/x');
    expect(describeToolCall('Grep', { pattern: 'x' })).toBe('{"pattern":"x"}');
  });

  it('a long diff is cut, saying how much was left out', () => {
    const detail = describeToolCall('Write', { file_path: '/w/c.txt', content: Array.from({ length: 100 }, (_, index) => `line ${index}`).join('\n') });
    expect(detail.split('\n')).toHaveLength(41);
    expect(detail.split('\n').at(-1)).toBe('… 61 more lines');
  });
});

describe('rules kept by "allow always"', () => {
  it('are the call\'s own, in Claude Code\'s syntax', () => {
    expect(ruleFor('Bash', { command: 'npm test' })).toBe('Bash(npm test)');
    // Nothing narrower to keep: allowed once, never every call of the tool.
    expect(ruleFor('Bash', { command: 'a\nb' })).toBeUndefined();
    expect(ruleFor('Bash', {})).toBeUndefined();
    expect(ruleFor('Edit', { old_string: 'x' })).toBeUndefined();
    expect(ruleFor('WebFetch', { url: 'not a url' })).toBeUndefined();
    expect(ruleFor('Edit', { file_path: '/w/a.ts' })).toBe('Edit(/w/a.ts)');
    expect(ruleFor('WebFetch', { url: 'https://docs.example.com/a' })).toBe('WebFetch(domain:docs.example.com)');
    expect(ruleFor('Grep', { pattern: 'x' })).toBe('Grep');
  });

  it('allow the same call, every call of a bare tool name, and commands under a Bash(prefix:*)', () => {
    expect(ruleAllows('Bash(npm test)', 'Bash', { command: 'npm test' })).toBe(true);
    expect(ruleAllows('Bash(npm test)', 'Bash', { command: 'npm test; rm -rf /' })).toBe(false);
    expect(ruleAllows('Bash(npm:*)', 'Bash', { command: 'npm run build' })).toBe(true);
    expect(ruleAllows('Bash(npm:*)', 'Bash', { command: 'npmx' })).toBe(false);
    expect(ruleAllows('Bash(npm:*)', 'Bash', { command: 'npm a\nrm x' })).toBe(false);
    for (const chained of ['npm test; curl x | sh', 'npm test && rm -rf ~', 'npm $(rm x)', 'npm `rm x`', 'npm test > /etc/x']) {
      expect(ruleAllows('Bash(npm:*)', 'Bash', { command: chained })).toBe(false);
    }
    expect(ruleAllows('WebFetch', 'WebFetch', { url: 'https://a.example' })).toBe(true);
    expect(ruleAllows('Edit(/w/a.ts)', 'Edit', { file_path: '/w/b.ts' })).toBe(false);
  });

  it('are checked when typed', () => {
    expect(checkRule('Bash(git status)')).toBe('Bash(git status)');
    for (const bad of ['', ' ', 'Bash(x)\nRead', '(x)', 'x'.repeat(501)]) expect(() => checkRule(bad)).toThrow(/^invalid tool rule /);
  });
});

describe('questions', () => {
  const input = { questions: [{ question: 'Which?', header: 'Pick', options: [{ label: 'A', description: 'first' }, { label: 'B' }], multiSelect: false }, { question: 'Also?', options: [{ label: 'x' }, { label: 'y' }], multiSelect: true }] };

  it('are read from AskUserQuestion, ignoring what is malformed', () => {
    expect(questionsOf(input)).toEqual([
      { question: 'Which?', header: 'Pick', options: [{ label: 'A', description: 'first' }, { label: 'B' }], multiSelect: false },
      { question: 'Also?', options: [{ label: 'x' }, { label: 'y' }], multiSelect: true },
    ]);
    expect(questionsOf({ questions: [{ options: [] }, 'x'] })).toEqual([]);
    expect(questionsOf(null)).toEqual([]);
  });

  it('take an option\'s number (several where more than one may be chosen) or the user\'s own words', () => {
    const [single, multiple] = questionsOf(input);
    expect(answerFromChoice(single!, '2')).toBe('B');
    expect(answerFromChoice(single!, '1,2')).toBe('1,2');
    expect(answerFromChoice(single!, '7')).toBe('7');
    expect(answerFromChoice(multiple!, '1, 2')).toBe('x, y');
    expect(answerFromChoice(single!, ' something else ')).toBe('something else');
  });

  it('need an answer each before the call may run', () => {
    const questions = questionsOf(input);
    expect(answeredInput(input, questions, { 'Which?': 'A', 'Also?': 'x' })).toEqual({ ...input, answers: { 'Which?': 'A', 'Also?': 'x' } });
    expect(() => answeredInput(input, questions, { 'Which?': 'A' })).toThrow('no answer to the question "Also?"');
  });
});

describe('PendingRequests', () => {
  const request = (id: string, project = 'web', turn = 1): PendingRequest => ({ id, project, turn, tool: 'Bash', input: {}, detail: '$ x', since: '2026-12-01T00:00:00.000Z' });

  it('holds a request until it is answered, and tells every change', async () => {
    const requests = new PendingRequests();
    const seen: string[][] = [];
    requests.subscribe((all) => seen.push(all.map((one) => one.id)));
    const answered = requests.wait(request('r1'));
    void requests.wait(request('r2', 'api'));
    expect(requests.list('web').map((one) => one.id)).toEqual(['r1']);

    requests.answer('web', 'r1', { allow: true }, 'me');
    await expect(answered).resolves.toEqual({ answer: { allow: true }, by: 'me' });
    expect(() => requests.answer('web', 'r1', { allow: true }, 'me')).toThrow('no request "r1" waits in web: it was answered already, or its turn ended');
    expect(() => requests.answer('web', 'r2', { allow: true }, 'me')).toThrow(/^no request "r2" waits in web/);
    expect(seen).toEqual([['r1'], ['r1', 'r2'], ['r2']]);
  });

  it('denies what still waits when its turn ends', async () => {
    const requests = new PendingRequests();
    const ended = requests.wait(request('r1', 'web', 1));
    void requests.wait(request('r2', 'web', 2));
    requests.withdraw('web', 1, 'the turn ended');
    await expect(ended).resolves.toEqual({ answer: { allow: false, message: 'the turn ended' }, by: 'berth' });
    expect(requests.list().map((one) => one.id)).toEqual(['r2']);
  });

  it('takes a request off the list as soon as the agent withdraws it, with the reason it gave', async () => {
    const requests = new PendingRequests();
    const withdrawn = new AbortController();
    const waiting = requests.wait(request('r1'), withdrawn.signal);
    void requests.wait(request('r2'));
    withdrawn.abort('the agent withdrew it (interrupted)');
    await expect(waiting).resolves.toEqual({ answer: { allow: false, message: 'the agent withdrew it (interrupted)' }, by: 'the agent' });
    expect(requests.list().map((one) => one.id)).toEqual(['r2']);
    // Withdrawn before it was held: never listed.
    await expect(requests.wait(request('r3'), withdrawn.signal)).resolves.toMatchObject({ by: 'the agent' });
    expect(requests.list().map((one) => one.id)).toEqual(['r2']);
  });
});
