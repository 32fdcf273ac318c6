import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, createUser, tableCounts, TEST_YOU_KEY, type TestUser } from './helpers/app.js';
import { sendJson, type FakeUpstream } from './helpers/fake-upstream.js';
import { deferred } from './helpers/sse-client.js';
import { onPg } from './helpers/database.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';

const temp = useTempDir();
const upstream = useFakeUpstream();
let app: App;
let ada: TestUser;
let bob: TestUser;
useTestApp(
  { databaseUrl: join(temp.dir, 'ask.db'), upstream, env: { HISTORY_MAX_TURNS: '3', UPSTREAM_TIMEOUT_MS: '1000' } },
  async (suite) => {
    app = suite.app;
    ada = await createUser(app, 'Ada');
    bob = await createUser(app, 'Bob');
  },
);

beforeEach(() => upstream.reset());

interface AskBody {
  chat_id: string;
  qa_pair: {
    id: string;
    parent_id: string | null;
    question: string;
    answer: string | null;
    status: string;
    error: { code: string; message: string } | null;
    search_results: { url: string; name: string; snippet: string }[];
    provider: string;
    latency_ms: number | null;
    history_turns: number;
    answered_at: string | null;
  };
}

async function getChat(user: TestUser, chatId: string) {
  const response = await app.inject({
    method: 'GET',
    url: `/v1/users/${user.id}/chats/${chatId}`,
    headers: user.headers,
  });
  expect(response.statusCode).toBe(200);
  return response.json<{ title: string; qa_count: number; qa_pairs: AskBody['qa_pair'][] }>();
}

describe('POST /search', () => {
  it('sends the exact history, oldest first, for the first, second and third question', async () => {
    upstream.setHandler((request, res) => {
      const messages = (request.body as { messages: unknown[] }).messages;
      sendJson(res, 200, { answer: `A${(messages.length + 1) / 2}` });
    });

    const first = await ask(app, ada, { question: '  Q1  ' });
    expect(first.statusCode).toBe(200);
    const chatId = first.json<AskBody>().chat_id;
    await ask(app, ada, { chat_id: chatId, question: 'Q2' });
    await ask(app, ada, { chat_id: chatId, question: 'Q3' });

    expect(upstream.requests).toHaveLength(3);
    expect(upstream.messagesOf(0)).toEqual([{ role: 'user', content: 'Q1' }]);
    expect(upstream.messagesOf(1)).toEqual([
      { role: 'user', content: 'Q1' },
      { role: 'assistant', content: 'A1' },
      { role: 'user', content: 'Q2' },
    ]);
    expect(upstream.messagesOf(2)).toEqual([
      { role: 'user', content: 'Q1' },
      { role: 'assistant', content: 'A1' },
      { role: 'user', content: 'Q2' },
      { role: 'assistant', content: 'A2' },
      { role: 'user', content: 'Q3' },
    ]);
    // The body is exactly { messages }, nothing else.
    expect(Object.keys(upstream.requests[2]?.body as object)).toEqual(['messages']);
  });

  it('sends the API key and JSON headers, and never the caller credentials', async () => {
    await ask(app, ada, { question: 'headers?' });
    const headers = upstream.requests[0]?.headers;
    expect(upstream.requests[0]?.method).toBe('POST');
    expect(upstream.requests[0]?.url).toBe('/smart');
    expect(headers?.['x-api-key']).toBe(TEST_YOU_KEY);
    expect(headers?.['content-type']).toBe('application/json');
    expect(headers?.authorization).toBeUndefined();
  });

  it('caps history at HISTORY_MAX_TURNS, keeping the most recent pairs', async () => {
    const first = await ask(app, ada, { question: 'q1' });
    const chatId = first.json<AskBody>().chat_id;
    for (const question of ['q2', 'q3', 'q4', 'q5']) await ask(app, ada, { chat_id: chatId, question });
    const last = upstream.messagesOf(4) as { role: string; content: string }[];
    expect(last.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['q2', 'q3', 'q4', 'q5']);
    expect(last).toHaveLength(7);
    const chat = await getChat(ada, chatId);
    expect(chat.qa_pairs.map((pair) => pair.history_turns)).toEqual([0, 1, 2, 3, 3]);
  });

  it('leaves failed turns out of the history', async () => {
    const first = await ask(app, ada, { question: 'ok 1' });
    const chatId = first.json<AskBody>().chat_id;
    upstream.enqueue((_request, res) => sendJson(res, 500, { error: 'boom' }));
    const failed = await ask(app, ada, { chat_id: chatId, question: 'this one fails' });
    expect(failed.statusCode).toBe(502);
    await ask(app, ada, { chat_id: chatId, question: 'ok 2' });
    expect(upstream.messagesOf(2)).toEqual([
      { role: 'user', content: 'ok 1' },
      { role: 'assistant', content: 'answer #1' },
      { role: 'user', content: 'ok 2' },
    ]);
    const chat = await getChat(ada, chatId);
    expect(chat.qa_pairs.map((pair) => [pair.question, pair.status])).toEqual([
      ['ok 1', 'answered'],
      ['this one fails', 'failed'],
      ['ok 2', 'answered'],
    ]);
    // Each pair follows the one asked before it, failed or not.
    expect(chat.qa_pairs[1]?.parent_id).toBe(chat.qa_pairs[0]?.id);
    expect(chat.qa_pairs[2]?.parent_id).toBe(chat.qa_pairs[1]?.id);
  });

  it('refuses NUL in a question and stores NUL from the chatbot as U+FFFD, the same on both engines', async () => {
    const before = await tableCounts(app);
    const refused = await ask(app, ada, { question: 'a\u0000b' });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(await tableCounts(app)).toEqual(before);

    upstream.enqueue((_request, res) =>
      sendJson(res, 200, {
        answer: 'nul\u0000here',
        search_results: [{ url: 'https://example.org/\u0000', name: 'N\u0000', snippet: 's' }],
      }),
    );
    const answered = await ask(app, ada, { question: 'Anything odd?' });
    expect(answered.statusCode, answered.body).toBe(200);
    const pair = answered.json<AskBody>().qa_pair;
    expect(pair).toMatchObject({ status: 'answered', answer: 'nul\uFFFDhere' });
    expect(pair.search_results).toEqual([{ url: 'https://example.org/\uFFFD', name: 'N\uFFFD', snippet: 's' }]);
    const chat = await app.inject({
      method: 'GET',
      url: `/v1/users/${ada.id}/chats/${answered.json<AskBody>().chat_id}`,
      headers: ada.headers,
    });
    expect(chat.json<{ qa_pairs: { answer: string }[] }>().qa_pairs.at(-1)?.answer).toBe('nul\uFFFDhere');
  });

  it('stores and returns the answer with its search results', async () => {
    upstream.enqueue((_request, res) =>
      sendJson(res, 200, {
        answer: 'Paris.',
        search_results: [
          { url: 'https://en.wikipedia.org/wiki/Paris', name: 'Paris', snippet: 'Capital of France', extra: 1 },
          { name: 'no url: skipped' },
          { url: 'https://example.org', snippet: 'name missing' },
        ],
        unknown_field: true,
      }),
    );
    const response = await ask(app, ada, { question: 'Capital of France?' });
    expect(response.statusCode).toBe(200);
    const body = response.json<AskBody>();
    const expectedResults = [
      { url: 'https://en.wikipedia.org/wiki/Paris', name: 'Paris', snippet: 'Capital of France' },
      { url: 'https://example.org', name: '', snippet: 'name missing' },
    ];
    expect(body.qa_pair).toMatchObject({
      question: 'Capital of France?',
      answer: 'Paris.',
      status: 'answered',
      error: null,
      provider: 'you',
      parent_id: null,
      search_results: expectedResults,
    });
    expect(body.qa_pair.latency_ms).toBeGreaterThanOrEqual(0);
    expect(body.qa_pair.answered_at).not.toBeNull();
    const chat = await getChat(ada, body.chat_id);
    expect(chat.title).toBe('Capital of France?');
    expect(chat.qa_pairs).toMatchObject([body.qa_pair]);
  });

  it('treats a missing search_results as empty', async () => {
    upstream.enqueue((_request, res) => sendJson(res, 200, { answer: 'Just text' }));
    const response = await ask(app, ada, { question: 'no sources' });
    expect(response.json<AskBody>().qa_pair.search_results).toEqual([]);
  });

  it('titles a new chat from its question, on one line and shortened', async () => {
    const question = `Tell me\n\nabout ${'very '.repeat(30)}long questions`;
    const response = await ask(app, ada, { question });
    const chat = await getChat(ada, response.json<AskBody>().chat_id);
    expect(chat.title).not.toContain('\n');
    expect(chat.title.length).toBeLessThanOrEqual(80);
    expect(chat.title.startsWith('Tell me about very')).toBe(true);
    expect(chat.title.endsWith('…')).toBe(true);
  });

  it('creates a chat with a client-chosen id, then continues it', async () => {
    const chatId = '6f1c1a9e-4b8e-4c55-9d84-2f6a1c0b7e11';
    const first = await ask(app, ada, { chat_id: chatId, question: 'first with my id' });
    expect(first.statusCode).toBe(200);
    expect(first.json<AskBody>().chat_id).toBe(chatId);
    const second = await ask(app, ada, { chat_id: chatId, question: 'second' });
    expect(second.json<AskBody>().chat_id).toBe(chatId);
    const chat = await getChat(ada, chatId);
    expect(chat.qa_pairs.map((pair) => pair.question)).toEqual(['first with my id', 'second']);
  });

  it("answers 404 for another user's chat id and stores nothing", async () => {
    const adas = await ask(app, ada, { question: 'private' });
    const chatId = adas.json<AskBody>().chat_id;
    upstream.reset();
    const response = await ask(app, bob, { chat_id: chatId, question: 'let me in' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'CHAT_NOT_FOUND' });
    expect(upstream.requests).toHaveLength(0);
    expect((await getChat(ada, chatId)).qa_pairs).toHaveLength(1);
  });

  it('runs simultaneous asks on one chat one after the other, each seeing the previous answer', async () => {
    upstream.setHandler(async (request, res) => {
      const messages = (request.body as { messages: { content: string }[] }).messages;
      // Answer slowly, so that without per-chat ordering the asks would overlap.
      await new Promise((resolve) => setTimeout(resolve, 20));
      sendJson(res, 200, { answer: `seen ${messages.length - 1} messages` });
    });
    const first = await ask(app, ada, { question: 'start' });
    const chatId = first.json<AskBody>().chat_id;
    const questions = ['c1', 'c2', 'c3', 'c4', 'c5'];
    const responses = await Promise.all(questions.map((question) => ask(app, ada, { chat_id: chatId, question })));
    expect(responses.every((response) => response.statusCode === 200)).toBe(true);

    const chat = await getChat(ada, chatId);
    expect(chat.qa_pairs).toHaveLength(6);
    // A straight line: every pair's parent is the pair before it.
    chat.qa_pairs.forEach((pair, index) => {
      expect(pair.parent_id).toBe(index === 0 ? null : chat.qa_pairs[index - 1]?.id);
    });
    // Each ask saw every earlier answer (history capped at 3 pairs = 6 messages).
    chat.qa_pairs.forEach((pair, index) => {
      expect(pair.answer).toBe(`seen ${Math.min(index, 3) * 2} messages`);
    });
    // Arrival order is kept. On PostgreSQL, asks sent in the same instant reach the chat's
    // queue in the order their authentication queries return, which no client can observe:
    // there the order is any, and the line above still proves they did not interleave.
    const asked = chat.qa_pairs.slice(1).map((pair) => pair.question);
    expect(onPg ? [...asked].sort() : asked).toEqual(questions);
  });
});

describe('POST /search and concurrent changes', () => {
  it('answers 404 (not 500) when the chat is deleted while the chatbot answers', async () => {
    const release = deferred();
    const first = await ask(app, ada, { question: 'to be deleted mid-ask' });
    const chatId = first.json<AskBody>().chat_id;
    upstream.enqueue(async (_request, res) => {
      await release.promise;
      sendJson(res, 200, { answer: 'too late' });
    });
    const pending = ask(app, ada, { chat_id: chatId, question: 'slow one' });
    while (upstream.requests.length < 2) await new Promise((resolve) => setImmediate(resolve));
    const deleted = await app.inject({
      method: 'DELETE',
      url: `/v1/users/${ada.id}/chats/${chatId}`,
      headers: ada.headers,
    });
    expect(deleted.statusCode).toBe(204);
    release.resolve();
    const response = await pending;
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'CHAT_NOT_FOUND' });
  });

  it('turns away asks beyond the queue of one chat with 429 CHAT_BUSY, storing nothing for them', async () => {
    const release = deferred();
    const first = await ask(app, ada, { question: 'busy chat' });
    const chatId = first.json<AskBody>().chat_id;
    upstream.setHandler(async (request, res) => {
      await release.promise;
      sendJson(res, 200, { answer: `answered ${(request.body as { messages: unknown[] }).messages.length}` });
    });
    const asks = Array.from({ length: 10 }, (_, index) =>
      ask(app, ada, { chat_id: chatId, question: `queued ${index}` }),
    );
    // One runs and eight wait: the tenth is refused at once, while the chatbot still holds the first.
    const refused = await Promise.race(asks);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'CHAT_BUSY' });
    expect(refused.headers['retry-after']).toBeDefined();
    release.resolve();
    const responses = await Promise.all(asks);
    expect(responses.filter((response) => response.statusCode === 200)).toHaveLength(9);
    expect(responses.filter((response) => response.statusCode === 429)).toHaveLength(1);
    expect((await getChat(ada, chatId)).qa_pairs).toHaveLength(10);
  });
});

describe('POST /search when the chatbot fails', () => {
  async function failingAsk(respond: Parameters<FakeUpstream['enqueue']>[0]) {
    upstream.enqueue(respond);
    const response = await ask(app, ada, { question: 'will this fail?' });
    const body = response.json<{ code: string; message: string; qa_pair_id: string; statusCode: number }>();
    expect(body.qa_pair_id).toEqual(expect.any(String));
    const list = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/chats?limit=1`, headers: ada.headers });
    const chatId = list.json<{ data: { id: string }[] }>().data[0]?.id ?? '';
    const chat = await getChat(ada, chatId);
    const pair = chat.qa_pairs.find((candidate) => candidate.id === body.qa_pair_id);
    return { response, body, pair };
  }

  it.each([
    [401, 'UPSTREAM_AUTH'],
    [402, 'UPSTREAM_AUTH'],
    [403, 'UPSTREAM_AUTH'],
  ])('maps upstream %i to 502 %s and keeps the question', async (status, code) => {
    const { response, body, pair } = await failingAsk((_request, res) => sendJson(res, status, { error: 'bad key' }));
    expect(response.statusCode).toBe(502);
    expect(body.code).toBe(code);
    expect(body.message).toMatch(/misconfigured/);
    expect(body.message).not.toContain(TEST_YOU_KEY);
    expect(pair).toMatchObject({ question: 'will this fail?', status: 'failed', answer: null, error: { code } });
  });

  it('maps upstream 429 to 503 with the upstream Retry-After', async () => {
    const { response, body, pair } = await failingAsk((_request, res) =>
      sendJson(res, 429, { error: 'slow down' }, { 'retry-after': '17' }),
    );
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('17');
    expect(body.code).toBe('UPSTREAM_RATE_LIMITED');
    expect(pair).toMatchObject({ status: 'failed', error: { code: 'UPSTREAM_RATE_LIMITED' } });
  });

  it('maps upstream 503 to 503 UPSTREAM_UNAVAILABLE with its Retry-After', async () => {
    const { response, body, pair } = await failingAsk((_request, res) =>
      sendJson(res, 503, { error: 'down' }, { 'retry-after': '30' }),
    );
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('30');
    expect(body.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(pair).toMatchObject({ status: 'failed', error: { code: 'UPSTREAM_UNAVAILABLE' } });
  });

  it('maps upstream 429 without Retry-After to 503 without the header', async () => {
    const { response, body } = await failingAsk((_request, res) => sendJson(res, 429, {}));
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBeUndefined();
    expect(body.code).toBe('UPSTREAM_RATE_LIMITED');
  });

  it.each([400, 404, 500, 502])('maps upstream %i to 502 UPSTREAM_ERROR', async (status) => {
    const { response, body, pair } = await failingAsk((_request, res) => sendJson(res, status, { error: 'x' }));
    expect(response.statusCode).toBe(502);
    expect(body.code).toBe('UPSTREAM_ERROR');
    expect(body.message).toContain(`HTTP ${status}`);
    expect(pair?.status).toBe('failed');
  });

  it.each([
    ['HTML', 'text/html', '<html><body>Bad gateway</body></html>'],
    ['JSON without answer', 'application/json', JSON.stringify({ result: 'nope' })],
    ['an empty answer', 'application/json', JSON.stringify({ answer: '   ' })],
    ['a JSON array', 'application/json', '[1,2,3]'],
  ])('maps a 200 with %s to 502 UPSTREAM_BAD_RESPONSE', async (_label, contentType, text) => {
    const { response, body, pair } = await failingAsk((_request, res) => {
      res.writeHead(200, { 'content-type': contentType });
      res.end(text);
    });
    expect(response.statusCode).toBe(502);
    expect(body.code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(pair).toMatchObject({ status: 'failed', error: { code: 'UPSTREAM_BAD_RESPONSE' } });
  });

  it('maps a chatbot that never answers to 504 UPSTREAM_TIMEOUT after the timeout', async () => {
    const { response, body, pair } = await failingAsk((_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"answer": "par');
      // ...and then nothing: the body never completes.
    });
    expect(response.statusCode).toBe(504);
    expect(body.code).toBe('UPSTREAM_TIMEOUT');
    expect(pair).toMatchObject({ status: 'failed', error: { code: 'UPSTREAM_TIMEOUT' } });
  });

  it('maps a connection reset to 502 UPSTREAM_UNREACHABLE', async () => {
    const { response, body } = await failingAsk((_request, res) => {
      res.socket?.destroy();
    });
    expect(response.statusCode).toBe(502);
    expect(body.code).toBe('UPSTREAM_UNREACHABLE');
  });
});
