import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { RANK_WINDOW } from '../src/domain/search.js';
import { ask, createUser, type TestUser } from './helpers/app.js';
import { sendJson } from './helpers/fake-upstream.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';

const temp = useTempDir();
const upstream = useFakeUpstream();
let app: App;
let ada: TestUser;
let bob: TestUser;

/** What the fake chatbot answers, by question. */
const ANSWERS: Record<string, { answer: string; search_results?: { url: string; name: string; snippet: string }[] }> = {
  'Where do red foxes live?': {
    answer: 'Red foxes live across the northern hemisphere.',
    search_results: [
      { url: 'https://en.wikipedia.org/wiki/Red_fox', name: 'Red fox', snippet: 'The red fox is the largest true fox' },
    ],
  },
  'Best café in Lisbon?': {
    answer: 'Try a pastelaria near the river for café au lait.',
    search_results: [{ url: 'https://www.timeout.com/lisbon/cafes', name: 'Lisbon cafés', snippet: 'Coffee guide' }],
  },
  'What do wolves eat?': {
    answer: 'Wolves mostly hunt large hoofed mammals; a fox is rarely on the menu.',
    search_results: [{ url: 'https://news.nationalgeographic.com/wolves', name: 'Wolves', snippet: 'Predators' }],
  },
  'Explain SQLite write-ahead logging': { answer: 'The WAL lets readers continue while a writer appends.' },
};

interface Hit {
  chat_id: string;
  chat_title: string;
  qa_pair_id: string | null;
  matched_in: string[];
  snippet: string;
  score: number | null;
  created_at: string;
  path: string[];
  branch_id: string | null;
}
interface SearchPage {
  data: Hit[];
  has_more: boolean;
  next_cursor: string | null;
}

async function search(user: TestUser, query: Record<string, string>) {
  const params = new URLSearchParams(query);
  return app.inject({ method: 'GET', url: `/v1/users/${user.id}/search?${params.toString()}`, headers: user.headers });
}

async function searchOk(user: TestUser, query: Record<string, string>): Promise<SearchPage> {
  const response = await search(user, query);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<SearchPage>();
}

const chatIds: Record<string, string> = {};
const pairIds: Record<string, string> = {};

upstream.setHandler((request, res) => {
  const messages = (request.body as { messages: { content: string }[] }).messages;
  const question = messages.at(-1)?.content ?? '';
  sendJson(res, 200, ANSWERS[question] ?? { answer: `Generic answer to ${question}` });
});
useTestApp({ databaseUrl: join(temp.dir, 'search.db'), upstream }, async (suite) => {
  app = suite.app;
  ada = await createUser(app, 'Ada');
  bob = await createUser(app, 'Bob');
  for (const question of Object.keys(ANSWERS)) {
    const body = (await ask(app, ada, { question })).json<{ chat_id: string; qa_pair: { id: string } }>();
    chatIds[question] = body.chat_id;
    pairIds[question] = body.qa_pair.id;
  }
  // Bob uses the same words: none of it may ever reach Ada.
  await ask(app, bob, { question: 'Where do red foxes live? (Bob asking)' });
});

describe('GET /v1/users/{user_id}/search', () => {
  it('ranks a question match above answer-only and source-only matches, with highlights', async () => {
    const page = await searchOk(ada, { q: 'fox' });
    const ids = page.data.map((hit) => hit.qa_pair_id);
    expect(ids).toContain(pairIds['Where do red foxes live?']);
    expect(ids).toContain(pairIds['What do wolves eat?']);
    // The fox question (and its title) beat the wolf answer that mentions a fox in passing.
    expect(ids.indexOf(pairIds['Where do red foxes live?'] ?? '')).toBeLessThan(
      ids.indexOf(pairIds['What do wolves eat?'] ?? ''),
    );
    const foxHit = page.data.find((hit) => hit.qa_pair_id === pairIds['Where do red foxes live?']);
    expect(foxHit?.matched_in).toEqual(expect.arrayContaining(['question', 'answer', 'sources']));
    expect(foxHit?.snippet).toMatch(/<mark>fox(es)?<\/mark>/i);
    const wolfHit = page.data.find((hit) => hit.qa_pair_id === pairIds['What do wolves eat?']);
    expect(wolfHit?.matched_in).toEqual(['answer']);
    // Scores are ordered.
    const scores = page.data.map((hit) => hit.score ?? 0);
    expect([...scores].sort((a, b) => a - b)).toEqual(scores);
  });

  it('matches stems, accents, phrases and prefixes', async () => {
    const foxes = await searchOk(ada, { q: 'fox' });
    expect(foxes.data.map((hit) => hit.qa_pair_id)).toContain(pairIds['Where do red foxes live?']);
    const hunting = await searchOk(ada, { q: 'hunting' });
    expect(hunting.data.map((hit) => hit.qa_pair_id)).toContain(pairIds['What do wolves eat?']);
    const cafe = await searchOk(ada, { q: 'cafe' });
    expect(cafe.data.map((hit) => hit.qa_pair_id)).toContain(pairIds['Best café in Lisbon?']);
    const phrase = await searchOk(ada, { q: '"au lait"' });
    expect(phrase.data.map((hit) => hit.qa_pair_id)).toEqual([pairIds['Best café in Lisbon?']]);
    const notAPhrase = await searchOk(ada, { q: '"lait au"' });
    expect(notAPhrase.data).toEqual([]);
    const prefix = await searchOk(ada, { q: 'pastel*' });
    expect(prefix.data.map((hit) => hit.qa_pair_id)).toEqual([pairIds['Best café in Lisbon?']]);
    const all = await searchOk(ada, { q: 'readers writer' });
    expect(all.data.map((hit) => hit.qa_pair_id)).toEqual([pairIds['Explain SQLite write-ahead logging']]);
  });

  it('finds chat titles, and follows renames at once', async () => {
    const chatId = chatIds['Explain SQLite write-ahead logging'] ?? '';
    await app.inject({
      method: 'PATCH',
      url: `/v1/users/${ada.id}/chats/${chatId}`,
      headers: ada.headers,
      payload: { title: 'Database durability notes' },
    });
    const byTitle = await searchOk(ada, { q: 'durability' });
    expect(byTitle.data).toEqual([
      expect.objectContaining({
        chat_id: chatId,
        qa_pair_id: null,
        matched_in: ['title'],
        chat_title: 'Database durability notes',
      }),
    ]);
    const oldTitle = await searchOk(ada, { q: 'explain', chat_id: chatId });
    // The old title is gone from the index; the question still says "Explain".
    expect(oldTitle.data.every((hit) => hit.qa_pair_id !== null)).toBe(true);
  });

  it("never shows another user's text, and refuses another user's chat", async () => {
    const page = await searchOk(ada, { q: 'Bob asking' });
    expect(page.data).toEqual([]);
    const bobs = await searchOk(bob, { q: 'foxes' });
    expect(bobs.data.length).toBeGreaterThan(0);
    expect(bobs.data.every((hit) => !Object.values(chatIds).includes(hit.chat_id))).toBe(true);
    const foreignChat = await search(bob, { q: 'fox', chat_id: chatIds['Where do red foxes live?'] ?? '' });
    expect(foreignChat.statusCode).toBe(404);
    const otherUser = await search(bob, { q: 'fox' });
    expect(otherUser.statusCode).toBe(200);
    const asAda = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/search?q=fox`, headers: bob.headers });
    expect(asAda.statusCode).toBe(403);
  });

  it('filters by cited site, subdomains included, with or without a text query', async () => {
    const wiki = await searchOk(ada, { source: 'wikipedia.org' });
    expect(wiki.data.map((hit) => hit.qa_pair_id)).toEqual([pairIds['Where do red foxes live?']]);
    expect(wiki.data[0]?.matched_in).toEqual(['sources']);
    const www = await searchOk(ada, { source: 'www.timeout.com' });
    expect(www.data.map((hit) => hit.qa_pair_id)).toEqual([pairIds['Best café in Lisbon?']]);
    const combined = await searchOk(ada, { q: 'fox', source: 'nationalgeographic.com' });
    expect(combined.data.map((hit) => hit.qa_pair_id)).toEqual([pairIds['What do wolves eat?']]);
    const lookalike = await searchOk(ada, { source: 'pedia.org' });
    expect(lookalike.data).toEqual([]);
    for (const source of ['.', '..', '...']) expect((await search(ada, { source })).statusCode).toBe(400);
  });

  it('filters by time and by chat', async () => {
    const future = await searchOk(ada, { q: 'fox', since: '2999-01-01T00:00:00Z' });
    expect(future.data).toEqual([]);
    const past = await searchOk(ada, { q: 'fox', until: '2000-01-01T00:00:00Z' });
    expect(past.data).toEqual([]);
    const inChat = await searchOk(ada, { q: 'fox', chat_id: chatIds['What do wolves eat?'] ?? '' });
    expect(inChat.data.map((hit) => hit.qa_pair_id)).toEqual([pairIds['What do wolves eat?']]);
    const reversed = await search(ada, { q: 'fox', since: '2030-01-01T00:00:00Z', until: '2020-01-01T00:00:00Z' });
    expect(reversed.statusCode).toBe(400);
  });

  it('pages through the ranking with a cursor, each hit once', async () => {
    for (let index = 0; index < 5; index += 1)
      await ask(app, ada, { question: `Paging question about otters ${index}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const body: SearchPage = await searchOk(ada, { q: 'otters', limit: '2', ...(cursor ? { cursor } : {}) });
      seen.push(...body.data.map((hit) => `${hit.qa_pair_id ?? hit.chat_id}`));
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    // Five pairs and five titles (each chat is titled after its question).
    expect(seen).toHaveLength(10);
    expect(new Set(seen).size).toBe(10);
    const forged = await search(ada, { q: 'otters', cursor: 'bm90LWEtY3Vyc29y' });
    expect(forged.statusCode).toBe(400);
  });

  it('gives the path and a branch to open a hit on another branch', async () => {
    const chatId = chatIds['Where do red foxes live?'] ?? '';
    const root = pairIds['Where do red foxes live?'] ?? '';
    await ask(app, ada, { chat_id: chatId, question: 'And arctic foxes?' });
    const forked = (
      await ask(app, ada, { chat_id: chatId, parent_id: root, question: 'What about fennec foxes?' })
    ).json<{
      branch_id: string;
      qa_pair: { id: string };
    }>();
    // Switch back to main: the hit is now off the active branch.
    const branches = await app.inject({
      method: 'GET',
      url: `/v1/users/${ada.id}/chats/${chatId}/branches`,
      headers: ada.headers,
    });
    const main = branches
      .json<{ data: { id: string; name: string | null }[] }>()
      .data.find((branch) => branch.name === 'main');
    await app.inject({
      method: 'PUT',
      url: `/v1/users/${ada.id}/chats/${chatId}/active-branch`,
      headers: ada.headers,
      payload: { branch_id: main?.id },
    });
    const page = await searchOk(ada, { q: 'fennec' });
    expect(page.data).toEqual([
      expect.objectContaining({
        qa_pair_id: forked.qa_pair.id,
        path: [root, forked.qa_pair.id],
        branch_id: forked.branch_id,
      }),
    ]);
  });

  it('drops deleted chats and branches from the index at once', async () => {
    const temporary = (await ask(app, ada, { question: 'Ephemeral zebra question' })).json<{
      chat_id: string;
      qa_pair: { id: string };
    }>();
    expect((await searchOk(ada, { q: 'zebra' })).data.length).toBeGreaterThan(0);
    await ask(app, ada, { chat_id: temporary.chat_id, parent_id: temporary.qa_pair.id, question: 'Quagga follow-up' });
    const branches = await app.inject({
      method: 'GET',
      url: `/v1/users/${ada.id}/chats/${temporary.chat_id}/branches`,
      headers: ada.headers,
    });
    const list = branches.json<{ data: { id: string; active: boolean }[] }>().data;
    expect(list).toHaveLength(1); // asking after the head continued main
    await app.inject({ method: 'DELETE', url: `/v1/users/${ada.id}/chats/${temporary.chat_id}`, headers: ada.headers });
    expect((await searchOk(ada, { q: 'zebra' })).data).toEqual([]);
    expect((await searchOk(ada, { q: 'quagga' })).data).toEqual([]);

    const chat = (await ask(app, ada, { question: 'Branch delete okapi' })).json<{
      chat_id: string;
      qa_pair: { id: string };
      branch_id: string;
    }>();
    const other = (
      await ask(app, ada, { chat_id: chat.chat_id, parent_id: null, question: 'Unrelated giraffe root' })
    ).json<{
      branch_id: string;
    }>();
    expect((await searchOk(ada, { q: 'giraffe' })).data).toHaveLength(1);
    await app.inject({
      method: 'DELETE',
      url: `/v1/users/${ada.id}/chats/${chat.chat_id}/branches/${other.branch_id}?activate_branch_id=${chat.branch_id}`,
      headers: ada.headers,
    });
    expect((await searchOk(ada, { q: 'giraffe' })).data).toEqual([]);
    expect((await searchOk(ada, { q: 'okapi' })).data.length).toBeGreaterThan(0);
  });

  it.each([
    ['"'],
    ['*'],
    ['-'],
    ['NEAR('],
    ['NEAR(fox wolf, 2)'],
    ['fox AND'],
    ['OR fox'],
    ['NOT'],
    ['"unbalanced fox'],
    ['fox"'],
    ['title:fox'],
    ['scope:u123'],
    ['{title}: fox'],
    ['fox^2'],
    ['(fox'],
    ["'; DROP TABLE chats; --"],
    ['\u0000fox'],
    ['ᚠᛇᚻ ⚡ 🦊'],
    ['x'.repeat(500)],
    [Array.from({ length: 40 }, (_, index) => `w${index}`).join(' ')],
  ])('answers a hostile query %j with 200 or 400, never a 5xx', async (q) => {
    const response = await search(ada, { q });
    expect([200, 400]).toContain(response.statusCode);
    if (response.statusCode === 400)
      expect(response.json()).toMatchObject({ code: expect.stringMatching(/INVALID_QUERY|VALIDATION_ERROR/) });
  });

  it('ranks a very common word among its newest matches; a specific query still finds older ones', async () => {
    const carol = await createUser(app, 'Carol');
    const at = '2026-01-01T00:00:00.000Z';
    const count = RANK_WINDOW + 50;
    // The first pair would rank best on its own ("harbour" four times); it is older than the window.
    const pairs = Array.from({ length: count }, (_, index) => ({
      id: `p${index}`,
      parent_id: index === 0 ? null : `p${index - 1}`,
      question:
        index === 0
          ? 'harbour harbour harbour lighthouse'
          : `A longer note about the harbour and the town, number ${index}`,
      answer: 'ok',
      search_results: [],
      status: 'answered',
      error: null,
      created_at: at,
      answered_at: at,
      provider: 'you',
      model: null,
      upstream_request_id: null,
      history_turns: 0,
      latency_ms: null,
    }));
    const exported = {
      format: 'chat-history.chat',
      version: 1,
      chat: {
        id: 'harbour-chat',
        title: 'Notes',
        created_at: at,
        updated_at: at,
        settings: { system_prompt: null, model: null, history_max_turns: null },
        active_branch_id: 'main',
        forked_from: null,
      },
      qa_pairs: pairs,
      branches: [
        {
          id: 'main',
          name: 'main',
          fork_qa_pair_id: null,
          head_qa_pair_id: `p${count - 1}`,
          created_at: at,
          updated_at: at,
        },
      ],
    };
    const imported = await app.inject({
      method: 'POST',
      url: `/v1/users/${carol.id}/chats/import`,
      headers: { ...carol.headers, 'content-type': 'application/json' },
      payload: exported,
    });
    expect(imported.statusCode, imported.body).toBe(200);

    const specific = await searchOk(carol, { q: 'harbour lighthouse' });
    expect(specific.data).toHaveLength(1);
    expect(specific.data[0]?.snippet).toContain('<mark>lighthouse</mark>');
    const oldest = specific.data[0]?.qa_pair_id;
    const common = await searchOk(carol, { q: 'harbour', limit: '50' });
    expect(common.data).toHaveLength(50);
    expect(common.data.map((hit) => hit.qa_pair_id)).not.toContain(oldest);
  });

  it('refuses dates outside the years 1 to 9999 with a 400 (PostgreSQL has no year 0)', async () => {
    for (const since of ['0000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z']) {
      const response = await search(ada, { q: 'fox', since });
      expect(response.statusCode, since).toBe(400);
    }
    expect((await search(ada, { q: 'fox', since: '0001-01-01T00:00:00Z' })).statusCode).toBe(200);
  });

  it('treats FTS operators as literal words that must be present', async () => {
    // "near" is just a word: only the café answer ("near the river") has it, and no fox.
    expect((await searchOk(ada, { q: 'fox NEAR' })).data).toEqual([]);
    expect((await searchOk(ada, { q: 'river NEAR' })).data.map((hit) => hit.qa_pair_id)).toEqual([
      pairIds['Best café in Lisbon?'],
    ]);
    const scoped = await searchOk(ada, { q: 'scope:u123' });
    expect(scoped.data).toEqual([]);
    expect((await search(ada, { q: '*' })).statusCode).toBe(400);
    expect((await search(ada, { q: 'x'.repeat(501) })).statusCode).toBe(400);
    expect((await search(ada, {})).statusCode).toBe(400);
    // Control characters separate words like spaces.
    expect((await searchOk(ada, { q: 'river\u0000near' })).data.map((hit) => hit.qa_pair_id)).toEqual([
      pairIds['Best café in Lisbon?'],
    ]);
  });
});
