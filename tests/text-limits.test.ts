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
});
