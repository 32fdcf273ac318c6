import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, bearer, createUser, tableCounts, TEST_ADMIN_KEY, type TestUser } from './helpers/app.js';
import { onPg, queryRows } from './helpers/database.js';
import { sendJson } from './helpers/fake-upstream.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';

const temp = useTempDir();
const upstream = useFakeUpstream();
let app: App;
let ada: TestUser;
let bob: TestUser;
useTestApp({ databaseUrl: join(temp.dir, 'branches.db'), upstream }, async (suite) => {
  app = suite.app;
  ada = await createUser(app, 'Ada');
  bob = await createUser(app, 'Bob');
});

/** The upstream answers "A:<question>", so every answer names its question. */
beforeEach(() => {
  upstream.reset();
  upstream.setHandler((request, res) => {
    const messages = (request.body as { messages: { content: string }[] }).messages;
    sendJson(res, 200, { answer: `A:${messages.at(-1)?.content ?? ''}` });
  });
});

interface Pair {
  id: string;
  parent_id: string | null;
  question: string;
  answer: string | null;
  status: string;
  sibling_index: number;
  siblings: { qa_pair_id: string; branch_id: string | null }[];
}
interface ChatView {
  id: string;
  active_branch_id: string;
  branch_count: number;
  qa_count: number;
  last_question: string | null;
  forked_from: { chat_id: string; qa_pair_id: string } | null;
  qa_pairs: Pair[];
}
interface Branch {
  id: string;
  name: string | null;
  fork_qa_pair_id: string | null;
  head_qa_pair_id: string | null;
  length: number;
  last_question: string | null;
  active: boolean;
}
interface Asked {
  chat_id: string;
  branch_id: string;
  qa_pair: Pair;
}

const chatUrl = (user: TestUser, chatId: string) => `/v1/users/${user.id}/chats/${chatId}`;

async function askOk(body: Record<string, unknown>, user = ada): Promise<Asked> {
  const response = await ask(app, user, body);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Asked>();
}

async function getChat(chatId: string, user = ada): Promise<ChatView> {
  const response = await app.inject({ method: 'GET', url: chatUrl(user, chatId), headers: user.headers });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<ChatView>();
}

async function listBranches(chatId: string, user = ada): Promise<Branch[]> {
  const response = await app.inject({ method: 'GET', url: `${chatUrl(user, chatId)}/branches`, headers: user.headers });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ data: Branch[] }>().data;
}

/** The user messages of the last upstream request. */
function lastSentQuestions(): string[] {
  const messages = upstream.messagesOf(upstream.requests.length - 1) as { role: string; content: string }[];
  return messages.filter((message) => message.role === 'user').map((message) => message.content);
}

/** Q1 → Q2 → Q3 on main. */
async function straightChat(): Promise<{ chatId: string; pairs: Pair[]; mainId: string }> {
  const first = await askOk({ question: 'Q1' });
  await askOk({ chat_id: first.chat_id, question: 'Q2' });
  const third = await askOk({ chat_id: first.chat_id, question: 'Q3' });
  const chat = await getChat(first.chat_id);
  return { chatId: first.chat_id, pairs: chat.qa_pairs, mainId: third.branch_id };
}

describe('asking on branches', () => {
  it('starts every chat on an active branch named main', async () => {
    const { chatId, mainId } = await straightChat();
    const chat = await getChat(chatId);
    expect(chat.active_branch_id).toBe(mainId);
    expect(chat.branch_count).toBe(1);
    const branches = await listBranches(chatId);
    expect(branches).toMatchObject([
      { id: mainId, name: 'main', length: 3, last_question: 'Q3', active: true, fork_qa_pair_id: null },
    ]);
    expect(chat.qa_pairs.every((pair) => pair.siblings.length === 1 && pair.sibling_index === 0)).toBe(true);
  });

  it('forks in the middle: sends exactly the path to the parent and makes the new branch active', async () => {
    const { chatId, pairs, mainId } = await straightChat();
    const forked = await askOk({ chat_id: chatId, parent_id: pairs[0]?.id, question: 'Q2b' });
    expect(forked.branch_id).not.toBe(mainId);
    expect(forked.qa_pair.parent_id).toBe(pairs[0]?.id);
    expect(upstream.messagesOf(upstream.requests.length - 1)).toEqual([
      { role: 'user', content: 'Q1' },
      { role: 'assistant', content: 'A:Q1' },
      { role: 'user', content: 'Q2b' },
    ]);

    const chat = await getChat(chatId);
    expect(chat.active_branch_id).toBe(forked.branch_id);
    expect(chat.qa_pairs.map((pair) => pair.question)).toEqual(['Q1', 'Q2b']);
    // The switcher at the fork point: Q2 (on main) and Q2b (here), in asking order.
    expect(chat.qa_pairs[1]?.siblings).toEqual([
      { qa_pair_id: pairs[1]?.id, branch_id: mainId },
      { qa_pair_id: forked.qa_pair.id, branch_id: forked.branch_id },
    ]);
    expect(chat.qa_pairs[1]?.sibling_index).toBe(1);

    // A plain ask now continues the new branch, never the sibling's turns.
    await askOk({ chat_id: chatId, question: 'Q3b' });
    expect(lastSentQuestions()).toEqual(['Q1', 'Q2b', 'Q3b']);
  });

  it('forks at the root with parent_id null: a new first question with no history', async () => {
    const { chatId } = await straightChat();
    const root = await askOk({ chat_id: chatId, parent_id: null, question: 'Other start' });
    expect(root.qa_pair.parent_id).toBeNull();
    expect(upstream.messagesOf(upstream.requests.length - 1)).toEqual([{ role: 'user', content: 'Other start' }]);
    const chat = await getChat(chatId);
    expect(chat.qa_pairs.map((pair) => pair.question)).toEqual(['Other start']);
    expect(chat.qa_pairs[0]?.siblings.map((sibling) => sibling.qa_pair_id)).toHaveLength(2);
  });

  it('asking after the last pair of a branch continues that branch', async () => {
    const { chatId, pairs, mainId } = await straightChat();
    const next = await askOk({ chat_id: chatId, parent_id: pairs[2]?.id, question: 'Q4' });
    expect(next.branch_id).toBe(mainId);
    expect(lastSentQuestions()).toEqual(['Q1', 'Q2', 'Q3', 'Q4']);
    expect(await listBranches(chatId)).toHaveLength(1);
  });

  it('edits a question: the edited version goes after the original parent, as a sibling', async () => {
    const { chatId, pairs } = await straightChat();
    const edited = await askOk({ chat_id: chatId, parent_id: pairs[1]?.parent_id, question: 'Q2 (edited)' });
    expect(edited.qa_pair.parent_id).toBe(pairs[0]?.id);
    expect(lastSentQuestions()).toEqual(['Q1', 'Q2 (edited)']);
  });

  it('regenerates an answer as a sibling on a new active branch, with the same history', async () => {
    const { chatId, pairs, mainId } = await straightChat();
    upstream.enqueue((_request, res) => sendJson(res, 200, { answer: 'A different answer' }));
    const response = await app.inject({
      method: 'POST',
      url: `${chatUrl(ada, chatId)}/qa_pairs/${pairs[1]?.id}/regenerate`,
      headers: ada.headers,
    });
    expect(response.statusCode, response.body).toBe(200);
    const regenerated = response.json<Asked>();
    expect(regenerated.qa_pair).toMatchObject({
      question: 'Q2',
      answer: 'A different answer',
      parent_id: pairs[0]?.id,
    });
    expect(regenerated.branch_id).not.toBe(mainId);
    expect(upstream.messagesOf(upstream.requests.length - 1)).toEqual([
      { role: 'user', content: 'Q1' },
      { role: 'assistant', content: 'A:Q1' },
      { role: 'user', content: 'Q2' },
    ]);
    const chat = await getChat(chatId);
    expect(chat.active_branch_id).toBe(regenerated.branch_id);
    expect(chat.qa_pairs.map((pair) => pair.answer)).toEqual(['A:Q1', 'A different answer']);

    // Asking on from the regenerated sibling sends its answer, not the original's.
    await askOk({ chat_id: chatId, question: 'Q3 again' });
    expect(upstream.messagesOf(upstream.requests.length - 1)).toEqual([
      { role: 'user', content: 'Q1' },
      { role: 'assistant', content: 'A:Q1' },
      { role: 'user', content: 'Q2' },
      { role: 'assistant', content: 'A different answer' },
      { role: 'user', content: 'Q3 again' },
    ]);
  });

  it('regenerates the first question with no history', async () => {
    const { chatId, pairs } = await straightChat();
    const response = await app.inject({
      method: 'POST',
      url: `${chatUrl(ada, chatId)}/qa_pairs/${pairs[0]?.id}/regenerate`,
      headers: ada.headers,
    });
    expect(response.statusCode).toBe(200);
    expect(upstream.messagesOf(upstream.requests.length - 1)).toEqual([{ role: 'user', content: 'Q1' }]);
    expect(response.json<Asked>().qa_pair.parent_id).toBeNull();
  });

  it('runs simultaneous asks on one branch in arrival order, each on the previous one', async () => {
    const { chatId } = await straightChat();
    const questions = ['c1', 'c2', 'c3', 'c4'];
    const results = await Promise.all(questions.map((question) => askOk({ chat_id: chatId, question })));
    const chat = await getChat(chatId);
    // On PostgreSQL the order among asks sent in the same instant is any (see ask.test.ts);
    // the straight line below still proves that none interleaved.
    const asked = chat.qa_pairs.map((pair) => pair.question);
    expect(onPg ? [...asked.slice(0, 3), ...asked.slice(3).sort()] : asked).toEqual(['Q1', 'Q2', 'Q3', ...questions]);
    chat.qa_pairs.forEach((pair, index) =>
      expect(pair.parent_id).toBe(index === 0 ? null : chat.qa_pairs[index - 1]?.id),
    );
    expect(new Set(results.map((result) => result.branch_id)).size).toBe(1);
  });
});

describe('managing branches', () => {
  it('creates a named branch at a pair; the next ask continues from there', async () => {
    const { chatId, pairs } = await straightChat();
    const response = await app.inject({
      method: 'POST',
      url: `${chatUrl(ada, chatId)}/branches`,
      headers: ada.headers,
      payload: { from_qa_pair_id: pairs[1]?.id, name: '  what-if ' },
    });
    expect(response.statusCode, response.body).toBe(201);
    const branch = response.json<Branch>();
    expect(branch).toMatchObject({
      name: 'what-if',
      fork_qa_pair_id: pairs[1]?.id,
      head_qa_pair_id: pairs[1]?.id,
      length: 2,
      last_question: 'Q2',
      active: true,
    });
    const chat = await getChat(chatId);
    expect(chat.active_branch_id).toBe(branch.id);
    expect(chat.qa_pairs.map((pair) => pair.question)).toEqual(['Q1', 'Q2']);

    const next = await askOk({ chat_id: chatId, question: 'Q3 on what-if' });
    expect(next.branch_id).toBe(branch.id);
    expect(lastSentQuestions()).toEqual(['Q1', 'Q2', 'Q3 on what-if']);
    const listed = await listBranches(chatId);
    expect(listed.map((item) => [item.name, item.length, item.last_question, item.active])).toEqual([
      ['main', 3, 'Q3', false],
      ['what-if', 3, 'Q3 on what-if', true],
    ]);
  });

  it('rejects a duplicate branch name with 409 and changes nothing', async () => {
    const { chatId, pairs } = await straightChat();
    const url = `${chatUrl(ada, chatId)}/branches`;
    const taken = await app.inject({
      method: 'POST',
      url,
      headers: ada.headers,
      payload: { from_qa_pair_id: pairs[0]?.id, name: 'main' },
    });
    expect(taken.statusCode).toBe(409);
    expect(taken.json()).toMatchObject({ code: 'BRANCH_NAME_TAKEN' });
    expect(await listBranches(chatId)).toHaveLength(1);
  });

  it('switches the active branch: GET and the next ask follow it', async () => {
    const { chatId, pairs, mainId } = await straightChat();
    const forked = await askOk({ chat_id: chatId, parent_id: pairs[0]?.id, question: 'Q2b' });
    const switched = await app.inject({
      method: 'PUT',
      url: `${chatUrl(ada, chatId)}/active-branch`,
      headers: ada.headers,
      payload: { branch_id: mainId },
    });
    expect(switched.statusCode, switched.body).toBe(200);
    expect(switched.json<Branch>()).toMatchObject({ id: mainId, active: true });
    const chat = await getChat(chatId);
    expect(chat.active_branch_id).toBe(mainId);
    expect(chat.qa_pairs.map((pair) => pair.question)).toEqual(['Q1', 'Q2', 'Q3']);
    await askOk({ chat_id: chatId, question: 'Q4' });
    expect(lastSentQuestions()).toEqual(['Q1', 'Q2', 'Q3', 'Q4']);
    // The other branch is untouched.
    const branches = await listBranches(chatId);
    expect(branches.find((branch) => branch.id === forked.branch_id)).toMatchObject({
      length: 2,
      last_question: 'Q2b',
      active: false,
    });
  });

  it('renames a branch, refusing a name the chat already uses', async () => {
    const { chatId, pairs, mainId } = await straightChat();
    const forked = await askOk({ chat_id: chatId, parent_id: pairs[0]?.id, question: 'Q2b' });
    const url = `${chatUrl(ada, chatId)}/branches/${forked.branch_id}`;
    const renamed = await app.inject({ method: 'PATCH', url, headers: ada.headers, payload: { name: 'detour' } });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json<Branch>().name).toBe('detour');
    const clash = await app.inject({
      method: 'PATCH',
      url: `${chatUrl(ada, chatId)}/branches/${mainId}`,
      headers: ada.headers,
      payload: { name: 'detour' },
    });
    expect(clash.statusCode).toBe(409);
    const blank = await app.inject({ method: 'PATCH', url, headers: ada.headers, payload: { name: '  ' } });
    expect(blank.statusCode).toBe(400);
    expect((await listBranches(chatId)).map((branch) => branch.name)).toEqual(['main', 'detour']);
  });

  it('deletes a branch with the pairs only it used; shared pairs survive', async () => {
    const { chatId, pairs, mainId } = await straightChat();
    const forked = await askOk({ chat_id: chatId, parent_id: pairs[1]?.id, question: 'Q3b' });
    await askOk({ chat_id: chatId, question: 'Q4b' });
    const before = await tableCounts(app);

    // Active: refused without a successor.
    const url = `${chatUrl(ada, chatId)}/branches/${forked.branch_id}`;
    const refused = await app.inject({ method: 'DELETE', url, headers: ada.headers });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'ACTIVE_BRANCH' });
    expect(await tableCounts(app)).toEqual(before);

    const deleted = await app.inject({
      method: 'DELETE',
      url: `${url}?activate_branch_id=${mainId}`,
      headers: ada.headers,
    });
    expect(deleted.statusCode, deleted.body).toBe(200);
    expect(deleted.json()).toEqual({ deleted_qa_pairs: 2 });
    expect((await tableCounts(app)).qa_pairs).toBe(before.qa_pairs - 2);

    const chat = await getChat(chatId);
    expect(chat.active_branch_id).toBe(mainId);
    expect(chat.qa_pairs.map((pair) => pair.question)).toEqual(['Q1', 'Q2', 'Q3']);
    expect(chat).toMatchObject({ qa_count: 3, last_question: 'Q3', branch_count: 1 });
    expect(chat.qa_pairs[2]?.siblings).toHaveLength(1);

    // The last branch cannot go.
    const last = await app.inject({
      method: 'DELETE',
      url: `${chatUrl(ada, chatId)}/branches/${mainId}`,
      headers: ada.headers,
    });
    expect(last.statusCode).toBe(409);
    expect(last.json()).toMatchObject({ code: 'LAST_BRANCH' });
  });

  it('deletes a branch that only points into shared pairs without deleting any pair', async () => {
    const { chatId, pairs, mainId } = await straightChat();
    const created = await app.inject({
      method: 'POST',
      url: `${chatUrl(ada, chatId)}/branches`,
      headers: ada.headers,
      payload: { from_qa_pair_id: pairs[1]?.id },
    });
    const branchId = created.json<Branch>().id;
    await app.inject({
      method: 'PUT',
      url: `${chatUrl(ada, chatId)}/active-branch`,
      headers: ada.headers,
      payload: { branch_id: mainId },
    });
    const before = await tableCounts(app);
    const deleted = await app.inject({
      method: 'DELETE',
      url: `${chatUrl(ada, chatId)}/branches/${branchId}`,
      headers: ada.headers,
    });
    expect(deleted.json()).toEqual({ deleted_qa_pairs: 0 });
    expect((await tableCounts(app)).qa_pairs).toBe(before.qa_pairs);
  });

  it('returns the whole tree as flat nodes in asking order with the branches', async () => {
    const { chatId, pairs, mainId } = await straightChat();
    const forked = await askOk({ chat_id: chatId, parent_id: pairs[0]?.id, question: 'Q2b' });
    const response = await app.inject({ method: 'GET', url: `${chatUrl(ada, chatId)}/tree`, headers: ada.headers });
    expect(response.statusCode).toBe(200);
    const tree = response.json<{
      active_branch_id: string;
      nodes: { id: string; parent_id: string | null; question: string; answer_preview: string }[];
      branches: Branch[];
      truncated: boolean;
    }>();
    expect(tree.nodes.map((node) => [node.question, node.parent_id])).toEqual([
      ['Q1', null],
      ['Q2', pairs[0]?.id],
      ['Q3', pairs[1]?.id],
      ['Q2b', pairs[0]?.id],
    ]);
    expect(tree.nodes[0]?.answer_preview).toBe('A:Q1');
    expect(tree.active_branch_id).toBe(forked.branch_id);
    expect(tree.branches.map((branch) => [branch.id, branch.head_qa_pair_id, branch.active])).toEqual([
      [mainId, pairs[2]?.id, false],
      [forked.branch_id, forked.qa_pair.id, true],
    ]);
    expect(tree.truncated).toBe(false);
  });

  it('forks into a new chat that holds exactly the path and records its origin', async () => {
    const { chatId, pairs } = await straightChat();
    await askOk({ chat_id: chatId, parent_id: pairs[0]?.id, question: 'a sibling that must not be copied' });
    const before = await app.inject({ method: 'GET', url: `${chatUrl(ada, chatId)}/tree`, headers: ada.headers });

    const response = await app.inject({
      method: 'POST',
      url: `${chatUrl(ada, chatId)}/fork`,
      headers: ada.headers,
      payload: { qa_pair_id: pairs[1]?.id, title: 'Forked' },
    });
    expect(response.statusCode, response.body).toBe(201);
    const forkedChat = response.json<{ id: string; title: string; qa_count: number; forked_from: unknown }>();
    expect(forkedChat).toMatchObject({
      title: 'Forked',
      qa_count: 2,
      forked_from: { chat_id: chatId, qa_pair_id: pairs[1]?.id },
    });

    const copy = await getChat(forkedChat.id);
    expect(copy.qa_pairs.map((pair) => [pair.question, pair.answer])).toEqual([
      ['Q1', 'A:Q1'],
      ['Q2', 'A:Q2'],
    ]);
    expect(copy.qa_pairs.map((pair) => pair.id)).not.toContain(pairs[0]?.id);
    expect(copy.qa_pairs[1]?.parent_id).toBe(copy.qa_pairs[0]?.id);
    expect(await listBranches(forkedChat.id)).toMatchObject([{ name: 'main', length: 2, active: true }]);

    // The new chat continues with the copied history; the source is unchanged.
    await askOk({ chat_id: forkedChat.id, question: 'Q3 in the fork' });
    expect(lastSentQuestions()).toEqual(['Q1', 'Q2', 'Q3 in the fork']);
    const after = await app.inject({ method: 'GET', url: `${chatUrl(ada, chatId)}/tree`, headers: ada.headers });
    expect(after.json()).toEqual(before.json());
  });
});

describe('branch bounds', () => {
  it('refuses a 1001st branch with 409 TOO_MANY_BRANCHES, from the route and from an ask', async () => {
    const { chatId, pairs } = await straightChat();
    // 999 more branches, written straight to the database: one statement on either engine.
    await queryRows(
      app,
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
       INSERT INTO branches (id, chat_id, user_id, name, fork_pair_id, head_pair_id, created_at, updated_at)
       SELECT 'filler-' || i, ?, ?, NULL, ?, ?, 0, 0 FROM n`,
      [chatId, ada.id, pairs[0]?.id, pairs[0]?.id],
      `INSERT INTO branches (id, chat_id, user_id, name, fork_pair_id, head_pair_id, created_at, updated_at)
       SELECT 'filler-' || i, $1, $2, NULL, $3, $4, to_timestamp(0), to_timestamp(0) FROM generate_series(1, 999) AS i`,
    );
    const before = await tableCounts(app);
    const viaRoute = await app.inject({
      method: 'POST',
      url: `${chatUrl(ada, chatId)}/branches`,
      headers: ada.headers,
      payload: { from_qa_pair_id: pairs[1]?.id },
    });
    expect(viaRoute.statusCode).toBe(409);
    expect(viaRoute.json()).toMatchObject({ code: 'TOO_MANY_BRANCHES' });
    const viaAsk = await ask(app, ada, { chat_id: chatId, parent_id: null, question: 'one branch too many' });
    expect(viaAsk.statusCode).toBe(409);
    expect(await tableCounts(app)).toEqual(before);
    // Continuing an existing branch is still fine.
    expect((await ask(app, ada, { chat_id: chatId, question: 'on the active branch' })).statusCode).toBe(200);
  });
});

describe('branch routes guard ownership and input', () => {
  let chatId: string;
  let pairs: Pair[];
  let mainId: string;
  let otherChatPairId: string;
  let bobChatId: string;

  beforeAll(async () => {
    ({ chatId, pairs, mainId } = await straightChat());
    otherChatPairId = (await askOk({ question: 'in another chat of Ada' })).qa_pair.id;
    bobChatId = (await askOk({ question: "Bob's" }, bob)).chat_id;
  });

  const routes = (): { name: string; request: (user: TestUser, chat: string) => InjectOptions }[] => [
    { name: 'list branches', request: (user, chat) => ({ method: 'GET', url: `${chatUrl(user, chat)}/branches` }) },
    {
      name: 'create branch',
      request: (user, chat) => ({
        method: 'POST',
        url: `${chatUrl(user, chat)}/branches`,
        payload: { from_qa_pair_id: pairs[0]?.id },
      }),
    },
    {
      name: 'switch branch',
      request: (user, chat) => ({
        method: 'PUT',
        url: `${chatUrl(user, chat)}/active-branch`,
        payload: { branch_id: mainId },
      }),
    },
    {
      name: 'rename branch',
      request: (user, chat) => ({
        method: 'PATCH',
        url: `${chatUrl(user, chat)}/branches/${mainId}`,
        payload: { name: 'x' },
      }),
    },
    {
      name: 'delete branch',
      request: (user, chat) => ({ method: 'DELETE', url: `${chatUrl(user, chat)}/branches/${mainId}` }),
    },
    { name: 'tree', request: (user, chat) => ({ method: 'GET', url: `${chatUrl(user, chat)}/tree` }) },
    {
      name: 'regenerate',
      request: (user, chat) => ({ method: 'POST', url: `${chatUrl(user, chat)}/qa_pairs/${pairs[0]?.id}/regenerate` }),
    },
    {
      name: 'fork',
      request: (user, chat) => ({
        method: 'POST',
        url: `${chatUrl(user, chat)}/fork`,
        payload: { qa_pair_id: pairs[0]?.id },
      }),
    },
  ];

  for (const route of routes().map((r) => r.name)) {
    it(`${route}: 401 without a key, 403 for another user's id, 404 for another user's chat, nothing written`, async () => {
      const make = routes().find((candidate) => candidate.name === route)?.request;
      if (!make) throw new Error(route);
      const before = await tableCounts(app);
      const calls = upstream.requests.length;

      const anonymous = await app.inject(make(ada, chatId));
      expect(anonymous.statusCode).toBe(401);
      const wrongUser = await app.inject({ ...make(ada, chatId), headers: bob.headers });
      expect(wrongUser.statusCode).toBe(403);
      // Bob names himself but Ada's chat: indistinguishable from a chat that does not exist.
      const foreignChat = await app.inject({ ...make(bob, chatId), headers: bob.headers });
      expect(foreignChat.statusCode).toBe(404);
      expect(foreignChat.json()).toMatchObject({ code: 'CHAT_NOT_FOUND' });
      // Bob's own chat, but Ada's pair/branch ids inside it.
      const foreignIds = await app.inject({ ...make(bob, bobChatId), headers: bob.headers });
      if (route !== 'list branches' && route !== 'tree') {
        expect(foreignIds.statusCode).toBe(404);
        expect(['QA_PAIR_NOT_FOUND', 'BRANCH_NOT_FOUND']).toContain(foreignIds.json<{ code: string }>().code);
      }
      expect(await tableCounts(app)).toEqual(before);
      expect(upstream.requests.length).toBe(calls);
    });
  }

  it('lets the admin key use the branch routes for a user', async () => {
    const response = await app.inject({
      method: 'GET',
      url: `${chatUrl(ada, chatId)}/branches`,
      headers: bearer(TEST_ADMIN_KEY),
    });
    expect(response.statusCode).toBe(200);
  });

  it("rejects a parent_id from another of the user's chats, and one without chat_id", async () => {
    const before = await tableCounts(app);
    const foreign = await ask(app, ada, { chat_id: chatId, parent_id: otherChatPairId, question: 'sneaky' });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json()).toMatchObject({ code: 'QA_PAIR_NOT_FOUND' });
    const noChat = await ask(app, ada, { parent_id: pairs[0]?.id, question: 'where?' });
    expect(noChat.statusCode).toBe(400);
    const newChat = await ask(app, ada, {
      chat_id: '9b2d7c7e-0e4f-4a51-8a1e-6f0d3c2b1a00',
      parent_id: pairs[0]?.id,
      question: 'new chat',
    });
    expect(newChat.statusCode).toBe(404);
    expect(await tableCounts(app)).toEqual(before);
  });

  it.each([
    [
      'a branch id that is not a UUID',
      () => ({ method: 'PATCH' as const, url: `${chatUrl(ada, chatId)}/branches/main`, payload: { name: 'x' } }),
    ],
    [
      'an unknown branch',
      () => ({
        method: 'PUT' as const,
        url: `${chatUrl(ada, chatId)}/active-branch`,
        payload: { branch_id: '00000000-0000-4000-8000-000000000000' },
      }),
    ],
    [
      'a missing from_qa_pair_id',
      () => ({ method: 'POST' as const, url: `${chatUrl(ada, chatId)}/branches`, payload: { name: 'x' } }),
    ],
    [
      'an unknown field',
      () => ({
        method: 'PUT' as const,
        url: `${chatUrl(ada, chatId)}/active-branch`,
        payload: { branch_id: mainId, force: true },
      }),
    ],
    [
      'a branch name over 100 characters',
      () => ({
        method: 'POST' as const,
        url: `${chatUrl(ada, chatId)}/branches`,
        payload: { from_qa_pair_id: pairs[0]?.id, name: 'n'.repeat(101) },
      }),
    ],
    [
      'activating the branch being deleted',
      () => ({
        method: 'DELETE' as const,
        url: `${chatUrl(ada, chatId)}/branches/${mainId}?activate_branch_id=${mainId}`,
      }),
    ],
    [
      'a fork at an unknown pair',
      () => ({
        method: 'POST' as const,
        url: `${chatUrl(ada, chatId)}/fork`,
        payload: { qa_pair_id: '00000000-0000-4000-8000-000000000000' },
      }),
    ],
    [
      'regenerating an unknown pair',
      () => ({
        method: 'POST' as const,
        url: `${chatUrl(ada, chatId)}/qa_pairs/00000000-0000-4000-8000-000000000000/regenerate`,
      }),
    ],
  ])('answers 4xx to %s and changes nothing', async (_name, make) => {
    const before = await tableCounts(app);
    const view = await getChat(chatId);
    const response = await app.inject({ ...make(), headers: ada.headers });
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.statusCode).toBeLessThan(500);
    expect(await tableCounts(app)).toEqual(before);
    expect(await getChat(chatId)).toEqual(view);
  });
});
