import type { App } from '../../src/app.js';
import { ask, type TestUser } from './app.js';
import { sendJson, type UpstreamHandler } from './fake-upstream.js';

/**
 * Seeding for the browser tests and the web measurements: chats made through the API (asks
 * against a fake upstream, imports), as a user would have made them.
 */

/** The last user message of an upstream request (You.com's or OpenAI's shape). */
export function lastQuestionOf(body: unknown): string {
  const messages = (body as { messages?: { role?: string; content?: string }[] } | undefined)?.messages ?? [];
  return [...messages].reverse().find((message) => message.role === 'user')?.content ?? '';
}

/**
 * Answers each question with a line about it, citing a source on a site named after the
 * question's first capitalised place (`lisbon.example.org` for a question about Lisbon).
 */
export const echoingUpstream: UpstreamHandler = (request, res) => {
  const question = lastQuestionOf(request.body);
  const place = (/\b(Lisbon|Porto|Madeira|Sintra)\b/.exec(question)?.[1] ?? 'travel').toLowerCase();
  sendJson(res, 200, {
    answer: `About "${question}": a short answer.`,
    search_results: [
      { url: `https://${place}.example.org/guide`, name: `${place} guide`, snippet: `A guide to ${place}` },
    ],
  });
};

/** Asks `question` (in `chatId`, after `parentId` when given); the new pair's ids. */
export async function askVia(
  app: App,
  user: TestUser,
  question: string,
  where: { chatId?: string; parentId?: string | null } = {},
): Promise<{ chatId: string; pairId: string; branchId: string }> {
  const response = await ask(app, user, {
    question,
    ...(where.chatId ? { chat_id: where.chatId } : {}),
    ...(where.parentId !== undefined ? { parent_id: where.parentId } : {}),
  });
  if (response.statusCode !== 200) throw new Error(`ask failed: ${response.statusCode} ${response.body}`);
  const body = response.json<{ chat_id: string; branch_id: string; qa_pair: { id: string } }>();
  return { chatId: body.chat_id, pairId: body.qa_pair.id, branchId: body.branch_id };
}

/** A node of ChatGPT's conversations.json mapping. */
function chatgptNode(
  id: string,
  parent: string | null,
  children: string[],
  role: string | null,
  text: string,
  time: number,
) {
  return {
    id,
    parent,
    children,
    message:
      role === null
        ? null
        : { id, author: { role }, create_time: time, content: { content_type: 'text', parts: [text] } },
  };
}

/**
 * A ChatGPT conversation with a fork: the first answer has two follow-up questions (the
 * second an edit), so it imports as two branches; `current_node` is on the edited one.
 */
export function forkedChatgptConversation(id: string, title: string, createTime: number) {
  const node = (
    nodeId: string,
    parent: string | null,
    children: string[],
    role: string | null,
    text: string,
    dt: number,
  ) => chatgptNode(nodeId, parent, children, role, text, createTime + dt);
  return {
    title,
    create_time: createTime,
    update_time: createTime + 100,
    conversation_id: id,
    current_node: 'a2b',
    mapping: {
      root: node('root', null, ['u1'], null, '', 0),
      u1: node('u1', 'root', ['a1'], 'user', 'How do I make a flat white?', 1),
      a1: node('a1', 'u1', ['u2', 'u2b'], 'assistant', 'Steam milk and pour it over a double ristretto.', 2),
      u2: node('u2', 'a1', ['a2'], 'user', 'And a cortado?', 3),
      a2: node('a2', 'u2', [], 'assistant', 'Equal parts espresso and warm milk.', 4),
      u2b: node('u2b', 'a1', ['a2b'], 'user', 'And a cappuccino?', 5),
      a2b: node('a2b', 'u2b', [], 'assistant', 'A third each of espresso, milk and foam.', 6),
    },
  };
}

/** A ChatGPT conversation of `pairs` questions and answers in a line (no fork). */
export function linearChatgptConversation(
  id: string,
  title: string,
  createTime: number,
  pairs: { question: string; answer: string }[],
) {
  const mapping: Record<string, ReturnType<typeof chatgptNode>> = {
    root: chatgptNode('root', null, pairs.length > 0 ? ['u0'] : [], null, '', createTime),
  };
  let parent = 'root';
  pairs.forEach((pair, index) => {
    const next = index + 1 < pairs.length ? [`u${index + 1}`] : [];
    mapping[`u${index}`] = chatgptNode(
      `u${index}`,
      parent,
      [`a${index}`],
      'user',
      pair.question,
      createTime + 2 * index,
    );
    mapping[`a${index}`] = chatgptNode(
      `a${index}`,
      `u${index}`,
      next,
      'assistant',
      pair.answer,
      createTime + 2 * index + 1,
    );
    parent = `a${index}`;
  });
  return {
    title,
    create_time: createTime,
    update_time: createTime + 2 * pairs.length,
    conversation_id: id,
    current_node: parent,
    mapping,
  };
}

/** Imports `conversations` (a ChatGPT conversations.json) for `user`; the new chats' ids. */
export async function importChatgpt(app: App, user: TestUser, conversations: unknown[]): Promise<string[]> {
  const response = await app.inject({
    method: 'POST',
    url: `/v1/users/${user.id}/chats/import`,
    headers: user.headers,
    payload: conversations,
  });
  if (response.statusCode !== 200) throw new Error(`import failed: ${response.statusCode} ${response.body}`);
  const report = response.json<{ results: { status: string; chat_id: string | null; error: string | null }[] }>();
  return report.results.map((result) => {
    if (result.status !== 'imported' || !result.chat_id) throw new Error(`import: ${result.status} ${result.error}`);
    return result.chat_id;
  });
}
