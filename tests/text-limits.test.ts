import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, createUser, tableCounts, type TestUser } from './helpers/app.js';
import { useTempDir, useTestApp } from './helpers/suite.js';

/**
 * Length limits count characters (Unicode code points), not UTF-16 code units: an emoji is
 * one character, in the schema (ajv), in the services and in what the document says.
 */

const EMOJI = '\u{1F600}'; // two UTF-16 code units, one character

const temp = useTempDir();
let app: App;
let ada: TestUser;
useTestApp({ databaseUrl: join(temp.dir, 'text-limits.db'), env: { CHATBOT_PROVIDER: 'offline' } }, async (suite) => {
  app = suite.app;
  ada = await createUser(app, 'Ada');
});

const createChat = (title: string) =>
  app.inject({ method: 'POST', url: `/v1/users/${ada.id}/chats`, headers: ada.headers, payload: { title } });

describe('length limits in characters', () => {
  it('takes a title of 200 emoji and refuses 201', async () => {
    const fits = await createChat(EMOJI.repeat(200));
    expect(fits.statusCode).toBe(201);
    expect(fits.json<{ title: string }>().title).toBe(EMOJI.repeat(200));
    const before = await tableCounts(app);
    const over = await createChat(EMOJI.repeat(201));
    expect(over.statusCode).toBe(400);
    expect(over.json<{ message: string }>().message).toContain('at most 200 characters');
    expect(await tableCounts(app)).toEqual(before);
  });

  it('takes a question of 9,000 emoji (under 16,000 characters) and refuses 16,001', async () => {
    const fits = await ask(app, ada, { question: EMOJI.repeat(9_000) });
    expect(fits.statusCode).toBe(200);
    expect(fits.json<{ qa_pair: { question: string } }>().qa_pair.question).toBe(EMOJI.repeat(9_000));
    const over = await ask(app, ada, { question: EMOJI.repeat(16_001) });
    expect(over.statusCode).toBe(400);
  });

  it('takes a user name of 100 emoji', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/users', payload: { name: EMOJI.repeat(100) } });
    expect(response.statusCode).toBe(201);
  });

  it('titles a chat after a long emoji question without splitting a character', async () => {
    const response = await ask(app, ada, { question: EMOJI.repeat(100) });
    const chat = await app.inject({
      method: 'GET',
      url: `/v1/users/${ada.id}/chats/${response.json<{ chat_id: string }>().chat_id}`,
      headers: ada.headers,
    });
    const title = chat.json<{ title: string }>().title;
    expect(title).toBe(`${EMOJI.repeat(79)}…`);
  });
  it('cuts an imported ChatGPT title at 200 characters, never inside one', async () => {
    const node = (id: string, parent: string | null, children: string[], role: string | null, text: string) => ({
      id,
      parent,
      children,
      message: role === null ? null : { id, author: { role }, create_time: 1_700_000_000, content: { parts: [text] } },
    });
    // One ASCII letter first: a cut by UTF-16 units would end on half an emoji.
    const conversation = {
      title: `a${EMOJI.repeat(300)}`,
      create_time: 1_700_000_000,
      update_time: 1_700_000_100,
      conversation_id: 'emoji-title',
      current_node: 'a1',
      mapping: {
        root: node('root', null, ['u1'], null, ''),
        u1: node('u1', 'root', ['a1'], 'user', 'Hello?'),
        a1: node('a1', 'u1', [], 'assistant', 'Hello.'),
      },
    };
    const response = await app.inject({
      method: 'POST',
      url: `/v1/users/${ada.id}/chats/import`,
      headers: ada.headers,
      payload: [conversation],
    });
    expect(response.statusCode, response.body).toBe(200);
    const chatId = response.json<{ results: { chat_id: string }[] }>().results[0]?.chat_id ?? '';
    const chat = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/chats/${chatId}`, headers: ada.headers });
    expect(chat.json<{ title: string }>().title).toBe(`a${EMOJI.repeat(199)}`);
  });

  it("previews a tree node's answer in whole characters", async () => {
    const asked = await ask(app, ada, { question: EMOJI.repeat(300) });
    const chatId = asked.json<{ chat_id: string }>().chat_id;
    const tree = await app.inject({
      method: 'GET',
      url: `/v1/users/${ada.id}/chats/${chatId}/tree`,
      headers: ada.headers,
    });
    const preview = tree.json<{ nodes: { answer_preview: string | null }[] }>().nodes[0]?.answer_preview ?? '';
    // No lone surrogate: every UTF-16 unit of the preview (and of the offline answer's quote
    // of the question in it) belongs to a whole character.
    expect(preview).toContain(EMOJI);
    // A half character written to the database comes back as U+FFFD.
    expect(preview).not.toContain('\uFFFD');
    expect(preview).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
  });
});
