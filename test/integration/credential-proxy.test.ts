/**
 * The credential proxy against the scripted fake API: the key is put in on
 * the way, a project's token works only at its own endpoint, answers stream
 * through as they come, and the usage is read from them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CredentialProxy, type ModelUsage } from '../../src/runtime/credential-proxy.js';
import { message, slow, startFakeAnthropic, text, type FakeAnthropic } from '../fixtures/fake-anthropic.js';

const REAL_KEY = 'sk-ant-api03-the-real-key-000000000000000000';
const body = JSON.stringify({ model: 'claude-sonnet-4', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }], tools: [{ name: 't', input_schema: { type: 'object' } }] });

describe('the credential proxy', () => {
  let fake: FakeAnthropic;
  let proxy: CredentialProxy;
  let refusal: string | undefined;
  const usages: Array<[string, ModelUsage]> = [];

  beforeEach(async () => {
    fake = await startFakeAnthropic();
    refusal = undefined;
    usages.length = 0;
    proxy = new CredentialProxy({
      credentials: async () => ({ upstream: fake.url, apiKey: REAL_KEY }),
      refusal: async () => refusal,
      onUsage: (project, usage) => usages.push([project, usage]),
    });
  });

  afterEach(async () => {
    await proxy.close();
    await fake.close();
  });

  const post = (url: string, key: string | undefined) =>
    fetch(`${url}/v1/messages?beta=true`, { method: 'POST', headers: { 'content-type': 'application/json', ...(key !== undefined && { 'x-api-key': key }) }, body });

  it('puts the real key in place of the token, streams the answer through as it comes, and counts the usage', async () => {
    fake.reply(slow(message(text('one two three four')), 300));
    const { url, token } = await proxy.endpoint('alpha');
    expect(token).toMatch(/^berth-[A-Za-z0-9_-]{43}$/);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const answer = await post(url, token);
    expect(answer.status).toBe(200);
    const reader = answer.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    // Unbuffered: the first events arrive while the slow stream has not ended yet.
    expect(first).toContain('message_start');
    expect(first).not.toContain('message_stop');
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
    expect(rest).toContain('"type":"message_stop"');
    expect(fake.requests.at(-1)!.headers['x-api-key']).toBe(REAL_KEY);
    expect(JSON.stringify(fake.requests)).not.toContain(token);
    expect(usages).toEqual([['alpha', { model: expect.any(String), tokensIn: expect.any(Number), tokensOut: expect.any(Number) }]]);
    expect(usages[0]![1].tokensIn).toBeGreaterThan(0);
  });

  it('refuses no token, a wrong one, another project’s, and a rotated one, without reaching the API', async () => {
    const alpha = await proxy.endpoint('alpha');
    const beta = await proxy.endpoint('beta');
    for (const key of [undefined, '', 'sk-ant-guess', beta.token]) {
      const answer = await post(alpha.url, key);
      expect(answer.status, String(key)).toBe(401);
      expect(await answer.json()).toEqual({ type: 'error', error: { type: 'authentication_error', message: "berth: this endpoint takes only project alpha's token" } });
    }
    await proxy.rotate('alpha');
    expect((await post(alpha.url, alpha.token)).status).toBe(401);
    expect((await proxy.endpoint('alpha')).token).not.toBe(alpha.token);
    expect(fake.mainRequests()).toEqual([]);
  });

  it('rotates the token when the project has a new container, and refuses the old one', async () => {
    const first = await proxy.endpoint('alpha', 'container-1');
    expect((await proxy.endpoint('alpha', 'container-1')).token).toBe(first.token);
    const second = await proxy.endpoint('alpha', 'container-2');
    expect(second.token).not.toBe(first.token);
    expect(second.url).toBe(first.url);
    expect((await post(first.url, first.token)).status).toBe(401);
  });

  it('refuses with its reason when the project may not spend more', async () => {
    refusal = 'berth: project alpha has spent $1.00 on the model today, its cap is $1.00 (limits.dailyUsd)';
    const { url, token } = await proxy.endpoint('alpha');
    const answer = await post(url, token);
    expect(answer.status).toBe(403);
    expect(await answer.json()).toEqual({ type: 'error', error: { type: 'permission_error', message: refusal } });
    expect(fake.mainRequests()).toEqual([]);
  });
});
