import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loggerOptions, type App } from '../src/app.js';
import { bearer, createUser, tableCounts, TEST_ADMIN_KEY, TEST_YOU_KEY, type TestUser } from './helpers/app.js';
import { queryRows } from './helpers/database.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';

const temp = useTempDir();
const upstream = useFakeUpstream();
let app: App;
let ada: TestUser;
let bob: TestUser;
let adaChatId: string;
let adaPairId: string;
const logLines: string[] = [];
/** Everything the app logs, at every level: tests below read its request lines and look for credentials. */
const logStream = new Writable({
  write(chunk, _encoding, done) {
    logLines.push(String(chunk));
    done();
  },
});

useTestApp(
  {
    databaseUrl: join(temp.dir, 'auth.db'),
    upstream,
    logger: { ...loggerOptions('trace'), stream: logStream },
    // Webhooks of the matrix point at addresses that are never delivered to (no rounds).
    env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '0' },
  },
  async (suite) => {
    app = suite.app;
    ada = await createUser(app, 'Ada');
    bob = await createUser(app, 'Bob');
    const asked = await app.inject({
      method: 'POST',
      url: '/search',
      headers: ada.headers,
      payload: { user_id: ada.id, question: 'mine' },
    });
    adaChatId = asked.json<{ chat_id: string }>().chat_id;
    adaPairId = asked.json<{ qa_pair: { id: string } }>().qa_pair.id;
  },
);

type Credential = 'none' | 'wrong' | 'malformed' | 'other user' | 'admin' | 'own';

function headersFor(credential: Credential): Record<string, string> {
  switch (credential) {
    case 'none':
      return {};
    case 'wrong':
      return bearer('chk_thisKeyDoesNotExist0000000000000000000000');
    case 'malformed':
      return { authorization: `Basic ${Buffer.from('ada:pw').toString('base64')}` };
    case 'other user':
      return bob.headers;
    case 'admin':
      return bearer(TEST_ADMIN_KEY);
    case 'own':
      return ada.headers;
  }
}

/** Every route that acts on Ada's data, as a fresh request each time (chat ids are made per call). */
const routes: {
  name: string;
  build: () => Promise<{ method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; payload?: object }>;
  ok: number;
  /** A stream that stays open while it succeeds: its success is checked over a real connection. */
  endless?: boolean;
}[] = [
  { name: 'GET /v1/users/me', build: async () => ({ method: 'GET', url: '/v1/users/me' }), ok: 200 },
  {
    name: 'POST /search',
    build: async () => ({ method: 'POST', url: '/search', payload: { user_id: ada.id, question: 'hello' } }),
    ok: 200,
  },
  {
    name: 'POST chats',
    build: async () => ({ method: 'POST', url: `/v1/users/${ada.id}/chats`, payload: { title: 't' } }),
    ok: 201,
  },
  { name: 'GET chats', build: async () => ({ method: 'GET', url: `/v1/users/${ada.id}/chats` }), ok: 200 },
  { name: 'GET chat', build: async () => ({ method: 'GET', url: `/v1/users/${ada.id}/chats/${adaChatId}` }), ok: 200 },
  {
    name: 'PATCH chat',
    build: async () => ({
      method: 'PATCH',
      url: `/v1/users/${ada.id}/chats/${adaChatId}`,
      payload: { title: 'renamed' },
    }),
    ok: 200,
  },
  {
    name: 'DELETE chat',
    build: async () => {
      const created = await app.inject({ method: 'POST', url: `/v1/users/${ada.id}/chats`, headers: ada.headers });
      return { method: 'DELETE', url: `/v1/users/${ada.id}/chats/${created.json<{ id: string }>().id}` };
    },
    ok: 204,
  },
  {
    name: 'POST events/tickets',
    build: async () => ({ method: 'POST', url: `/v1/users/${ada.id}/events/tickets` }),
    ok: 201,
  },
  {
    name: 'GET events',
    build: async () => ({ method: 'GET', url: `/v1/users/${ada.id}/events` }),
    ok: 200,
    endless: true,
  },
  {
    name: 'POST webhooks',
    build: async () => ({
      method: 'POST',
      url: `/v1/users/${ada.id}/webhooks`,
      payload: { url: 'https://203.0.113.9/hook', events: ['*'] },
    }),
    ok: 201,
  },
  { name: 'GET webhooks', build: async () => ({ method: 'GET', url: `/v1/users/${ada.id}/webhooks` }), ok: 200 },
  {
    name: 'GET webhook deliveries',
    build: async () => ({ method: 'GET', url: `/v1/users/${ada.id}/webhooks/${await adaWebhook()}/deliveries` }),
    ok: 200,
  },
  {
    name: 'DELETE webhook',
    build: async () => ({ method: 'DELETE', url: `/v1/users/${ada.id}/webhooks/${await adaWebhook()}` }),
    ok: 204,
  },
  {
    name: 'GET qa_pairs/:id/stream',
    build: async () => ({ method: 'GET', url: `/v1/users/${ada.id}/chats/${adaChatId}/qa_pairs/${adaPairId}/stream` }),
    ok: 200,
  },
];

/** A new webhook of Ada's (made with her own key), for the routes that name one. */
async function adaWebhook(): Promise<string> {
  const created = await app.inject({
    method: 'POST',
    url: `/v1/users/${ada.id}/webhooks`,
    headers: ada.headers,
    payload: { url: 'http://127.0.0.1:9/hook', events: ['chat.deleted'] },
  });
  return created.json<{ id: string }>().id;
}

/** The app on a loopback port, for the streams that stay open (opened once, on first use). */
let listening: Promise<string> | undefined;
const baseUrlOf = () =>
  (listening ??= app.listen({ port: 0, host: '127.0.0.1' }).then(() => {
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening on a port');
    return `http://127.0.0.1:${address.port}`;
  }));

describe('the auth matrix', () => {
  const expectations: [Credential, number | 'ok', string?][] = [
    ['none', 401, 'UNAUTHORIZED'],
    ['wrong', 401, 'UNAUTHORIZED'],
    ['malformed', 401, 'UNAUTHORIZED'],
    ['other user', 403, 'FORBIDDEN'],
    ['admin', 'ok'],
    ['own', 'ok'],
  ];

  for (const route of routes) {
    for (const [credential, expected, code] of expectations) {
      // /v1/users/me has no user id to mismatch: each key sees its own user; the admin key has none.
      if (route.name === 'GET /v1/users/me' && (credential === 'other user' || credential === 'admin')) continue;
      it(`${route.name} with ${credential} key → ${expected}`, async () => {
        const { method, url, payload } = await route.build();
        if (route.endless && expected === 'ok') {
          const controller = new AbortController();
          const response = await fetch(`${await baseUrlOf()}${url}`, {
            headers: headersFor(credential),
            signal: controller.signal,
          });
          expect(response.status).toBe(route.ok);
          expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
          controller.abort();
          return;
        }
        const before = await tableCounts(app);
        const response = await app.inject({
          method,
          url,
          headers: headersFor(credential),
          ...(payload ? { payload } : {}),
        });
        if (expected === 'ok') {
          expect(response.statusCode).toBe(route.ok);
        } else {
          expect(response.statusCode).toBe(expected);
          expect(response.json()).toMatchObject({ statusCode: expected, code });
          expect(await tableCounts(app)).toEqual(before);
        }
      });
    }
  }

  it("answers 403 to another user's key before looking at the input", async () => {
    const blank = await app.inject({
      method: 'POST',
      url: '/search',
      headers: bob.headers,
      payload: { user_id: ada.id, question: '   ' },
    });
    expect(blank.statusCode).toBe(403);
    const badCursor = await app.inject({
      method: 'GET',
      url: `/v1/users/${ada.id}/chats?cursor=zzz`,
      headers: bob.headers,
    });
    expect(badCursor.statusCode).toBe(403);
    const badTitle = await app.inject({
      method: 'POST',
      url: `/v1/users/${ada.id}/chats`,
      headers: bob.headers,
      payload: { title: ' ' },
    });
    expect(badTitle.statusCode).toBe(403);
  });

  it("answers 404 when a user names their own id but another user's chat", async () => {
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const response = await app.inject({
        method,
        url: `/v1/users/${bob.id}/chats/${adaChatId}`,
        headers: bob.headers,
        ...(method === 'PATCH' ? { payload: { title: 'stolen' } } : {}),
      });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'CHAT_NOT_FOUND' });
    }
    const chat = await app.inject({
      method: 'GET',
      url: `/v1/users/${ada.id}/chats/${adaChatId}`,
      headers: ada.headers,
    });
    expect(chat.statusCode).toBe(200);
  });

  it('lets the admin act for any existing user and answers 404 for an unknown one', async () => {
    const asAdmin = await app.inject({
      method: 'POST',
      url: '/search',
      headers: bearer(TEST_ADMIN_KEY),
      payload: { user_id: bob.id, question: 'on behalf of Bob' },
    });
    expect(asAdmin.statusCode).toBe(200);
    const chatId = asAdmin.json<{ chat_id: string }>().chat_id;
    const seenByBob = await app.inject({
      method: 'GET',
      url: `/v1/users/${bob.id}/chats/${chatId}`,
      headers: bob.headers,
    });
    expect(seenByBob.statusCode).toBe(200);

    const unknown = await app.inject({
      method: 'GET',
      url: '/v1/users/00000000-0000-4000-8000-000000000000/chats',
      headers: bearer(TEST_ADMIN_KEY),
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'USER_NOT_FOUND' });
  });

  it('tells the admin key that it has no user of its own', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/users/me', headers: bearer(TEST_ADMIN_KEY) });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'NOT_A_USER_KEY' });
  });
});

describe('API keys', () => {
  it('shows the key once, stores only its hash, and resolves it to its user', async () => {
    const me = await app.inject({ method: 'GET', url: '/v1/users/me', headers: ada.headers });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({ id: ada.id, name: 'Ada', created_at: expect.any(String) });
    expect(me.body).not.toContain(ada.apiKey);

    const rows = await queryRows<{ key_hash: string; prefix: string }>(app, 'SELECT key_hash, prefix FROM api_keys');
    expect(rows.length).toBeGreaterThanOrEqual(2);
    const dump = JSON.stringify(await queryRows(app, 'SELECT * FROM api_keys'));
    expect(dump).not.toContain(ada.apiKey);
    expect(rows.some((row) => ada.apiKey.startsWith(row.prefix))).toBe(true);
  });

  it('tags every log line of a request with the id it returns as X-Request-Id', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/users/me', headers: ada.headers });
    const requestId = String(response.headers['x-request-id']);
    const lines = logLines
      .map((line) => JSON.parse(line) as { reqId?: string; msg?: string })
      .filter((line) => line.reqId === requestId);
    // One line per request (tests/logging.test.ts has the rest of what it says).
    expect(lines.map((line) => line.msg)).toEqual([expect.stringMatching(/^GET \/v1\/users\/me 200 /)]);
  });

  it('never writes a key to the log', async () => {
    await app.inject({ method: 'GET', url: '/v1/users/me', headers: ada.headers });
    await app.inject({ method: 'GET', url: '/v1/users/me', headers: bearer(TEST_ADMIN_KEY) });
    // Should anything ever log request headers, the credentials in them are censored.
    const headers = { authorization: `Bearer ${ada.apiKey}`, 'x-api-key': TEST_YOU_KEY, accept: 'text/plain' };
    app.log.info({ headers, upstream: { headers } }, 'headers');
    const log = logLines.join('');
    expect(log).toContain('GET /v1/users/me 200'); // the log really was captured
    const headersLine = logLines.find((line) => line.includes('"msg":"headers"')) ?? '';
    const censored = { authorization: '[redacted]', 'x-api-key': '[redacted]', accept: 'text/plain' };
    expect(JSON.parse(headersLine)).toMatchObject({ headers: censored, upstream: { headers: censored } });
    expect(log).not.toContain(ada.apiKey);
    expect(log).not.toContain(TEST_ADMIN_KEY);
    expect(log).not.toContain(TEST_YOU_KEY);
  });

  it('creates users with distinct keys', async () => {
    const carol = await createUser(app, 'Carol');
    expect(carol.apiKey).not.toBe(ada.apiKey);
    expect(carol.apiKey).toMatch(/^chk_[A-Za-z0-9_-]{43}$/);
  });
});

describe('sign-up', () => {
  let closed: App;
  const closedTemp = useTempDir();
  useTestApp({ databaseUrl: join(closedTemp.dir, 'closed.db'), env: { ALLOW_SIGNUP: 'false' } }, (suite) => {
    closed = suite.app;
  });

  it('is refused without the admin key when ALLOW_SIGNUP=false', async () => {
    const anonymous = await closed.inject({ method: 'POST', url: '/v1/users', payload: { name: 'Eve' } });
    expect(anonymous.statusCode).toBe(403);
    expect(anonymous.json()).toMatchObject({ code: 'SIGNUP_DISABLED' });
    expect((await tableCounts(closed)).users).toBe(0);

    const byAdmin = await closed.inject({
      method: 'POST',
      url: '/v1/users',
      headers: bearer(TEST_ADMIN_KEY),
      payload: { name: 'Eve' },
    });
    expect(byAdmin.statusCode).toBe(201);
    const eve = byAdmin.json<{ api_key: string }>();

    const byUser = await closed.inject({
      method: 'POST',
      url: '/v1/users',
      headers: bearer(eve.api_key),
      payload: { name: 'Mallory' },
    });
    expect(byUser.statusCode).toBe(403);
    expect((await tableCounts(closed)).users).toBe(1);
  });

  it('rejects a wrong key even where a key is optional', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/users',
      headers: bearer('chk_nope'),
      payload: { name: 'X' },
    });
    expect(response.statusCode).toBe(401);
  });
});
