import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, createUser, tableCounts, type TestUser } from './helpers/app.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';

const temp = useTempDir();
const upstream = useFakeUpstream();
let app: App;
let ada: TestUser;
useTestApp({ databaseUrl: join(temp.dir, 'chats.db'), upstream }, async (suite) => {
  app = suite.app;
  ada = await createUser(app, 'Ada');
});

interface ChatBody {
  id: string;
  user_id: string;
  title: string;
  created_at: string;
  updated_at: string;
  qa_count: number;
  last_question: string | null;
}
interface PageBody {
  data: ChatBody[];
  has_more: boolean;
  next_cursor: string | null;
}

const chatsUrl = (user: TestUser) => `/v1/users/${user.id}/chats`;

async function createChat(user: TestUser, payload?: object) {
  return app.inject({ method: 'POST', url: chatsUrl(user), headers: user.headers, ...(payload ? { payload } : {}) });
}

async function listAll(user: TestUser, limit: number, between?: (page: number) => Promise<void>) {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page += 1) {
    const query: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const response = await app.inject({ method: 'GET', url: chatsUrl(user) + query, headers: user.headers });
    expect(response.statusCode).toBe(200);
    const body = response.json<PageBody>();
    expect(body.data.length).toBeLessThanOrEqual(limit);
    ids.push(...body.data.map((chat) => chat.id));
    expect(body.has_more).toBe(body.next_cursor !== null);
    if (!body.next_cursor) return ids;
    cursor = body.next_cursor;
    await between?.(page);
  }
  throw new Error('pagination did not end');
}

describe('chat CRUD', () => {
  it('creates a chat with a title, or "New chat" without one', async () => {
    const titled = await createChat(ada, { title: '  Trip planning  ' });
    expect(titled.statusCode).toBe(201);
    expect(titled.json<ChatBody>()).toMatchObject({
      title: 'Trip planning',
      user_id: ada.id,
      qa_count: 0,
      last_question: null,
    });
    const untitled = await createChat(ada);
    expect(untitled.statusCode).toBe(201);
    expect(untitled.json<ChatBody>().title).toBe('New chat');
    const emptyBody = await createChat(ada, {});
    expect(emptyBody.json<ChatBody>().title).toBe('New chat');
  });

  it('returns a chat with its pairs oldest first and summary fields kept up to date', async () => {
    const chat = (await createChat(ada, { title: 'Pairs' })).json<ChatBody>();
    await ask(app, ada, { chat_id: chat.id, question: 'one' });
    await ask(app, ada, { chat_id: chat.id, question: 'two' });
    const response = await app.inject({ method: 'GET', url: `${chatsUrl(ada)}/${chat.id}`, headers: ada.headers });
    expect(response.statusCode).toBe(200);
    const body = response.json<ChatBody & { qa_pairs: { question: string }[] }>();
    expect(body.qa_pairs.map((pair) => pair.question)).toEqual(['one', 'two']);
    expect(body).toMatchObject({ title: 'Pairs', qa_count: 2, last_question: 'two' });
    expect(Date.parse(body.updated_at)).toBeGreaterThanOrEqual(Date.parse(chat.updated_at));
  });

  it('renames a chat, trimming the title, and rejects empty or long titles without changing it', async () => {
    const chat = (await createChat(ada, { title: 'Old' })).json<ChatBody>();
    const url = `${chatsUrl(ada)}/${chat.id}`;
    const renamed = await app.inject({ method: 'PATCH', url, headers: ada.headers, payload: { title: '  New name ' } });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json<ChatBody>().title).toBe('New name');

    for (const title of ['', '   ', 'x'.repeat(201)]) {
      const rejected = await app.inject({ method: 'PATCH', url, headers: ada.headers, payload: { title } });
      expect(rejected.statusCode).toBe(400);
      expect(rejected.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
    }
    const missing = await app.inject({ method: 'PATCH', url, headers: ada.headers, payload: {} });
    expect(missing.statusCode).toBe(400);
    const after = await app.inject({ method: 'GET', url, headers: ada.headers });
    expect(after.json<ChatBody>().title).toBe('New name');
  });

  it('deletes a chat with its pairs', async () => {
    const first = await ask(app, ada, { question: 'to be deleted' });
    const chatId = first.json<{ chat_id: string }>().chat_id;
    const before = await tableCounts(app);
    const url = `${chatsUrl(ada)}/${chatId}`;
    const deleted = await app.inject({ method: 'DELETE', url, headers: ada.headers });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expect(await tableCounts(app)).toMatchObject({ chats: before.chats - 1, qa_pairs: before.qa_pairs - 1 });
    expect((await app.inject({ method: 'GET', url, headers: ada.headers })).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url, headers: ada.headers })).statusCode).toBe(404);
  });

  it('answers 404 CHAT_NOT_FOUND for an unknown chat id on every chat route', async () => {
    const url = `${chatsUrl(ada)}/00000000-0000-4000-8000-000000000000`;
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const response = await app.inject({
        method,
        url,
        headers: ada.headers,
        ...(method === 'PATCH' ? { payload: { title: 'x' } } : {}),
      });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'CHAT_NOT_FOUND' });
    }
  });
});

describe('bounds', () => {
  it('returns at most the latest 1000 pairs of a branch, saying how many came before', async () => {
    const at = '2026-01-01T00:00:00.000Z';
    const pairs = Array.from({ length: 1005 }, (_, index) => ({
      id: `p${index}`,
      parent_id: index === 0 ? null : `p${index - 1}`,
      question: `question ${index}`,
      answer: `answer ${index}`,
      search_results: [],
      status: 'answered',
      error: null,
      created_at: at,
      answered_at: at,
      provider: 'offline',
      model: null,
      upstream_request_id: null,
      history_turns: 0,
      latency_ms: null,
    }));
    const exported = {
      format: 'chat-history.chat',
      version: 1,
      chat: {
        id: 'long-chat',
        title: 'A long chat',
        created_at: at,
        updated_at: at,
        settings: { system_prompt: null, model: null, history_max_turns: null },
        active_branch_id: 'main',
        forked_from: null,
      },
      qa_pairs: pairs,
      branches: [
        { id: 'main', name: 'main', fork_qa_pair_id: null, head_qa_pair_id: 'p1004', created_at: at, updated_at: at },
      ],
    };
    const imported = await app.inject({
      method: 'POST',
      url: `${chatsUrl(ada)}/import`,
      headers: ada.headers,
      payload: exported,
    });
    const chatId = imported.json<{ results: { chat_id: string }[] }>().results[0]?.chat_id ?? '';
    const view = await app.inject({ method: 'GET', url: `${chatsUrl(ada)}/${chatId}`, headers: ada.headers });
    const body = view.json<{ earlier_qa_pairs: number; qa_count: number; qa_pairs: { question: string }[] }>();
    expect(body.qa_count).toBe(1005);
    expect(body.qa_pairs).toHaveLength(1000);
    expect(body.earlier_qa_pairs).toBe(5);
    expect(body.qa_pairs[0]?.question).toBe('question 5');
    expect(body.qa_pairs.at(-1)?.question).toBe('question 1004');
  });
});

describe('listing chats', () => {
  it('pages through every chat once, most recently updated first', async () => {
    const carol = await createUser(app, 'Carol');
    const created: string[] = [];
    for (let index = 0; index < 7; index += 1)
      created.push((await createChat(carol, { title: `c${index}` })).json<ChatBody>().id);
    // Asking in the oldest chat moves it to the top.
    await ask(app, carol, { chat_id: created[0], question: 'bump' });

    const ids = await listAll(carol, 3);
    expect(ids).toHaveLength(7);
    expect(ids[0]).toBe(created[0]);
    expect(new Set(ids).size).toBe(7);
    const first = await app.inject({ method: 'GET', url: chatsUrl(carol), headers: carol.headers });
    const body = first.json<PageBody>();
    expect(body.data).toHaveLength(7); // default limit 20
    expect(body.has_more).toBe(false);
    expect(body.data[0]).toMatchObject({ qa_count: 1, last_question: 'bump' });
    const updated = body.data.map((chat) => Date.parse(chat.updated_at));
    expect([...updated].sort((a, b) => b - a)).toEqual(updated);
  });

  it('stays stable when chats are added while paging', async () => {
    const dave = await createUser(app, 'Dave');
    const original: string[] = [];
    for (let index = 0; index < 6; index += 1)
      original.push((await createChat(dave, { title: `d${index}` })).json<ChatBody>().id);
    const added: string[] = [];
    const seen = await listAll(dave, 2, async () => {
      added.push((await createChat(dave, { title: 'added while paging' })).json<ChatBody>().id);
    });
    // Every original chat exactly once; chats added meanwhile sort before the cursor, so none shows up twice.
    expect(seen.filter((id) => original.includes(id)).sort()).toEqual([...original].sort());
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.some((id) => added.includes(id))).toBe(false);
  });

  it('rejects a limit outside 1..100 and a forged cursor', async () => {
    for (const query of [
      'limit=0',
      'limit=101',
      'limit=abc',
      'cursor=not-a-cursor',
      'cursor=' + Buffer.from('1:x').toString('base64url'),
      // Well formed, but past the year 9999: no engine could compare with it.
      'cursor=' + Buffer.from('999999999999999:00000000-0000-4000-8000-000000000000').toString('base64url'),
    ]) {
      const response = await app.inject({ method: 'GET', url: `${chatsUrl(ada)}?${query}`, headers: ada.headers });
      expect(response.statusCode, query).toBe(400);
    }
    const forged = await app.inject({ method: 'GET', url: `${chatsUrl(ada)}?cursor=garbage`, headers: ada.headers });
    expect(forged.json()).toMatchObject({ code: 'INVALID_CURSOR' });
  });

  it('shows a user only their own chats', async () => {
    const erin = await createUser(app, 'Erin');
    await createChat(erin, { title: 'erin only' });
    const ids = await listAll(ada, 100);
    const erinIds = await listAll(erin, 100);
    expect(erinIds).toHaveLength(1);
    expect(ids).not.toContain(erinIds[0]);
  });
});
