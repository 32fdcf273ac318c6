import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, createUser, tableCounts, type TestUser } from './helpers/app.js';
import { sendJson } from './helpers/fake-upstream.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';

const temp = useTempDir();
const upstream = useFakeUpstream();
let app: App;
let ada: TestUser;
let bob: TestUser;

upstream.setHandler((request, res) => {
  const question = (request.body as { messages: { content: string }[] }).messages.at(-1)?.content ?? '';
  if (question.includes('fail')) return sendJson(res, 500, {});
  sendJson(res, 200, {
    answer: `Answer to ${question}`,
    search_results: [
      { url: `https://example.com/${encodeURIComponent(question)}`, name: `Source [${question}]`, snippet: 'snip' },
    ],
  });
});
useTestApp({ databaseUrl: join(temp.dir, 'portability.db'), upstream }, async (suite) => {
  app = suite.app;
  ada = await createUser(app, 'Ada');
  bob = await createUser(app, 'Bob');
});

interface Exported {
  format: string;
  version: number;
  chat: {
    id: string;
    title: string;
    created_at: string;
    updated_at: string;
    settings: Record<string, unknown>;
    active_branch_id: string;
    forked_from: unknown;
  };
  qa_pairs: {
    id: string;
    parent_id: string | null;
    question: string;
    answer: string | null;
    status: string;
    search_results: unknown[];
    created_at: string;
  }[];
  branches: { id: string; name: string | null; fork_qa_pair_id: string | null; head_qa_pair_id: string | null }[];
}
interface Report {
  imported: number;
  skipped: number;
  failed: number;
  results: {
    index: number;
    status: string;
    chat_id: string | null;
    error: string | null;
    qa_pairs: number;
    branches: number;
    source_id: string | null;
  }[];
}

/** A chat with two branches, settings, sources and a failed pair. */
async function branchedChat(user: TestUser): Promise<string> {
  const created = await app.inject({
    method: 'POST',
    url: `/v1/users/${user.id}/chats`,
    headers: user.headers,
    payload: { title: 'Travel plans', settings: { system_prompt: 'Be concise.', history_max_turns: 7 } },
  });
  const chatId = created.json<{ id: string }>().id;
  const first = (await ask(app, user, { chat_id: chatId, question: 'Plan Lisbon' })).json<{
    qa_pair: { id: string };
  }>();
  await ask(app, user, { chat_id: chatId, question: 'Add food' });
  await ask(app, user, { chat_id: chatId, question: 'this one will fail' });
  await ask(app, user, { chat_id: chatId, parent_id: first.qa_pair.id, question: 'Plan Porto instead' });
  return chatId;
}

const exportChat = async (user: TestUser, chatId: string, format = 'json') =>
  app.inject({
    method: 'GET',
    url: `/v1/users/${user.id}/chats/${chatId}/export?format=${format}`,
    headers: user.headers,
  });

/** The content of an export with ids replaced by positions, to compare across imports. */
function normalize(exported: Exported) {
  const index = new Map(exported.qa_pairs.map((pair, position) => [pair.id, position]));
  const branchIndex = new Map(exported.branches.map((branch, position) => [branch.id, position]));
  const at = (id: string | null) => (id === null ? null : index.get(id));
  return {
    chat: {
      ...exported.chat,
      id: undefined,
      forked_from: undefined,
      import_source: undefined,
      active_branch_id: branchIndex.get(exported.chat.active_branch_id),
    },
    qa_pairs: exported.qa_pairs.map((pair) => ({ ...pair, id: undefined, parent_id: at(pair.parent_id) })),
    branches: exported.branches.map((branch) => ({
      ...branch,
      id: undefined,
      fork_qa_pair_id: at(branch.fork_qa_pair_id),
      head_qa_pair_id: at(branch.head_qa_pair_id),
    })),
  };
}

describe('export', () => {
  it('exports one chat losslessly as JSON: branches, settings, sources, failures, the active branch', async () => {
    const chatId = await branchedChat(ada);
    const response = await exportChat(ada, chatId);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/application\/json/);
    const exported = response.json<Exported>();
    expect(exported).toMatchObject({
      format: 'chat-history.chat',
      version: 1,
      chat: { id: chatId, title: 'Travel plans' },
    });
    expect(exported.chat.settings).toEqual({ system_prompt: 'Be concise.', model: null, history_max_turns: 7 });
    expect(exported.qa_pairs.map((pair) => [pair.question, pair.status])).toEqual([
      ['Plan Lisbon', 'answered'],
      ['Add food', 'answered'],
      ['this one will fail', 'failed'],
      ['Plan Porto instead', 'answered'],
    ]);
    expect(exported.qa_pairs[0]?.search_results).toHaveLength(1);
    expect(exported.branches).toHaveLength(2);
    const porto = exported.qa_pairs[3];
    const active = exported.branches.find((branch) => branch.id === exported.chat.active_branch_id);
    expect(active?.head_qa_pair_id).toBe(porto?.id);
    expect(active?.fork_qa_pair_id).toBe(exported.qa_pairs[0]?.id);
  });

  it('exports the active branch as Markdown with sources as links', async () => {
    const chatId = await branchedChat(ada);
    const response = await exportChat(ada, chatId, 'markdown');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/markdown/);
    const markdown = response.body;
    expect(markdown.startsWith('# Travel plans\n')).toBe(true);
    expect(markdown).toContain('Plan Lisbon');
    expect(markdown).toContain('Plan Porto instead');
    expect(markdown).not.toContain('Add food'); // on the other branch
    expect(markdown).toContain('- [Source \\[Plan Lisbon\\]](<https://example.com/Plan%20Lisbon>)');
  });

  it('streams every chat of the user as NDJSON, and only theirs', async () => {
    const dave = await createUser(app, 'Dave');
    const ids = [
      await branchedChat(dave),
      (await ask(app, dave, { question: 'Second chat' })).json<{ chat_id: string }>().chat_id,
    ];
    await ask(app, bob, { question: 'Bob only' });
    const response = await app.inject({ method: 'GET', url: `/v1/users/${dave.id}/export`, headers: dave.headers });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/application\/x-ndjson/);
    const lines = response.body
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Exported);
    expect(lines.map((line) => line.chat.id).sort()).toEqual([...ids].sort());
    expect(response.body).not.toContain('Bob only');
  });

  it("refuses another user's chat and another user's id", async () => {
    const chatId = await branchedChat(ada);
    expect((await exportChat(bob, chatId)).statusCode).toBe(404);
    const wrongUser = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/export`, headers: bob.headers });
    expect(wrongUser.statusCode).toBe(403);
    const wrongImport = await app.inject({
      method: 'POST',
      url: `/v1/users/${ada.id}/chats/import`,
      headers: bob.headers,
      payload: [],
    });
    expect(wrongImport.statusCode).toBe(403);
  });
});

describe('import', () => {
  it('round-trips: export, import into another user, export again gives the same content', async () => {
    const erin = await createUser(app, 'Erin');
    const frank = await createUser(app, 'Frank');
    await branchedChat(erin);
    await ask(app, erin, { question: 'A plain chat' });
    const all = await app.inject({ method: 'GET', url: `/v1/users/${erin.id}/export`, headers: erin.headers });

    const imported = await app.inject({
      method: 'POST',
      url: `/v1/users/${frank.id}/chats/import`,
      headers: { ...frank.headers, 'content-type': 'application/x-ndjson' },
      payload: all.body,
    });
    expect(imported.statusCode, imported.body).toBe(200);
    const report = imported.json<Report>();
    expect(report).toMatchObject({ imported: 2, skipped: 0, failed: 0 });

    const again = await app.inject({ method: 'GET', url: `/v1/users/${frank.id}/export`, headers: frank.headers });
    const parse = (body: string) =>
      body
        .trimEnd()
        .split('\n')
        .map((line) => normalize(JSON.parse(line) as Exported))
        .sort((a, b) => a.chat.title.localeCompare(b.chat.title));
    expect(parse(again.body)).toEqual(parse(all.body));

    // The imported chat works like any other: GET, search and asking continue on its active branch.
    const portoChat = report.results.find((result) => result.branches === 2)?.chat_id ?? '';
    const view = await app.inject({
      method: 'GET',
      url: `/v1/users/${frank.id}/chats/${portoChat}`,
      headers: frank.headers,
    });
    expect(view.json<{ qa_pairs: { question: string }[] }>().qa_pairs.map((pair) => pair.question)).toEqual([
      'Plan Lisbon',
      'Plan Porto instead',
    ]);
    const found = await app.inject({
      method: 'GET',
      url: `/v1/users/${frank.id}/search?q=porto`,
      headers: frank.headers,
    });
    expect(found.json<{ data: unknown[] }>().data.length).toBeGreaterThan(0);
    await ask(app, frank, { chat_id: portoChat, question: 'And the beaches?' });
    const messages = (upstream.requests.at(-1)?.body as { messages: { content: string }[] }).messages.map(
      (message) => message.content,
    );
    expect(messages).toEqual([
      'Plan Lisbon',
      'Answer to Plan Lisbon',
      'Plan Porto instead',
      'Answer to Plan Porto instead',
      'And the beaches?',
    ]);
  });

  it('skips a chat imported before instead of duplicating it', async () => {
    const gina = await createUser(app, 'Gina');
    const chatId = await branchedChat(ada);
    const exported = (await exportChat(ada, chatId)).json<Exported>();
    const url = `/v1/users/${gina.id}/chats/import`;
    const first = await app.inject({ method: 'POST', url, headers: gina.headers, payload: exported });
    expect(first.json<Report>()).toMatchObject({ imported: 1 });
    const before = await tableCounts(app);
    const second = await app.inject({ method: 'POST', url, headers: gina.headers, payload: exported });
    expect(second.json<Report>()).toMatchObject({
      imported: 0,
      skipped: 1,
      results: [{ status: 'skipped', chat_id: first.json<Report>().results[0]?.chat_id }],
    });
    expect(await tableCounts(app)).toEqual(before);
  });

  it('imports a ChatGPT export with regenerated answers and an edited question as branches', async () => {
    const hana = await createUser(app, 'Hana');
    const t = 1_700_000_000;
    const node = (
      id: string,
      parent: string | null,
      children: string[],
      role: string | null,
      text: string,
      time: number,
    ) => ({
      id,
      parent,
      children,
      message:
        role === null
          ? null
          : { id, author: { role }, create_time: t + time, content: { content_type: 'text', parts: [text] } },
    });
    const conversation = {
      title: 'Café recipes',
      create_time: t,
      update_time: t + 100,
      conversation_id: 'conv-1',
      current_node: 'a2b',
      mapping: {
        root: node('root', null, ['sys'], null, '', 0),
        sys: node('sys', 'root', ['u1'], 'system', '', 1),
        u1: node('u1', 'sys', ['a1', 'a1b'], 'user', 'How do I make a flat white?', 2),
        a1: node('a1', 'u1', ['u2', 'u2b'], 'assistant', 'Steam milk and pour over a double ristretto.', 3),
        a1b: node('a1b', 'u1', [], 'assistant', 'Regenerated: use a double shot.', 4),
        u2: node('u2', 'a1', ['a2'], 'user', 'And a cortado?', 5),
        a2: node('a2', 'u2', [], 'assistant', 'Equal parts espresso and warm milk.', 6),
        u2b: node('u2b', 'a1', ['a2b'], 'user', 'And a cappuccino? (edited)', 7),
        a2b: node('a2b', 'u2b', [], 'assistant', 'A third each of espresso, milk and foam.', 8),
      },
    };
    const response = await app.inject({
      method: 'POST',
      url: `/v1/users/${hana.id}/chats/import`,
      headers: hana.headers,
      payload: [conversation],
    });
    expect(response.statusCode, response.body).toBe(200);
    const report = response.json<Report>();
    expect(report.results[0]).toMatchObject({
      status: 'imported',
      source_id: 'chatgpt:conv-1',
      qa_pairs: 4,
      branches: 3,
    });
    const chatId = report.results[0]?.chat_id ?? '';

    // The active branch is the one through current_node, named main.
    const view = await app.inject({
      method: 'GET',
      url: `/v1/users/${hana.id}/chats/${chatId}`,
      headers: hana.headers,
    });
    const chat = view.json<{ title: string; qa_pairs: { question: string; answer: string; siblings: unknown[] }[] }>();
    expect(chat.title).toBe('Café recipes');
    expect(chat.qa_pairs.map((pair) => [pair.question, pair.answer])).toEqual([
      ['How do I make a flat white?', 'Steam milk and pour over a double ristretto.'],
      ['And a cappuccino? (edited)', 'A third each of espresso, milk and foam.'],
    ]);
    expect(chat.qa_pairs[0]?.siblings).toHaveLength(2); // the regenerated answer
    expect(chat.qa_pairs[1]?.siblings).toHaveLength(2); // the edited question
    const branches = await app.inject({
      method: 'GET',
      url: `/v1/users/${hana.id}/chats/${chatId}/branches`,
      headers: hana.headers,
    });
    const list = branches.json<{
      data: { name: string | null; active: boolean; length: number; last_question: string }[];
    }>().data;
    expect(list.find((branch) => branch.active)).toMatchObject({
      name: 'main',
      length: 2,
      last_question: 'And a cappuccino? (edited)',
    });
    expect(list.map((branch) => branch.length).sort()).toEqual([1, 2, 2]);

    // Importing the same conversation again is skipped.
    const again = await app.inject({
      method: 'POST',
      url: `/v1/users/${hana.id}/chats/import`,
      headers: hana.headers,
      payload: [conversation],
    });
    expect(again.json<Report>()).toMatchObject({ imported: 0, skipped: 1 });
  });

  it('imports the good chats of a file and reports, without writing, the broken ones', async () => {
    const ivan = await createUser(app, 'Ivan');
    const good = (await exportChat(ada, await branchedChat(ada))).json<Exported>();
    const badParent = structuredClone(good);
    badParent.chat.id = 'another-source';
    if (badParent.qa_pairs[1]) badParent.qa_pairs[1].parent_id = 'missing-pair';
    const badBranch = structuredClone(good);
    badBranch.chat.id = 'third-source';
    badBranch.chat.active_branch_id = 'nope';
    const before = await tableCounts(app);
    const response = await app.inject({
      method: 'POST',
      url: `/v1/users/${ivan.id}/chats/import`,
      headers: ivan.headers,
      payload: [good, badParent, badBranch, { format: 'chat-history.chat', version: 2 }],
    });
    expect(response.statusCode).toBe(200);
    const report = response.json<Report>();
    expect(report).toMatchObject({ imported: 1, failed: 3 });
    expect(report.results.map((result) => result.status)).toEqual(['imported', 'failed', 'failed', 'failed']);
    expect(report.results[1]?.error).toMatch(/unknown parent_id/);
    expect(report.results[2]?.error).toMatch(/active_branch_id/);
    expect((await tableCounts(app)).chats).toBe(before.chats + 1);
    expect((await tableCounts(app)).qa_pairs).toBe(before.qa_pairs + good.qa_pairs.length);
  });

  it('follows ChatGPT answers through tool calls and reasoning to the final text', async () => {
    const jun = await createUser(app, 'Jun');
    const t = 1_700_000_000;
    const message = (role: string, contentType: string, content: Record<string, unknown>) => ({
      author: { role },
      create_time: t,
      content: { content_type: contentType, ...content },
    });
    const conversation = {
      id: 'conv-tools',
      title: 'Tools and thoughts',
      create_time: t,
      current_node: 'final2',
      mapping: {
        u1: {
          id: 'u1',
          parent: null,
          children: ['code'],
          message: message('user', 'text', { parts: ['weather in Paris?'] }),
        },
        code: {
          id: 'code',
          parent: 'u1',
          children: ['tool'],
          message: message('assistant', 'code', { text: 'search("weather Paris")' }),
        },
        tool: {
          id: 'tool',
          parent: 'code',
          children: ['final'],
          message: message('tool', 'text', { parts: ['{"temp": 18}'] }),
        },
        final: {
          id: 'final',
          parent: 'tool',
          children: ['u2'],
          message: message('assistant', 'text', { parts: ['18 °C and sunny.'] }),
        },
        u2: {
          id: 'u2',
          parent: 'final',
          children: ['thoughts'],
          message: message('user', 'text', { parts: ['what is 2+2'] }),
        },
        thoughts: {
          id: 'thoughts',
          parent: 'u2',
          children: ['final2'],
          message: message('assistant', 'thoughts', { thoughts: [] }),
        },
        final2: {
          id: 'final2',
          parent: 'thoughts',
          children: [],
          message: message('assistant', 'text', { parts: ['4'] }),
        },
      },
    };
    const response = await app.inject({
      method: 'POST',
      url: `/v1/users/${jun.id}/chats/import`,
      headers: jun.headers,
      payload: [conversation],
    });
    const report = response.json<Report>();
    expect(report.results[0]).toMatchObject({ status: 'imported', qa_pairs: 2, branches: 1 });
    const chatId = report.results[0]?.chat_id ?? '';
    const view = await app.inject({ method: 'GET', url: `/v1/users/${jun.id}/chats/${chatId}`, headers: jun.headers });
    expect(view.json<{ qa_pairs: { question: string; answer: string; status: string }[] }>().qa_pairs).toMatchObject([
      { question: 'weather in Paris?', answer: '18 °C and sunny.', status: 'answered' },
      { question: 'what is 2+2', answer: '4', status: 'answered' },
    ]);
  });

  it('reports unusable dates, settings and branch shapes per chat and writes none of them', async () => {
    const kim = await createUser(app, 'Kim');
    const good = (await exportChat(ada, await branchedChat(ada))).json<Exported>();
    const variant = (change: (copy: Exported) => void, id: string) => {
      const copy = structuredClone(good);
      copy.chat.id = id;
      change(copy);
      return copy;
    };
    const badDate = variant((copy) => {
      if (copy.qa_pairs[0]) copy.qa_pairs[0].created_at = '2016-12-31T23:59:60Z';
    }, 'bad-date');
    const badSettings = variant((copy) => {
      copy.chat.settings = { system_prompt: '   ', model: null, history_max_turns: null };
    }, 'bad-settings');
    const negativeHistory = variant((copy) => {
      copy.chat.settings = { system_prompt: null, model: null, history_max_turns: -1 };
    }, 'negative-history');
    const strayFork = variant((copy) => {
      const second = copy.branches[1];
      if (second) second.fork_qa_pair_id = copy.qa_pairs[2]?.id ?? null; // on the other branch only
    }, 'stray-fork');
    const orphan = variant((copy) => {
      copy.branches = copy.branches.slice(0, 1);
      copy.chat.active_branch_id = copy.branches[0]?.id ?? '';
    }, 'orphan-pairs');
    const chatgptBadTime = {
      id: 'gpt-bad-time',
      create_time: 1e20,
      mapping: {
        u: { id: 'u', parent: null, children: [], message: { author: { role: 'user' }, content: { parts: ['hi'] } } },
      },
    };
    const before = await tableCounts(app);
    const response = await app.inject({
      method: 'POST',
      url: `/v1/users/${kim.id}/chats/import`,
      headers: kim.headers,
      payload: [badDate, badSettings, negativeHistory, strayFork, orphan, chatgptBadTime],
    });
    expect(response.statusCode, response.body).toBe(200);
    const report = response.json<Report>();
    expect(report.results.map((result) => result.status)).toEqual([
      'failed',
      'failed',
      'failed',
      'failed',
      'failed',
      'failed',
    ]);
    expect(report.results[0]?.error).toMatch(/timestamp/);
    expect(report.results[1]?.error).toMatch(/system_prompt/);
    expect(report.results[3]?.error).toMatch(/not on its path/);
    expect(report.results[4]?.error).toMatch(/on no branch/);
    expect(report.results[5]?.error).toMatch(/create_time/);
    expect(await tableCounts(app)).toEqual(before);
  });

  it('exports and re-imports a chat with a very long answer', async () => {
    const long = 'x'.repeat(300_000);
    upstream.enqueue((_request, res) => sendJson(res, 200, { answer: long }));
    const asked = (await ask(app, ada, { question: 'Write a lot' })).json<{ chat_id: string }>();
    const exported = await exportChat(ada, asked.chat_id);
    expect(exported.statusCode).toBe(200);
    const lena = await createUser(app, 'Lena');
    const imported = await app.inject({
      method: 'POST',
      url: `/v1/users/${lena.id}/chats/import`,
      headers: lena.headers,
      payload: exported.json(),
    });
    expect(imported.json<Report>()).toMatchObject({ imported: 1 });
  });

  it('restoring the same backup twice, or an export into its own account, adds nothing', async () => {
    const mia = await createUser(app, 'Mia');
    await branchedChat(mia);
    const backup = (await app.inject({ method: 'GET', url: `/v1/users/${mia.id}/export`, headers: mia.headers })).body;
    const restore = async (user: TestUser, body: string) =>
      (
        await app.inject({
          method: 'POST',
          url: `/v1/users/${user.id}/chats/import`,
          headers: { ...user.headers, 'content-type': 'application/x-ndjson' },
          payload: body,
        })
      ).json<Report>();
    expect(await restore(mia, backup)).toMatchObject({ imported: 0, skipped: 1 });
    const noah = await createUser(app, 'Noah');
    expect(await restore(noah, backup)).toMatchObject({ imported: 1 });
    const second = (await app.inject({ method: 'GET', url: `/v1/users/${noah.id}/export`, headers: noah.headers }))
      .body;
    expect(await restore(noah, second)).toMatchObject({ imported: 0, skipped: 1 });
    expect(await restore(noah, backup)).toMatchObject({ imported: 0, skipped: 1 });
  });

  it.each([
    ['invalid JSON', { 'content-type': 'application/json' }, '{"format": '],
    ['an empty array', { 'content-type': 'application/json' }, '[]'],
    ['an array of numbers', { 'content-type': 'application/json' }, '[1, 2, 3]'],
    ['an unknown object', { 'content-type': 'application/json' }, '{"hello": "world"}'],
    ['NDJSON of garbage', { 'content-type': 'application/x-ndjson' }, 'not json\nstill not\n'],
    ['plain text', { 'content-type': 'text/plain' }, 'hello'],
  ])('rejects %s with a 4xx and leaves the database unchanged', async (_name, headers, payload) => {
    const before = await tableCounts(app);
    const response = await app.inject({
      method: 'POST',
      url: `/v1/users/${ada.id}/chats/import`,
      headers: { ...ada.headers, ...headers },
      payload,
    });
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.statusCode).toBeLessThan(500);
    expect(await tableCounts(app)).toEqual(before);
  });
});
