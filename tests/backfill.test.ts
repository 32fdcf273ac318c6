import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, buildTestApp, createUser } from './helpers/app.js';
import { onPg, queryRows } from './helpers/database.js';
import { sendJson } from './helpers/fake-upstream.js';
import { useFakeUpstream, useTempDir } from './helpers/suite.js';

/**
 * A database from before renderings (migration render_once) is upgraded in place: the
 * migration adds the columns, and the app's background backfill stores every final pair's
 * rendering. Reads in between render live, and after it every view is byte for byte what
 * it was before the upgrade.
 */

const temp = useTempDir();
const upstream = useFakeUpstream();

/** When the journal says render_once was generated: drizzle records applied migrations by it. */
function renderOnceTime(): number {
  const journal = JSON.parse(
    readFileSync(join(import.meta.dirname, '..', 'drizzle', onPg ? 'pg' : 'sqlite', 'meta', '_journal.json'), 'utf8'),
  ) as { entries: { tag: string; when: number }[] };
  const entry = journal.entries.find((candidate) => candidate.tag.endsWith('_render_once'));
  if (!entry) throw new Error('no render_once migration in the journal');
  return entry.when;
}

/**
 * Takes the database back to before render_once: its columns and indexes gone, and the
 * records of it and of every later migration (drizzle applies only migrations newer than
 * the last one recorded), whose own tables go too (SQLite's search_outbox, and with it the
 * triggers that write to it).
 */
async function downgrade(app: App): Promise<void> {
  const statements = [
    ...(onPg
      ? []
      : [
          // Triggers of the same names that do not need search_outbox: 0012 replaces them again.
          'DROP TRIGGER qa_pairs_search_insert',
          'DROP TRIGGER qa_pairs_search_update',
          'CREATE TRIGGER qa_pairs_search_insert AFTER INSERT ON qa_pairs BEGIN SELECT 1; END',
          'CREATE TRIGGER qa_pairs_search_update AFTER UPDATE OF answer ON qa_pairs BEGIN SELECT 1; END',
          'DROP TABLE search_outbox',
        ]),
    'DROP INDEX qa_pairs_unrendered_idx',
    'DROP INDEX qa_pairs_chat_tree_idx',
    'ALTER TABLE qa_pairs DROP COLUMN rendered',
    'ALTER TABLE qa_pairs DROP COLUMN rendered_node',
    'ALTER TABLE chats DROP COLUMN version',
    'ALTER TABLE users DROP COLUMN chats_version',
    // Later migrations' tables and columns (0013 events, 0014 webhooks).
    'DROP TABLE webhook_deliveries',
    'DROP TABLE webhooks',
    'DROP TABLE events',
    'DROP TABLE pair_progress',
    'DROP TABLE event_tickets',
    'ALTER TABLE users DROP COLUMN last_event_id',
  ];
  for (const statement of statements) await queryRows(app, statement);
  const table = onPg ? 'drizzle.__drizzle_migrations' : '__drizzle_migrations';
  await queryRows(app, `DELETE FROM ${table} WHERE created_at >= ${renderOnceTime()}`);
}

const unrendered = async (app: App) =>
  (
    await queryRows<{ n: number }>(
      app,
      "SELECT count(*) AS n FROM qa_pairs WHERE rendered IS NULL AND status IN ('answered', 'failed')",
      [],
      "SELECT count(*)::int AS n FROM qa_pairs WHERE rendered IS NULL AND status IN ('answered', 'failed')",
    )
  )[0]?.n ?? -1;

describe('upgrading a database from before stored renderings', () => {
  it('renders every final pair in the background and serves the same bytes as before', async () => {
    const databaseUrl = join(temp.dir, 'backfill.db');
    const before = await buildTestApp({ databaseUrl, upstreamUrl: upstream.url });
    const ada = await createUser(before);
    const first = await ask(before, ada, { question: 'one "quoted" \u2028 question' });
    const chatId = first.json<{ chat_id: string }>().chat_id;
    upstream.enqueue((_request, res) => sendJson(res, 500, { error: 'boom' }));
    const failed = await ask(before, ada, { chat_id: chatId, question: 'fails upstream' });
    expect(failed.statusCode).toBeGreaterThanOrEqual(500);
    // Enough pairs that the backfill takes more than one batch.
    for (let index = 0; index < 520; index += 1) {
      const answered = await ask(before, ada, { chat_id: chatId, question: `question ${index}` });
      expect(answered.statusCode).toBe(200);
    }
    const urls = ['', '/tree', '/export'].map((view) => `/v1/users/${ada.id}/chats/${chatId}${view}`);
    const bodies = await Promise.all(
      urls.map(async (url) => (await before.inject({ method: 'GET', url, headers: ada.headers })).body),
    );
    await downgrade(before);
    await before.close();

    const after = await buildTestApp({ databaseUrl, upstreamUrl: upstream.url });
    try {
      // The backfill runs beside requests; a read before it has finished is already exact.
      for (const [index, url] of urls.entries()) {
        expect((await after.inject({ method: 'GET', url, headers: ada.headers })).body).toBe(bodies[index]);
      }
      for (let attempt = 0; attempt < 500 && (await unrendered(after)) > 0; attempt += 1) await sleep(10);
      expect(await unrendered(after)).toBe(0);
      for (const [index, url] of urls.entries()) {
        const response = await after.inject({ method: 'GET', url, headers: ada.headers });
        expect(response.body).toBe(bodies[index]);
        expect(response.headers.etag).toMatch(/^"[a-z]1\.\d+"$/);
      }
    } finally {
      await after.close();
    }
  });
});
