import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import type { ChatbotProvider } from '../src/chatbot/index.js';
import { ask, createUser, tableCounts, type TestUser } from './helpers/app.js';
import { useTempDir, useTestApp } from './helpers/suite.js';

/** A provider that breaks in an unexpected way, with internals in its message. */
const brokenProvider: ChatbotProvider = {
  name: 'broken',
  requestBody: () => ({}),
  async ask() {
    throw new Error('SQLITE_SECRET_PATH /var/lib/internal/db.sqlite exploded');
  },
  async stream() {
    throw new Error('SQLITE_SECRET_PATH /var/lib/internal/db.sqlite exploded');
  },
  async close() {},
};

const temp = useTempDir();
let app: App;
let ada: TestUser;
let chatId: string;
useTestApp({ databaseUrl: join(temp.dir, 'validation.db'), chatbot: brokenProvider }, async (suite) => {
  app = suite.app;
  ada = await createUser(app, 'Ada');
  const created = await app.inject({
    method: 'POST',
    url: `/v1/users/${ada.id}/chats`,
    headers: ada.headers,
    payload: { title: 'x' },
  });
  chatId = created.json<{ id: string }>().id;
});

const ERROR_KEYS = ['statusCode', 'code', 'error', 'message'];

describe('bad input', () => {
  const cases: { name: string; status: number; code: string; request: () => InjectOptions }[] = [
    {
      name: 'malformed JSON',
      status: 400,
      code: 'INVALID_JSON',
      request: () => ({
        method: 'POST',
        url: '/search',
        headers: { ...ada.headers, 'content-type': 'application/json' },
        payload: '{"user_id": ',
      }),
    },
    {
      name: 'an empty JSON body',
      status: 400,
      code: 'INVALID_JSON',
      request: () => ({
        method: 'POST',
        url: '/search',
        headers: { ...ada.headers, 'content-type': 'application/json' },
        payload: '',
      }),
    },
    {
      name: 'a text/plain body',
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      request: () => ({
        method: 'POST',
        url: '/search',
        headers: { ...ada.headers, 'content-type': 'text/plain' },
        payload: 'hello',
      }),
    },
    {
      name: 'a form body',
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      request: () => ({
        method: 'POST',
        url: `/v1/users/${ada.id}/chats`,
        headers: { ...ada.headers, 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'title=x',
      }),
    },
    {
      name: 'a missing question',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({ method: 'POST', url: '/search', headers: ada.headers, payload: { user_id: ada.id } }),
    },
    {
      name: 'an empty question',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({
        method: 'POST',
        url: '/search',
        headers: ada.headers,
        payload: { user_id: ada.id, question: '' },
      }),
    },
    {
      name: 'a whitespace-only question',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({
        method: 'POST',
        url: '/search',
        headers: ada.headers,
        payload: { user_id: ada.id, question: ' \n\t ' },
      }),
    },
    {
      name: 'a question over 16,000 characters',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({
        method: 'POST',
        url: '/search',
        headers: ada.headers,
        payload: { user_id: ada.id, question: 'q'.repeat(16_001) },
      }),
    },
    {
      name: 'a number where a string belongs (no coercion)',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({
        method: 'POST',
        url: '/search',
        headers: ada.headers,
        payload: { user_id: ada.id, question: 42 },
      }),
    },
    {
      name: 'an unknown field',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({
        method: 'POST',
        url: '/search',
        headers: ada.headers,
        payload: { user_id: ada.id, question: 'q', admin: true },
      }),
    },
    {
      name: 'a chat_id that is not a UUID',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({
        method: 'POST',
        url: '/search',
        headers: ada.headers,
        payload: { user_id: ada.id, chat_id: '../../etc', question: 'q' },
      }),
    },
    {
      name: 'a user id in the path that is not a UUID',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({ method: 'GET', url: `/v1/users/1%20OR%201=1/chats`, headers: ada.headers }),
    },
    {
      name: 'a chat_id in upper case (ids are lower-case UUIDs)',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({
        method: 'POST',
        url: '/search',
        headers: ada.headers,
        payload: { user_id: ada.id, chat_id: 'A1B2C3D4-0000-4000-8000-000000000000', question: 'q' },
      }),
    },
    {
      name: 'a urn:uuid: chat_id',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({
        method: 'POST',
        url: '/search',
        headers: ada.headers,
        payload: { user_id: ada.id, chat_id: 'urn:uuid:a1b2c3d4-0000-4000-8000-000000000000', question: 'q' },
      }),
    },
    {
      name: 'a question of zero-width spaces only',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({
        method: 'POST',
        url: '/search',
        headers: ada.headers,
        payload: { user_id: ada.id, question: '\u200b\u200b \ufeff' },
      }),
    },
    {
      name: 'a null body where every field is optional',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({
        method: 'POST',
        url: `/v1/users/${ada.id}/chats`,
        headers: { ...ada.headers, 'content-type': 'application/json' },
        payload: 'null',
      }),
    },
    {
      name: 'an unknown query parameter',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({ method: 'GET', url: `/v1/users/${ada.id}/chats?sort=asc`, headers: ada.headers }),
    },
    {
      name: 'an array body',
      status: 400,
      code: 'VALIDATION_ERROR',
      request: () => ({ method: 'POST', url: `/v1/users/${ada.id}/chats`, headers: ada.headers, payload: [] }),
    },
    {
      name: 'a body over the size limit',
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      request: () => ({
        method: 'POST',
        url: '/search',
        headers: ada.headers,
        payload: { user_id: ada.id, question: 'q'.repeat(300_000) },
      }),
    },
    {
      name: 'an unknown route',
      status: 404,
      code: 'NOT_FOUND',
      request: () => ({ method: 'GET', url: '/v1/nothing-here', headers: ada.headers }),
    },
    {
      name: 'an unsupported method on a known path',
      status: 404,
      code: 'NOT_FOUND',
      request: () => ({ method: 'PUT', url: `/v1/users/${ada.id}/chats/${chatId}`, headers: ada.headers, payload: {} }),
    },
  ];

  for (const testCase of cases) {
    it(`answers ${testCase.status} ${testCase.code} to ${testCase.name} and writes nothing`, async () => {
      const before = await tableCounts(app);
      const response = await app.inject(testCase.request());
      expect(response.statusCode).toBe(testCase.status);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      const body = response.json<Record<string, unknown>>();
      expect(body).toMatchObject({ statusCode: testCase.status, code: testCase.code });
      for (const key of ERROR_KEYS) expect(body).toHaveProperty(key);
      expect(await tableCounts(app)).toEqual(before);
    });
  }

  it('names the rejected field in a validation error', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/search',
      headers: ada.headers,
      payload: { user_id: ada.id, question: 7 },
    });
    expect(response.json()).toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [{ path: 'body/question', message: expect.any(String) }],
    });
  });
});

describe('text limits', () => {
  it('applies the title limit after trimming', async () => {
    const padded = `  ${'t'.repeat(200)}  `;
    const response = await app.inject({
      method: 'POST',
      url: `/v1/users/${ada.id}/chats`,
      headers: ada.headers,
      payload: { title: padded },
    });
    expect(response.statusCode).toBe(201);
    expect(response.json<{ title: string }>().title).toBe('t'.repeat(200));
    const tooLong = await app.inject({
      method: 'POST',
      url: `/v1/users/${ada.id}/chats`,
      headers: ada.headers,
      payload: { title: 't'.repeat(201) },
    });
    expect(tooLong.statusCode).toBe(400);
  });
});

describe('unexpected failures', () => {
  it('hides the message of a 5xx, but still stores the question as failed', async () => {
    const response = await ask(app, ada, { chat_id: chatId, question: 'trigger the bug' });
    expect(response.statusCode).toBe(500);
    const body = response.json<{ code: string; message: string; qa_pair_id: string }>();
    expect(body.code).toBe('INTERNAL_ERROR');
    expect(response.body).not.toContain('SQLITE_SECRET_PATH');
    expect(response.body).not.toContain('/var/lib');
    const chat = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/chats/${chatId}`, headers: ada.headers });
    const pair = chat.json<{ qa_pairs: { id: string; status: string; error: { code: string; message: string } }[] }>()
      .qa_pairs[0];
    expect(pair).toMatchObject({ id: body.qa_pair_id, status: 'failed', error: { code: 'INTERNAL_ERROR' } });
    expect(JSON.stringify(pair)).not.toContain('SQLITE_SECRET_PATH');
  });
});
