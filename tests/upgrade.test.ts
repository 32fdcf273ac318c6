import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultMigrationsFolder, openDatabase } from '../src/db/sqlite/client.js';
import { hashApiKey } from '../src/services/access.js';
import { ask, bearer, buildTestApp } from './helpers/app.js';
import { onPg } from './helpers/database.js';
import { useTempDir } from './helpers/suite.js';

const temp = useTempDir();

/** A migrations folder holding only the first `count` migrations of the real one. */
function migrationsUpTo(count: number): string {
  const source = defaultMigrationsFolder();
  const target = join(temp.dir, `migrations-${count}`);
  mkdirSync(join(target, 'meta'), { recursive: true });
  const journal = JSON.parse(readFileSync(join(source, 'meta', '_journal.json'), 'utf8')) as {
    entries: { tag: string }[];
  };
  journal.entries = journal.entries.slice(0, count);
  for (const entry of journal.entries) cpSync(join(source, `${entry.tag}.sql`), join(target, `${entry.tag}.sql`));
  writeFileSync(join(target, 'meta', '_journal.json'), JSON.stringify(journal));
  return target;
}

// Upgrades a SQLite file written by an old release; PostgreSQL support starts after branching.
describe.skipIf(onPg)('upgrading a database made before branching', () => {
  it('gives every chat a main branch over its pairs and keeps every pair', async () => {
    const file = join(temp.dir, 'foundation.db');
    const apiKey = 'chk_upgradeTestKey000000000000000000000000000';
    const userId = '11111111-1111-4111-8111-111111111111';
    const chatId = '22222222-2222-4222-8222-222222222222';
    const emptyChatId = '33333333-3333-4333-8333-333333333333';
    const pairIds = [
      '44444444-4444-4444-8444-444444444441',
      '44444444-4444-4444-8444-444444444442',
      '44444444-4444-4444-8444-444444444443',
    ];

    // The foundation schema (migration 0000 only), filled as that version wrote it.
    const old = openDatabase(file, { migrationsFolder: migrationsUpTo(1) });
    const columns = old.sqlite.prepare("SELECT name FROM pragma_table_info('chats')").all() as { name: string }[];
    expect(columns.map((column) => column.name)).not.toContain('active_branch_id');
    const t = Date.UTC(2026, 0, 1);
    old.sqlite.prepare('INSERT INTO users (id, name, created_at) VALUES (?, ?, ?)').run(userId, 'Old Ada', t);
    old.sqlite
      .prepare('INSERT INTO api_keys (id, user_id, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)')
      .run('55555555-5555-4555-8555-555555555555', userId, hashApiKey(apiKey), apiKey.slice(0, 10), t);
    old.sqlite
      .prepare(
        'INSERT INTO chats (id, user_id, title, created_at, updated_at, qa_count, last_question, last_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(chatId, userId, 'Old chat', t, t + 3, 3, 'old q3', 3);
    old.sqlite
      .prepare(
        'INSERT INTO chats (id, user_id, title, created_at, updated_at, qa_count, last_question, last_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(emptyChatId, userId, 'Empty old chat', t, t, 0, null, 0);
    const insertPair = old.sqlite.prepare(
      `INSERT INTO qa_pairs (id, chat_id, user_id, parent_id, seq, question, answer, search_results, status, error_code, error_message, provider, history_turns, latency_ms, created_at, answered_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, 'you', 0, 5, ?, ?)`,
    );
    insertPair.run(pairIds[0], chatId, userId, null, 1, 'old q1', 'old a1', 'answered', null, null, t + 1, t + 1);
    insertPair.run(
      pairIds[1],
      chatId,
      userId,
      pairIds[0],
      2,
      'old q2',
      null,
      'failed',
      'UPSTREAM_ERROR',
      'x',
      t + 2,
      t + 2,
    );
    insertPair.run(pairIds[2], chatId, userId, pairIds[1], 3, 'old q3', 'old a3', 'answered', null, null, t + 3, t + 3);
    old.close();

    // The current version opens it and migrates it.
    const app = await buildTestApp({ databaseUrl: file });
    try {
      const headers = bearer(apiKey);
      const chat = await app.inject({ method: 'GET', url: `/v1/users/${userId}/chats/${chatId}`, headers });
      expect(chat.statusCode, chat.body).toBe(200);
      const body = chat.json<{
        active_branch_id: string;
        branch_count: number;
        qa_pairs: { id: string; question: string; status: string }[];
      }>();
      expect(body.qa_pairs.map((pair) => [pair.id, pair.question, pair.status])).toEqual([
        [pairIds[0], 'old q1', 'answered'],
        [pairIds[1], 'old q2', 'failed'],
        [pairIds[2], 'old q3', 'answered'],
      ]);
      expect(body.branch_count).toBe(1);
      expect(body.active_branch_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

      const branches = await app.inject({
        method: 'GET',
        url: `/v1/users/${userId}/chats/${chatId}/branches`,
        headers,
      });
      expect(branches.json()).toMatchObject({
        data: [{ name: 'main', head_qa_pair_id: pairIds[2], length: 3, active: true }],
      });

      const empty = await app.inject({
        method: 'GET',
        url: `/v1/users/${userId}/chats/${emptyChatId}/branches`,
        headers,
      });
      expect(empty.json()).toMatchObject({ data: [{ name: 'main', head_qa_pair_id: null, length: 0, active: true }] });

      // Asking continues the old conversation on main, failed turn left out.
      const user = { id: userId, name: 'Old Ada', apiKey, headers };
      const next = await ask(app, user, { chat_id: chatId, question: 'new q4' });
      expect(next.statusCode).toBe(200);
      expect(next.json()).toMatchObject({ branch_id: body.active_branch_id, qa_pair: { parent_id: pairIds[2] } });
      const answered = await ask(app, user, { chat_id: emptyChatId, question: 'first in the empty chat' });
      expect(answered.json()).toMatchObject({ qa_pair: { parent_id: null, history_turns: 0 } });
      expect(answered.json<{ qa_pair: { answer: string } }>().qa_pair.answer).toContain('first question of the chat');
      const continued = await ask(app, user, { chat_id: chatId, question: 'new q5' });
      expect(continued.json<{ qa_pair: { answer: string } }>().qa_pair.answer).toContain('I saw 3 earlier turns');
    } finally {
      await app.close();
    }
  });
});
