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

/** Takes the database back to before render_once: its columns, index and migration record gone. */
async function downgrade(app: App): Promise<void> {
  const statements = [
    'DROP INDEX qa_pairs_unrendered_idx',
    'DROP INDEX qa_pairs_chat_tree_idx',
    'ALTER TABLE qa_pairs DROP COLUMN rendered',
    'ALTER TABLE qa_pairs DROP COLUMN rendered_node',
    'ALTER TABLE chats DROP COLUMN version',
    'ALTER TABLE users DROP COLUMN chats_version',
  ];
  for (const statement of statements) await queryRows(app, statement);
  const table = onPg ? 'drizzle.__drizzle_migrations' : '__drizzle_migrations';
  await queryRows(app, `DELETE FROM ${table} WHERE created_at = (SELECT max(created_at) FROM ${table})`);
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
