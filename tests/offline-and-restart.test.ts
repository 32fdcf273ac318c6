import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { ask, buildTestApp, createUser, TEST_ADMIN_KEY } from './helpers/app.js';
import { queryRows } from './helpers/database.js';
import { useTempDir } from './helpers/suite.js';

const temp = useTempDir();

interface PairBody {
  id: string;
  question: string;
  answer: string | null;
  status: string;
  provider: string;
  error: { code: string; message: string } | null;
}

describe('the offline provider', () => {
  it('is chosen without YOU_API_KEY and answers deterministically from the history', async () => {
    const app = await buildTestApp({ databaseUrl: join(temp.dir, 'offline.db') });
    try {
      const ada = await createUser(app);
      const first = await ask(app, ada, { question: 'What is a B-tree?' });
      expect(first.statusCode).toBe(200);
      const firstBody = first.json<{ chat_id: string; qa_pair: PairBody }>();
      expect(firstBody.qa_pair.provider).toBe('offline');
      expect(firstBody.qa_pair.answer).toContain('first question of the chat');

      await ask(app, ada, { chat_id: firstBody.chat_id, question: 'And a B+tree?' });
      const third = await ask(app, ada, { chat_id: firstBody.chat_id, question: 'Which does SQLite use?' });
      const answer = third.json<{ qa_pair: PairBody }>().qa_pair.answer;
      expect(answer).toContain('I saw 2 earlier turns');
      expect(answer).toContain('"What is a B-tree?"');
      expect(answer).toContain('"Which does SQLite use?"');

      // Deterministic: the same history and question give the same answer.
      const again = await ask(app, ada, { chat_id: firstBody.chat_id, question: 'Which does SQLite use?' });
      expect(again.json<{ qa_pair: PairBody }>().qa_pair.answer).toBe(
        answer?.replace('2 earlier turns', '3 earlier turns'),
      );
    } finally {
      await app.close();
    }
  });
});

describe('a file database', () => {
  it('keeps users, keys, chats and pairs across a restart', async () => {
    const databaseUrl = join(temp.dir, 'nested', 'folder', 'restart.db');
    const first = await buildTestApp({ databaseUrl });
    const ada = await createUser(first);
    const asked = await ask(first, ada, { question: 'remember me' });
    const { chat_id: chatId } = asked.json<{ chat_id: string }>();
    await first.close();

    const second = await buildTestApp({ databaseUrl });
    try {
      const chat = await second.inject({
        method: 'GET',
        url: `/v1/users/${ada.id}/chats/${chatId}`,
        headers: ada.headers,
      });
      expect(chat.statusCode).toBe(200);
      expect(chat.json<{ qa_pairs: PairBody[] }>().qa_pairs).toMatchObject([
        { question: 'remember me', status: 'answered' },
      ]);
    } finally {
      await second.close();
    }
  });

  it('marks pairs left pending by a stopped process as failed when it starts again', async () => {
    const databaseUrl = join(temp.dir, 'recover.db');
    const first = await buildTestApp({ databaseUrl });
    const ada = await createUser(first);
    const asked = await ask(first, ada, { question: 'will be interrupted' });
    const { chat_id: chatId, qa_pair: pair } = asked.json<{ chat_id: string; qa_pair: PairBody }>();
    // Simulate a crash between storing the question and storing the answer.
    await queryRows(first, "UPDATE qa_pairs SET status = 'pending', answer = NULL, answered_at = NULL WHERE id = ?", [
      pair.id,
    ]);
    await first.close();

    const second = await buildTestApp({ databaseUrl });
    try {
      const chat = await second.inject({
        method: 'GET',
        url: `/v1/users/${ada.id}/chats/${chatId}`,
        headers: ada.headers,
      });
      expect(chat.json<{ qa_pairs: PairBody[] }>().qa_pairs[0]).toMatchObject({
        id: pair.id,
        question: 'will be interrupted',
        status: 'failed',
        error: { code: 'INTERRUPTED' },
      });
    } finally {
      await second.close();
    }
  });
});

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: './data/chat.db',
      historyMaxTurns: 20,
      allowSignup: true,
      logLevel: 'info',
      chatbot: { provider: 'offline', youApiUrl: 'https://chat-api.you.com/smart', timeoutMs: 60_000 },
    });
  });

  it('uses You.com when a key is set', () => {
    expect(loadConfig({ YOU_API_KEY: 'k' }).chatbot.provider).toBe('you');
    expect(loadConfig({ YOU_API_KEY: 'k', CHATBOT_PROVIDER: 'offline' }).chatbot.provider).toBe('offline');
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ UPSTREAM_TIMEOUT_MS: '-5' }, 'UPSTREAM_TIMEOUT_MS'],
    [{ HISTORY_MAX_TURNS: '1.5' }, 'HISTORY_MAX_TURNS'],
    [{ ALLOW_SIGNUP: 'maybe' }, 'ALLOW_SIGNUP'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ CHATBOT_PROVIDER: 'gpt' }, 'CHATBOT_PROVIDER'],
    [{ CHATBOT_PROVIDER: 'you' }, 'YOU_API_KEY'],
    [{ YOU_API_URL: 'not a url' }, 'YOU_API_URL'],
    [{ YOU_API_URL: 'ftp://example.com' }, 'YOU_API_URL'],
    [{ ADMIN_API_KEY: 'short' }, 'ADMIN_API_KEY'],
    [{ DATABASE_URL: 'mysql://db.example/chat' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'postgres://' }, 'DATABASE_URL'],
    [{ DATABASE_POOL_MAX: '0' }, 'DATABASE_POOL_MAX'],
    [
      { DATABASE_URL: 'postgres://db/chat', INSTANCE_HEARTBEAT_MS: '5000', INSTANCE_STALE_AFTER_MS: '6000' },
      'INSTANCE_STALE_AFTER_MS',
    ],
  ])('rejects %o naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(name);
  });

  it('picks the engine from DATABASE_URL: a path or :memory: is SQLite, a postgres:// URL PostgreSQL', () => {
    expect(loadConfig({ DATABASE_URL: '/var/lib/chat/chat.db' }).database).toEqual({
      engine: 'sqlite',
      location: '/var/lib/chat/chat.db',
    });
    expect(loadConfig({ DATABASE_URL: ':memory:' }).database.engine).toBe('sqlite');
    expect(
      loadConfig({ DATABASE_URL: 'postgresql://chat:secret@db.internal:5432/chat', DATABASE_POOL_MAX: '25' }).database,
    ).toMatchObject({
      engine: 'pg',
      url: 'postgresql://chat:secret@db.internal:5432/chat',
      poolMax: 25,
      lockPoolMax: 20,
    });
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ YOU_API_KEY: '', PORT: '' })).toMatchObject({ port: 3000, chatbot: { provider: 'offline' } });
  });

  it('keeps the admin key usable from the environment', async () => {
    const app = await buildTestApp({ databaseUrl: ':memory:' });
    try {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/users',
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
        payload: { name: 'Made by admin' },
      });
      expect(response.statusCode).toBe(201);
    } finally {
      await app.close();
    }
  });
});
