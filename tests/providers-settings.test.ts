import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, buildTestApp, createUser, TEST_YOU_KEY, type TestUser } from './helpers/app.js';
import { sendJson, startSse, writeSse, type RecordedRequest } from './helpers/fake-upstream.js';
import { deferred, openEventStream } from './helpers/sse-client.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';

const temp = useTempDir();
const upstream = useFakeUpstream();
beforeEach(() => upstream.reset());

interface Message {
  role: string;
  content: string;
}
const messagesOf = (request: RecordedRequest | undefined) => (request?.body as { messages: Message[] }).messages;

async function createChat(app: App, user: TestUser, payload: object) {
  const response = await app.inject({
    method: 'POST',
    url: `/v1/users/${user.id}/chats`,
    headers: user.headers,
    payload,
  });
  return response;
}

describe('the OpenAI-compatible provider', () => {
  let app: App;
  let ada: TestUser;
  let baseUrl: string;

  // A function: the upstream's port is known once it listens, in the file's beforeAll.
  useTestApp(
    () => ({
      databaseUrl: join(temp.dir, 'openai.db'),
      env: {
        CHATBOT_PROVIDER: 'openai',
        OPENAI_BASE_URL: `http://127.0.0.1:${upstream.port}/v1/`,
        OPENAI_API_KEY: 'test-openai-key',
        OPENAI_MODEL: 'default-model',
        UPSTREAM_TIMEOUT_MS: '1500',
      },
      listen: true,
    }),
    async (suite) => {
      ({ app, baseUrl } = suite);
      ada = await createUser(app);
    },
  );

  const completion = (content: string, model = 'served-model') => ({
    id: 'chatcmpl-1',
    model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  });

  it('posts to {base}/chat/completions with the key, the model and the system prompt first', async () => {
    upstream.setHandler((_request, res) => sendJson(res, 200, completion('Bonjour'), { 'x-request-id': 'req-42' }));
    const chat = (
      await createChat(app, ada, {
        title: 'French',
        settings: { system_prompt: 'Answer in French.', model: 'chat-model-x' },
      })
    ).json<{ id: string; settings: unknown }>();
    expect(chat.settings).toEqual({
      system_prompt: 'Answer in French.',
      model: 'chat-model-x',
      history_max_turns: null,
    });

    const first = await ask(app, ada, { chat_id: chat.id, question: 'Hello' });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({
      qa_pair: {
        answer: 'Bonjour',
        provider: 'openai',
        model: 'served-model',
        upstream_request_id: 'req-42',
        history_turns: 0,
      },
    });
    const request = upstream.requests[0];
    expect(request?.url).toBe('/v1/chat/completions');
    expect(request?.headers.authorization).toBe('Bearer test-openai-key');
    expect(request?.body).toEqual({
      model: 'chat-model-x',
      messages: [
        { role: 'system', content: 'Answer in French.' },
        { role: 'user', content: 'Hello' },
      ],
    });

    await ask(app, ada, { chat_id: chat.id, question: 'Again' });
    expect(messagesOf(upstream.requests[1])).toEqual([
      { role: 'system', content: 'Answer in French.' },
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Bonjour' },
      { role: 'user', content: 'Again' },
    ]);
  });

  it('uses the configured default model when the chat names none', async () => {
    upstream.setHandler((_request, res) => sendJson(res, 200, completion('ok')));
    await ask(app, ada, { question: 'Default model?' });
    expect((upstream.requests[0]?.body as { model: string }).model).toBe('default-model');
  });

  it('streams data: chunks until [DONE], relaying each delta', async () => {
    const release = deferred();
    upstream.setHandler(async (_request, res) => {
      startSse(res);
      writeSse(res, { id: 'c1', model: 'm-stream', choices: [{ delta: { role: 'assistant' } }] });
      writeSse(res, { id: 'c1', choices: [{ delta: { content: 'Str' } }] });
      await release.promise;
      writeSse(res, { id: 'c1', choices: [{ delta: { content: 'eamed' } }] });
      writeSse(res, { id: 'c1', choices: [{ delta: {}, finish_reason: 'stop' }] });
      writeSse(res, '[DONE]');
      res.end();
    });
    const stream = await openEventStream(`${baseUrl}/search`, {
      headers: ada.headers,
      body: { user_id: ada.id, question: 'Stream it', stream: true },
    });
    expect((await stream.next())?.event).toBe('start');
    expect(await stream.next()).toEqual({ event: 'token', data: { text: 'Str' } });
    release.resolve();
    const rest = await stream.rest();
    expect(rest.map((event) => event.event)).toEqual(['token', 'done']);
    expect(rest[1]?.data).toMatchObject({
      qa_pair: { answer: 'Streamed', model: 'm-stream', upstream_request_id: 'c1' },
    });
    expect(upstream.requests[0]?.body).toMatchObject({ stream: true });
  });

  it('turns a malformed stream chunk into an error event and a failed pair', async () => {
    upstream.setHandler((_request, res) => {
      startSse(res);
      writeSse(res, { choices: [{ delta: { content: 'Half' } }] });
      res.write('data: {not json\n\n');
      res.end();
    });
    const stream = await openEventStream(`${baseUrl}/search`, {
      headers: ada.headers,
      body: { user_id: ada.id, question: 'Broken stream', stream: true },
    });
    const events = [await stream.next(), ...(await stream.rest())];
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { code: 'UPSTREAM_BAD_RESPONSE' } });
    const chatId = (events[0]?.data as { chat_id: string }).chat_id;
    const chat = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/chats/${chatId}`, headers: ada.headers });
    expect(chat.json()).toMatchObject({ qa_pairs: [{ status: 'failed', answer: 'Half' }] });
  });

  it('maps upstream failures like the You.com provider', async () => {
    upstream.enqueue((_request, res) => sendJson(res, 401, { error: { message: 'bad key' } }));
    const unauthorized = await ask(app, ada, { question: 'x' });
    expect(unauthorized.statusCode).toBe(502);
    expect(unauthorized.json()).toMatchObject({ code: 'UPSTREAM_AUTH' });
    upstream.enqueue((_request, res) => sendJson(res, 200, { choices: [] }));
    const empty = await ask(app, ada, { question: 'y' });
    expect(empty.json()).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE' });
  });

  it('sends no Authorization header when no key is configured (local servers)', async () => {
    const local = await buildTestApp({
      databaseUrl: ':memory:',
      env: {
        CHATBOT_PROVIDER: 'openai',
        OPENAI_BASE_URL: `http://127.0.0.1:${upstream.port}/v1`,
        OPENAI_MODEL: 'llama3',
      },
    });
    try {
      upstream.setHandler((_request, res) => sendJson(res, 200, completion('local answer')));
      const user = await createUser(local);
      const response = await ask(local, user, { question: 'Local?' });
      expect(response.statusCode).toBe(200);
      expect(upstream.requests[0]?.headers.authorization).toBeUndefined();
    } finally {
      await local.close();
    }
  });

  it('previews the exact body the next ask sends, byte for byte', async () => {
    upstream.setHandler((_request, res) => sendJson(res, 200, completion('A')));
    const chat = (await createChat(app, ada, { settings: { system_prompt: 'Be brief.' } })).json<{ id: string }>();
    await ask(app, ada, { chat_id: chat.id, question: 'First' });
    const context = await app.inject({
      method: 'GET',
      url: `/v1/users/${ada.id}/chats/${chat.id}/context`,
      headers: ada.headers,
    });
    expect(context.statusCode).toBe(200);
    const preview = context.json<{ provider: string; history_turns: number; body: { messages: Message[] } }>();
    expect(preview).toMatchObject({ provider: 'openai', history_turns: 1 });
    expect(JSON.stringify(preview.body)).not.toContain('test-openai-key');

    await ask(app, ada, { chat_id: chat.id, question: 'Second' });
    const expected = JSON.stringify({
      ...preview.body,
      messages: [...preview.body.messages, { role: 'user', content: 'Second' }],
    });
    expect(upstream.requests.at(-1)?.rawBody).toBe(expected);
  });
});

describe('per-chat settings with You.com', () => {
  let app: App;
  let ada: TestUser;

  useTestApp({ databaseUrl: join(temp.dir, 'settings.db'), upstream }, async (suite) => {
    app = suite.app;
    ada = await createUser(app);
  });

  it('sends the system prompt as instructions and caps history at the chat setting', async () => {
    const chat = (
      await createChat(app, ada, { settings: { system_prompt: 'You are terse.', history_max_turns: 1 } })
    ).json<{
      id: string;
    }>();
    for (const question of ['q1', 'q2', 'q3']) await ask(app, ada, { chat_id: chat.id, question });
    expect(upstream.requests.at(-1)?.body).toEqual({
      messages: [
        { role: 'user', content: 'q2' },
        { role: 'assistant', content: 'answer #3' },
        { role: 'user', content: 'q3' },
      ],
      instructions: 'You are terse.',
    });
  });

  it('changes settings with PATCH: a value sets, null clears, absent keeps', async () => {
    const chat = (await createChat(app, ada, { settings: { system_prompt: 'One', history_max_turns: 5 } })).json<{
      id: string;
    }>();
    const url = `/v1/users/${ada.id}/chats/${chat.id}`;
    const patched = await app.inject({
      method: 'PATCH',
      url,
      headers: ada.headers,
      payload: { settings: { system_prompt: null, model: 'm2' } },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({ settings: { system_prompt: null, model: 'm2', history_max_turns: 5 } });
    await ask(app, ada, { chat_id: chat.id, question: 'no instructions now' });
    expect(upstream.requests.at(-1)?.body).toEqual({ messages: [{ role: 'user', content: 'no instructions now' }] });
    const fetched = await app.inject({ method: 'GET', url, headers: ada.headers });
    expect(fetched.json()).toMatchObject({ settings: { system_prompt: null, model: 'm2', history_max_turns: 5 } });
  });

  it.each([
    ['an empty system prompt', { settings: { system_prompt: '' } }],
    ['a blank system prompt', { settings: { system_prompt: '   ' } }],
    ['a system prompt over 8000 characters', { settings: { system_prompt: 'p'.repeat(8001) } }],
    ['a history cap over 1000', { settings: { history_max_turns: 1001 } }],
    ['a negative history cap', { settings: { history_max_turns: -1 } }],
    ['a fractional history cap', { settings: { history_max_turns: 1.5 } }],
    ['a model name over 200 characters', { settings: { model: 'm'.repeat(201) } }],
    ['an unknown setting', { settings: { temperature: 2 } }],
    ['settings that are not an object', { settings: 'fast' }],
  ])('rejects %s with 400 and changes nothing', async (_name, payload) => {
    const chat = (await createChat(app, ada, { title: 'Keep me' })).json<{ id: string; settings: unknown }>();
    const created = await createChat(app, ada, payload);
    expect(created.statusCode).toBe(400);
    const url = `/v1/users/${ada.id}/chats/${chat.id}`;
    const patched = await app.inject({ method: 'PATCH', url, headers: ada.headers, payload });
    expect(patched.statusCode).toBe(400);
    expect(patched.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect((await app.inject({ method: 'GET', url, headers: ada.headers })).json()).toMatchObject({
      settings: chat.settings,
    });
  });

  it('rejects a PATCH with nothing to change', async () => {
    const chat = (await createChat(app, ada, {})).json<{ id: string }>();
    const response = await app.inject({
      method: 'PATCH',
      url: `/v1/users/${ada.id}/chats/${chat.id}`,
      headers: ada.headers,
      payload: {},
    });
    expect(response.statusCode).toBe(400);
  });

  it('previews the context of the active branch, after a given pair, and of a new first question', async () => {
    const chat = (await createChat(app, ada, { settings: { system_prompt: 'Ctx' } })).json<{ id: string }>();
    const first = (await ask(app, ada, { chat_id: chat.id, question: 'c1' })).json<{ qa_pair: { id: string } }>();
    await ask(app, ada, { chat_id: chat.id, question: 'c2' });
    const url = `/v1/users/${ada.id}/chats/${chat.id}/context`;

    const active = (await app.inject({ method: 'GET', url, headers: ada.headers })).json<{
      body: { messages: Message[] };
    }>();
    expect(active.body.messages.map((message) => message.content)).toEqual(['c1', 'answer #1', 'c2', 'answer #3']);
    await ask(app, ada, { chat_id: chat.id, question: 'c3' });
    expect(upstream.requests.at(-1)?.rawBody).toBe(
      JSON.stringify({ ...active.body, messages: [...active.body.messages, { role: 'user', content: 'c3' }] }),
    );

    const afterFirst = (
      await app.inject({ method: 'GET', url: `${url}?parent_id=${first.qa_pair.id}`, headers: ada.headers })
    ).json<{
      body: { messages: Message[] };
    }>();
    await ask(app, ada, { chat_id: chat.id, parent_id: first.qa_pair.id, question: 'c2b' });
    expect(upstream.requests.at(-1)?.rawBody).toBe(
      JSON.stringify({ ...afterFirst.body, messages: [...afterFirst.body.messages, { role: 'user', content: 'c2b' }] }),
    );

    const fresh = await app.inject({ method: 'GET', url: `${url}?parent_id=null`, headers: ada.headers });
    expect(fresh.json()).toEqual({ provider: 'you', history_turns: 0, body: { messages: [], instructions: 'Ctx' } });
    expect(fresh.body).not.toContain(TEST_YOU_KEY);

    const foreign = await app.inject({
      method: 'GET',
      url: `${url}?parent_id=00000000-0000-4000-8000-000000000000`,
      headers: ada.headers,
    });
    expect(foreign.statusCode).toBe(404);
    const bad = await app.inject({ method: 'GET', url: `${url}?parent_id=nope`, headers: ada.headers });
    expect(bad.statusCode).toBe(400);
  });
});

describe('shutdown while answers stream', () => {
  async function streamingApp(file: string, graceMs: string) {
    const app = await buildTestApp({
      databaseUrl: join(temp.dir, file),
      upstreamUrl: upstream.url,
      env: { SHUTDOWN_GRACE_MS: graceMs, UPSTREAM_TIMEOUT_MS: '60000' },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const user = await createUser(app);
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/search`;
    return { app, user, url };
  }

  it('waits for a running stream that finishes within the grace period', async () => {
    const release = deferred();
    upstream.setHandler(async (_request, res) => {
      startSse(res);
      writeSse(res, 'Almost ', 'token');
      await release.promise;
      writeSse(res, 'done.', 'token');
      writeSse(res, '', 'done');
      res.end();
    });
    const { app, user, url } = await streamingApp('grace-ok.db', '10000');
    const stream = await openEventStream(url, {
      headers: user.headers,
      body: { user_id: user.id, question: 'Finish me', stream: true },
    });
    const start = (await stream.next())?.data as { chat_id: string };
    await stream.next();
    const closing = app.close();
    release.resolve();
    await closing;
    const events = await stream.rest();
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { qa_pair: { answer: 'Almost done.' } } });

    const reopened = await buildTestApp({ databaseUrl: join(temp.dir, 'grace-ok.db') });
    try {
      const chat = await reopened.inject({
        method: 'GET',
        url: `/v1/users/${user.id}/chats/${start.chat_id}`,
        headers: user.headers,
      });
      expect(chat.json()).toMatchObject({ qa_pairs: [{ status: 'answered', answer: 'Almost done.' }] });
    } finally {
      await reopened.close();
    }
  });

  it('stores what it has as failed INTERRUPTED once the grace period is over', async () => {
    upstream.setHandler((_request, res) => {
      startSse(res);
      writeSse(res, 'Only this much', 'token');
      // Never finishes.
    });
    const { app, user, url } = await streamingApp('grace-over.db', '100');
    const stream = await openEventStream(url, {
      headers: user.headers,
      body: { user_id: user.id, question: 'Never finishes', stream: true },
    });
    const start = (await stream.next())?.data as { chat_id: string; qa_pair_id: string };
    await stream.next();
    await app.close();
    const events = await stream.rest();
    expect(events.at(-1)).toMatchObject({
      event: 'error',
      data: { code: 'INTERRUPTED', qa_pair_id: start.qa_pair_id },
    });

    const reopened = await buildTestApp({ databaseUrl: join(temp.dir, 'grace-over.db') });
    try {
      const chat = await reopened.inject({
        method: 'GET',
        url: `/v1/users/${user.id}/chats/${start.chat_id}`,
        headers: user.headers,
      });
      expect(chat.json()).toMatchObject({
        qa_pairs: [
          { id: start.qa_pair_id, status: 'failed', answer: 'Only this much', error: { code: 'INTERRUPTED' } },
        ],
      });
    } finally {
      await reopened.close();
    }
  });
});
