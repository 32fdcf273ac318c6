import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, buildTestApp, createUser, TEST_ADMIN_KEY, bearer, type TestUser } from './helpers/app.js';
import { sendJson } from './helpers/fake-upstream.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';

/**
 * Versions and validators: every view of a chat (the chat, its tree, branches, context,
 * JSON and Markdown export) and the chat list carry a strong ETag from the version the
 * database keeps; If-None-Match with it is a 304 without a body. Every kind of change moves
 * the ETags of the views it touches and nothing else does; a cached view is never served
 * for a version that is not current, whichever app wrote.
 */

const temp = useTempDir();
const upstream = useFakeUpstream();
const databaseUrl = join(temp.dir, 'validators.db');
let app: App;
let ada: TestUser;
let bob: TestUser;
useTestApp({ databaseUrl, upstream }, async (suite) => {
  app = suite.app;
  ada = await createUser(app, 'Ada');
  bob = await createUser(app, 'Bob');
});

const chatUrl = (user: TestUser, chatId: string) => `/v1/users/${user.id}/chats/${chatId}`;
const VIEWS = ['', '/tree', '/branches', '/context', '/export', '/export?format=markdown'] as const;
type Tags = Record<(typeof VIEWS)[number] | 'list', string>;

async function get(url: string, user: TestUser, headers: Record<string, string> = {}, on: App = app) {
  return on.inject({ method: 'GET', url, headers: { ...user.headers, ...headers } });
}

/** The ETag of every view of `chatId` and of the chat list, checking each is a strong validator. */
async function tagsOf(user: TestUser, chatId: string, on: App = app): Promise<Tags> {
  const tags: Partial<Tags> = {};
  const urls = [
    ...VIEWS.map((view) => [view, chatUrl(user, chatId) + view] as const),
    ['list', `/v1/users/${user.id}/chats`] as const,
  ];
  for (const [view, url] of urls) {
    const response = await get(url, user, {}, on);
    expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
    expect(response.headers.etag, url).toMatch(/^"[^"]+"$/);
    expect(response.headers['cache-control'], url).toBe('private, no-cache');
    tags[view] = String(response.headers.etag);
  }
  return tags as Tags;
}

async function newChat(user: TestUser, questions: string[]): Promise<{ chatId: string; pairIds: string[] }> {
  const first = await ask(app, user, { question: questions[0] });
  expect(first.statusCode, first.body).toBe(200);
  const chatId = first.json<{ chat_id: string }>().chat_id;
  const pairIds = [first.json<{ qa_pair: { id: string } }>().qa_pair.id];
  for (const question of questions.slice(1)) {
    const next = await ask(app, user, { chat_id: chatId, question });
    expect(next.statusCode, next.body).toBe(200);
    pairIds.push(next.json<{ qa_pair: { id: string } }>().qa_pair.id);
  }
  return { chatId, pairIds };
}

describe('ETags of chat views', () => {
  it('answer a current If-None-Match with 304 and no body, however the tag is written', async () => {
    const { chatId } = await newChat(ada, ['a question', 'another']);
    const tags = await tagsOf(ada, chatId);
    const urls = {
      ...Object.fromEntries(VIEWS.map((view) => [view, chatUrl(ada, chatId) + view])),
      list: `/v1/users/${ada.id}/chats`,
    };
    for (const [view, url] of Object.entries(urls)) {
      const tag = tags[view as keyof Tags];
      for (const header of [tag, `W/${tag}`, `"other", ${tag}`, '*']) {
        const response = await get(url, ada, { 'if-none-match': header });
        expect(response.statusCode, `${url} ${header}`).toBe(304);
        expect(response.body).toBe('');
        expect(response.headers.etag).toBe(tag);
        expect(response.headers['content-length'] ?? '0').toBe('0');
      }
      const stale = await get(url, ada, { 'if-none-match': '"c1.0"' });
      expect(stale.statusCode).toBe(200);
      expect(stale.body.length).toBeGreaterThan(0);
    }
    // The views' tags differ from each other: a client's tag of one never validates another.
    expect(new Set(Object.values(tags)).size).toBe(Object.keys(tags).length);
  });

  it('never let a validator stand in for access: the owner check comes first', async () => {
    const { chatId } = await newChat(ada, ['private']);
    const tags = await tagsOf(ada, chatId);
    const asBob = await get(chatUrl(ada, chatId), bob, { 'if-none-match': tags[''] });
    expect(asBob.statusCode).toBe(403);
    const bobsOwnUrl = await get(chatUrl(bob, chatId), bob, { 'if-none-match': '*' });
    expect(bobsOwnUrl.statusCode).toBe(404);
    const unauthenticated = await app.inject({
      method: 'GET',
      url: chatUrl(ada, chatId),
      headers: { 'if-none-match': tags[''] },
    });
    expect(unauthenticated.statusCode).toBe(401);
    // The admin key reads the same version under the same tag.
    const admin = await app.inject({
      method: 'GET',
      url: chatUrl(ada, chatId),
      headers: { ...bearer(TEST_ADMIN_KEY), 'if-none-match': tags[''] },
    });
    expect(admin.statusCode).toBe(304);
  });

  it('do not move on reads of any kind', async () => {
    const { chatId } = await newChat(ada, ['read me', 'twice']);
    const before = await tagsOf(ada, chatId);
    await get(`/v1/users/${ada.id}/search?q=read`, ada);
    await get(`/v1/users/${ada.id}/export`, ada);
    await get(`/v1/users/${ada.id}/chats?limit=1`, ada);
    expect(await tagsOf(ada, chatId)).toEqual(before);
  });

  it('move for every kind of change on the chat, on all its views and the list, and on no other chat', async () => {
    const { chatId, pairIds } = await newChat(ada, ['first', 'second']);
    const other = await newChat(ada, ['unrelated']);
    const url = chatUrl(ada, chatId);
    let branchId = '';
    const changes: [string, () => Promise<{ statusCode: number; body: string }>][] = [
      ['an ask', () => ask(app, ada, { chat_id: chatId, question: 'third' })],
      ['a rename', () => app.inject({ method: 'PATCH', url, headers: ada.headers, payload: { title: 'Renamed' } })],
      [
        'a settings change',
        () =>
          app.inject({
            method: 'PATCH',
            url,
            headers: ada.headers,
            payload: { settings: { system_prompt: 'Be brief' } },
          }),
      ],
      [
        'a new branch',
        async () => {
          const response = await app.inject({
            method: 'POST',
            url: `${url}/branches`,
            headers: ada.headers,
            payload: { from_qa_pair_id: pairIds[0], name: 'alt' },
          });
          branchId = response.json<{ id: string }>().id;
          return response;
        },
      ],
      ['an ask on the new branch', () => ask(app, ada, { chat_id: chatId, question: 'on alt' })],
      [
        'a branch rename',
        () =>
          app.inject({
            method: 'PATCH',
            url: `${url}/branches/${branchId}`,
            headers: ada.headers,
            payload: { name: 'alt 2' },
          }),
      ],
      [
        'a regenerated answer',
        () =>
          app.inject({
            method: 'POST',
            url: `${url}/qa_pairs/${pairIds[1]}/regenerate`,
            headers: ada.headers,
            payload: {},
          }),
      ],
      [
        'a branch switch',
        async () => {
          const branches = await get(`${url}/branches`, ada);
          const main = branches
            .json<{ data: { id: string; name: string | null }[] }>()
            .data.find((b) => b.name === 'main');
          return app.inject({
            method: 'PUT',
            url: `${url}/active-branch`,
            headers: ada.headers,
            payload: { branch_id: main?.id },
          });
        },
      ],
      [
        'a branch deletion',
        () => app.inject({ method: 'DELETE', url: `${url}/branches/${branchId}`, headers: ada.headers }),
      ],
    ];
    for (const [name, change] of changes) {
      const before = await tagsOf(ada, chatId);
      const otherBefore = await tagsOf(ada, other.chatId);
      const response = await change();
      expect(response.statusCode, `${name}: ${response.body}`).toBeLessThan(300);
      const after = await tagsOf(ada, chatId);
      for (const view of Object.keys(before) as (keyof Tags)[]) {
        expect(after[view], `${name} moves ${view || 'the chat'}`).not.toBe(before[view]);
        // A 304 for the old tag would hide the change.
        const old = await get(view === 'list' ? `/v1/users/${ada.id}/chats` : url + view, ada, {
          'if-none-match': before[view],
        });
        expect(old.statusCode, `${name}: ${view}`).toBe(200);
      }
      const otherAfter = await tagsOf(ada, other.chatId);
      expect({ ...otherAfter, list: '' }, `${name} leaves the other chat`).toEqual({ ...otherBefore, list: '' });
    }
    const bobsList = (await tagsOf(bob, (await newChat(bob, ['bob'])).chatId)).list;
    await ask(app, ada, { chat_id: chatId, question: 'ada again' });
    expect(
      (
        await tagsOf(
          bob,
          (await get(`/v1/users/${bob.id}/chats`, bob)).json<{ data: { id: string }[] }>().data[0]?.id ?? '',
        )
      ).list,
    ).toBe(bobsList);
  });

  it('move while an ask runs: its pending question shows, then its answer', async () => {
    const { chatId } = await newChat(ada, ['before']);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let arrived: () => void = () => undefined;
    const upstreamReached = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    upstream.enqueue(async (_request, res) => {
      arrived();
      await held;
      sendJson(res, 200, { answer: 'late answer', search_results: [] });
    });
    const before = await tagsOf(ada, chatId);
    const running = ask(app, ada, { chat_id: chatId, question: 'slow one' });
    await upstreamReached;
    const during = await tagsOf(ada, chatId);
    expect(during['']).not.toBe(before['']);
    const view = await get(chatUrl(ada, chatId), ada);
    expect(view.json<{ qa_pairs: { status: string }[] }>().qa_pairs.at(-1)?.status).toBe('pending');
    release();
    expect((await running).statusCode).toBe(200);
    const after = await tagsOf(ada, chatId);
    expect(after['']).not.toBe(during['']);
    const answered = await get(chatUrl(ada, chatId), ada);
    expect(answered.json<{ qa_pairs: { answer: string | null }[] }>().qa_pairs.at(-1)?.answer).toBe('late answer');
  });

  it('move the list (not the source chat) on a fork, an import and a deletion', async () => {
    const { chatId, pairIds } = await newChat(ada, ['source', 'two']);
    const url = chatUrl(ada, chatId);
    const exported = await get(`${url}/export`, ada);
    const steps: [string, () => Promise<{ statusCode: number; body: string }>][] = [
      [
        'a fork',
        () =>
          app.inject({ method: 'POST', url: `${url}/fork`, headers: ada.headers, payload: { qa_pair_id: pairIds[0] } }),
      ],
      [
        'an import',
        () =>
          app.inject({
            method: 'POST',
            url: `/v1/users/${ada.id}/chats/import`,
            headers: { ...ada.headers, 'content-type': 'application/json' },
            // Under another source id: the export of a chat of this account is otherwise "already imported".
            payload: exported.body.replaceAll(chatId, randomUUID()),
          }),
      ],
    ];
    for (const [name, step] of steps) {
      const before = await tagsOf(ada, chatId);
      const response = await step();
      expect(response.statusCode, `${name}: ${response.body}`).toBeLessThan(300);
      expect(response.body, name).not.toContain('"status":"skipped"');
      const after = await tagsOf(ada, chatId);
      expect(after.list, name).not.toBe(before.list);
      expect({ ...after, list: '' }, `${name} leaves the source`).toEqual({ ...before, list: '' });
    }
    const other = await newChat(ada, ['doomed']);
    const before = await tagsOf(ada, chatId);
    expect(
      (await app.inject({ method: 'DELETE', url: chatUrl(ada, other.chatId), headers: ada.headers })).statusCode,
    ).toBe(204);
    expect((await get(chatUrl(ada, other.chatId), ada, { 'if-none-match': '*' })).statusCode).toBe(404);
    const after = await tagsOf(ada, chatId);
    expect(after.list).not.toBe(before.list);
  });
});

describe('the view cache', () => {
  it('never serves a version another app on the same database has changed', async () => {
    const { chatId } = await newChat(ada, ['cached']);
    const second = await buildTestApp({ databaseUrl, upstreamUrl: upstream.url });
    try {
      for (const view of ['', '/tree']) {
        const first = await get(chatUrl(ada, chatId) + view, ada);
        expect((await get(chatUrl(ada, chatId) + view, ada)).body).toBe(first.body);
      }
      const renamed = await second.inject({
        method: 'PATCH',
        url: chatUrl(ada, chatId),
        headers: ada.headers,
        payload: { title: 'Renamed elsewhere' },
      });
      expect(renamed.statusCode).toBe(200);
      expect((await get(chatUrl(ada, chatId), ada)).json()).toMatchObject({ title: 'Renamed elsewhere' });
      const asked = await ask(second, ada, { chat_id: chatId, question: 'asked elsewhere' });
      expect(asked.statusCode).toBe(200);
      const view = await get(chatUrl(ada, chatId), ada);
      expect(view.json<{ qa_pairs: { question: string }[] }>().qa_pairs.map((pair) => pair.question)).toEqual([
        'cached',
        'asked elsewhere',
      ]);
      const tree = await get(`${chatUrl(ada, chatId)}/tree`, ada);
      expect(tree.json<{ nodes: unknown[] }>().nodes).toHaveLength(2);
      expect(view.headers.etag).toBe((await get(chatUrl(ada, chatId), ada, {}, second)).headers.etag);
    } finally {
      await second.close();
    }
  });

  it('serves the same bytes as no cache at all', async () => {
    const { chatId } = await newChat(ada, ['same bytes', 'with "quotes" and \u2028']);
    const uncached = await buildTestApp({ databaseUrl, upstreamUrl: upstream.url, env: { VIEW_CACHE_MB: '0' } });
    try {
      for (const view of ['', '/tree']) {
        const url = chatUrl(ada, chatId) + view;
        await get(url, ada);
        const cached = await get(url, ada);
        const fresh = await get(url, ada, {}, uncached);
        expect(cached.body).toBe(fresh.body);
        expect(cached.headers.etag).toBe(fresh.headers.etag);
        expect(cached.headers['content-type']).toBe('application/json; charset=utf-8');
      }
    } finally {
      await uncached.close();
    }
  });
});
