import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, createUser, type TestUser } from './helpers/app.js';
import { sendJson } from './helpers/fake-upstream.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';
import { deferred } from './helpers/sse-client.js';
import { queryRows } from './helpers/database.js';

/** Defects found by attacking the service from outside (issue 13), each replayed here. */

const temp = useTempDir();
const upstream = useFakeUpstream();
let app: App;
let ada: TestUser;
let bob: TestUser;

interface AskBody {
  chat_id: string;
  branch_id: string;
  qa_pair: { id: string };
}

useTestApp({ databaseUrl: join(temp.dir, 'attacks.db'), upstream }, async (suite) => {
  app = suite.app;
  ada = await createUser(app, 'Ada');
  bob = await createUser(app, 'Bob');
});

beforeEach(() => upstream.reset());

/** Holds the next upstream call until `release` is called; `held` resolves once it arrived. */
function holdNextAnswer() {
  const gate = deferred();
  const arrived = deferred();
  upstream.enqueue(async (_request, res) => {
    arrived.resolve();
    await gate.promise;
    sendJson(res, 200, { answer: 'the slow answer' });
  });
  return { held: arrived.promise, release: () => gate.resolve() };
}

describe("another user's requests on a chat do not wait in its queue", () => {
  it('answers 404 at once while the owner has an ask running, and leaves the queue to the owner', async () => {
    const first = (await ask(app, ada, { question: 'first' })).json<AskBody>();
    const chatId = first.chat_id;
    const pairId = first.qa_pair.id;
    const { held, release } = holdNextAnswer();
    const slow = ask(app, ada, { chat_id: chatId, question: 'slow' });
    await held;

    // Without the fix each of these waits behind Ada's held ask: the test would hang here.
    const chat = `/v1/users/${bob.id}/chats/${chatId}`;
    const bobs = await Promise.all([
      ...Array.from({ length: 12 }, (_, index) => ask(app, bob, { chat_id: chatId, question: `probe ${index}` })),
      ask(app, bob, { chat_id: chatId, question: 'streamed probe', stream: true }),
      ask(app, bob, { chat_id: chatId, question: 'after a pair', parent_id: pairId }),
      app.inject({ method: 'POST', url: `${chat}/fork`, headers: bob.headers, payload: { qa_pair_id: pairId } }),
      app.inject({ method: 'POST', url: `${chat}/qa_pairs/${pairId}/regenerate`, headers: bob.headers }),
      app.inject({ method: 'DELETE', url: `${chat}/branches/${first.branch_id}`, headers: bob.headers }),
    ]);
    for (const response of bobs) {
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'CHAT_NOT_FOUND' });
    }

    // Ada's own next ask still finds room in her chat's queue.
    const next = ask(app, ada, { chat_id: chatId, question: 'next' });
    release();
    expect((await slow).statusCode).toBe(200);
    const answered = await next;
    expect(answered.statusCode).toBe(200);
    const view = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/chats/${chatId}`, headers: ada.headers });
    expect(view.json<{ qa_pairs: { question: string }[] }>().qa_pairs.map((pair) => pair.question)).toEqual([
      'first',
      'slow',
      'next',
    ]);
  });
});

describe('a deleted chat stays deleted', () => {
  const chatUrl = (user: TestUser, chatId: string) => `/v1/users/${user.id}/chats/${chatId}`;
  const deleteChat = (user: TestUser, chatId: string) =>
    app.inject({ method: 'DELETE', url: chatUrl(user, chatId), headers: user.headers });
  const getChat = (user: TestUser, chatId: string) =>
    app.inject({ method: 'GET', url: chatUrl(user, chatId), headers: user.headers });

  /** Deletes the chat while its first ask is held upstream and four more wait; returns their responses. */
  async function deleteUnderQueuedAsks(chatId: string, startChat: boolean) {
    if (startChat) expect((await ask(app, ada, { chat_id: chatId, question: 'existing' })).statusCode).toBe(200);
    const { held, release } = holdNextAnswer();
    const asks = Array.from({ length: 5 }, (_, index) =>
      ask(app, ada, { chat_id: chatId, question: `queued ${index}` }),
    );
    await held;
    expect((await deleteChat(ada, chatId)).statusCode).toBe(204);
    release();
    return Promise.all(asks);
  }

  it.each([
    ['an existing chat', true],
    ['a chat the first of the asks creates under an id the client chose', false],
  ])('ends the asks queued on %s with 404 instead of re-creating it', async (_label, startChat) => {
    const chatId = randomUUID();
    const responses = await deleteUnderQueuedAsks(chatId, startChat);
    // The held one has no chat left to store its answer in; the queued ones find it gone.
    for (const response of responses) {
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'CHAT_NOT_FOUND' });
    }
    expect((await getChat(ada, chatId)).statusCode).toBe(404);
    const list = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/chats`, headers: ada.headers });
    expect(list.json<{ data: { id: string }[] }>().data.map((chat) => chat.id)).not.toContain(chatId);
  });

  it('does not let asks that joined the queue before a new chat existed create it again after its deletion', async () => {
    const chatId = randomUUID();
    const actor = { kind: 'user', userId: ada.id } as const;
    const { held, release } = holdNextAnswer();
    // Called in one go, all five look the chat up (not there yet: a new id) before the
    // first of them creates it; the first then waits at the chatbot, the others behind it.
    const asks = Array.from({ length: 5 }, (_, index) =>
      app.services.conversation.ask(actor, { userId: ada.id, chatId, question: `new ${index}` }).then(
        () => 200,
        (error: { statusCode?: number }) => error.statusCode,
      ),
    );
    await held;
    expect((await deleteChat(ada, chatId)).statusCode).toBe(204);
    release();
    expect(await Promise.all(asks)).toEqual([404, 404, 404, 404, 404]);
    expect((await getChat(ada, chatId)).statusCode).toBe(404);
  });

  it('never reuses a deleted id: a later ask naming it is a 404, for its owner and for anyone else', async () => {
    const chatId = randomUUID();
    expect((await ask(app, ada, { chat_id: chatId, question: 'mine' })).statusCode).toBe(200);
    expect((await deleteChat(ada, chatId)).statusCode).toBe(204);
    for (const user of [ada, bob]) {
      const again = await ask(app, user, { chat_id: chatId, question: 'again' });
      expect(again.statusCode).toBe(404);
      expect(again.json()).toMatchObject({ code: 'CHAT_NOT_FOUND' });
      expect((await getChat(user, chatId)).statusCode).toBe(404);
    }
    // Nothing reached the chatbot for the refused asks.
    expect(upstream.requests).toHaveLength(1);
  });

  it('keeps only the id and the owner of a deleted chat', async () => {
    const chatId = randomUUID();
    expect((await ask(app, ada, { chat_id: chatId, question: 'a secret question' })).statusCode).toBe(200);
    expect((await deleteChat(ada, chatId)).statusCode).toBe(204);
    const rows = await queryRows<Record<string, unknown>>(
      app,
      'SELECT * FROM deleted_chats WHERE id = ?',
      [chatId],
      'SELECT * FROM deleted_chats WHERE id = $1',
    );
    expect(rows).toEqual([{ id: chatId, user_id: ada.id }]);
    const pairs = await queryRows<{ n: number }>(
      app,
      'SELECT count(*) AS n FROM qa_pairs WHERE chat_id = ?',
      [chatId],
      'SELECT count(*)::int AS n FROM qa_pairs WHERE chat_id = $1',
    );
    expect(pairs[0]?.n).toBe(0);
  });
});

describe('the rate limit', () => {
  let limited: App;
  useTestApp(
    {
      databaseUrl: join(temp.dir, 'limited.db'),
      upstream,
      env: { RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_MS: '600000' },
    },
    (suite) => {
      limited = suite.app;
    },
  );

  const me = (authorization: string, remoteAddress = '127.0.0.1') =>
    limited.inject({ method: 'GET', url: '/v1/users/me', headers: { authorization }, remoteAddress });

  it('counts a key however its header is spelled', async () => {
    const user = await createUser(limited, 'Spelled');
    const key = user.apiKey;
    const statuses: number[] = [];
    for (let index = 0; index < 6; index += 1) statuses.push((await me(`Bearer ${key}`)).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    for (const spelling of [`bearer ${key}`, `Bearer  ${key}`, `BEARER ${key}`, `Bearer\t${key}`, `Bearer ${key} `]) {
      const response = await me(spelling);
      expect(response.statusCode).toBe(429);
      expect(response.json()).toMatchObject({ code: 'RATE_LIMITED' });
    }
  });

  it('counts failed authentications per client address, so made-up keys reach 429 too', async () => {
    const user = await createUser(limited, 'Neighbour');
    const statuses: number[] = [];
    for (let index = 0; index < 7; index += 1) {
      statuses.push((await me(`Bearer chk_made-up-${randomUUID()}`, '10.0.0.7')).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    const refused = await me('Bearer chk_one-more', '10.0.0.7');
    expect(refused.json()).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // A valid key from that address still works, and other addresses are not affected.
    expect((await me(`Bearer ${user.apiKey}`, '10.0.0.7')).statusCode).toBe(200);
    expect((await me('Bearer chk_made-up', '10.0.0.8')).statusCode).toBe(401);
  });
});

describe('two Authorization headers', () => {
  let base: string;
  beforeAll(async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  /** A real HTTP request: inject cannot send one header twice the way a socket does. */
  function getMe(authorization: string[]): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(`${base}/v1/users/me`, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
        );
      });
      // An array value goes out as one header line per value.
      request.setHeader('authorization', authorization);
      request.on('error', reject);
      request.end();
    });
  }

  it('refuses a request that sends two with 400, whichever comes first', async () => {
    expect((await getMe([`Bearer ${ada.apiKey}`])).status).toBe(200);
    for (const pair of [
      [`Bearer ${ada.apiKey}`, `Bearer ${bob.apiKey}`],
      [`Bearer ${ada.apiKey}`, 'Bearer chk_made-up'],
      ['Bearer chk_made-up', `Bearer ${ada.apiKey}`],
    ]) {
      const response = await getMe(pair);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ statusCode: 400, code: 'DUPLICATE_AUTHORIZATION' });
    }
  });
});
