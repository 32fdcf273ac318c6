import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, buildTestApp, createUser, type TestUser } from './helpers/app.js';
import pg from 'pg';
import { createPgDatabase, onPg } from './helpers/database.js';
import { sendJson, startFakeUpstream } from './helpers/fake-upstream.js';
import { deferred } from './helpers/sse-client.js';
import { useTestApp } from './helpers/suite.js';

/**
 * What only PostgreSQL has: a pool that loses and regains its server, and a planner that
 * must find an index for every hot query (the SQLite counterpart is query-plans.test.ts).
 */

/** A TCP relay on 127.0.0.1 to the test server, which the test can cut and restore. */
async function startRelay(target: URL) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const open = async () => {
    server = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (typeof address === 'object' && address) port = address.port;
  };
  await open();
  return {
    url() {
      const url = new URL(target);
      url.host = `127.0.0.1:${port}`;
      return url.toString();
    },
    async cut() {
      for (const socket of sockets) socket.destroy();
      server?.close();
      if (server) await once(server, 'close');
    },
    restore: open,
  };
}

describe.skipIf(!onPg)('PostgreSQL: index use, readiness, lost lock connections, pools', () => {
  let app: App;
  let ada: TestUser;
  let relay: Awaited<ReturnType<typeof startRelay>>;

  // Hooks in this order: the relay is up before the app connects through it, and is cut
  // only after the app has closed.
  beforeAll(async () => {
    relay = await startRelay(new URL(await createPgDatabase('pgonly')));
  });
  afterAll(async () => {
    await relay?.cut();
  });
  useTestApp(
    () => ({ databaseUrl: relay.url(), env: { DATABASE_CONNECT_TIMEOUT_MS: '500', DATABASE_POOL_MAX: '3' } }),
    async (suite) => {
      app = suite.app;
      ada = await createUser(app);
      for (let index = 0; index < 3; index += 1) {
        expect((await ask(app, ada, { question: `Where do red foxes live? (${index})` })).statusCode).toBe(200);
      }
    },
  );

  it('uses an index for every hot query (sequential scans disabled, so a missing index shows)', async () => {
    if (app.database.engine !== 'pg') throw new Error('not on PostgreSQL');
    const client = await app.database.pool.connect();
    try {
      await client.query('SET enable_seqscan = off');
      const { rows } = await client.query<{ id: string; chat_id: string }>('SELECT id, chat_id FROM qa_pairs LIMIT 1');
      const pair = rows[0];
      if (!pair) throw new Error('no pair');
      const queries: Record<string, [string, string]> = {
        'chats of a user, newest first': [
          `SELECT * FROM chats WHERE user_id = '${ada.id}' ORDER BY updated_at DESC, id DESC LIMIT 20`,
          'chats_user_updated_idx',
        ],
        'pairs of a chat in order': [
          `SELECT * FROM qa_pairs WHERE chat_id = '${pair.chat_id}' ORDER BY seq LIMIT 1000`,
          // Either index on (chat_id, seq, ...) serves it.
          'qa_pairs_chat_',
        ],
        'the tree skeleton of a chat (ids and parents, every chat view)': [
          `SELECT id, parent_id FROM qa_pairs WHERE chat_id = '${pair.chat_id}' ORDER BY seq`,
          'qa_pairs_chat_tree_idx',
        ],
        'a pair by id (each step of a path walk)': [`SELECT * FROM qa_pairs WHERE id = '${pair.id}'`, 'qa_pairs_pkey'],
        'branches of a chat': [
          `SELECT * FROM branches WHERE chat_id = '${pair.chat_id}' ORDER BY created_at, id`,
          'branches_chat_idx',
        ],
        'the user of an API key': [`SELECT * FROM api_keys WHERE key_hash = 'x'`, 'api_keys_key_hash_unique'],
        'full-text match': [
          // Without the user filter: on a small table the planner rightly prefers the user index.
          `SELECT id FROM search_docs WHERE document @@ phraseto_tsquery('chat_search', 'fox')`,
          'search_docs_document_idx',
        ],
        'unfinished pairs (recovery)': [
          `SELECT id FROM qa_pairs WHERE status IN ('pending', 'streaming')`,
          'qa_pairs_unfinished_idx',
        ],
      };
      for (const [name, [query, index]] of Object.entries(queries)) {
        const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${query}`)).rows
          .map((row) => row['QUERY PLAN'])
          .join('\n');
        expect(plan, name).toContain(index);
        expect(plan, name).not.toMatch(/Seq Scan/);
      }
    } finally {
      await client.query('RESET enable_seqscan');
      client.release();
    }
  });

  it('is not ready while the database is unreachable, and ready again when it returns, without a restart', async () => {
    expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
    await relay.cut();
    const down = await app.inject({ method: 'GET', url: '/ready' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ code: 'NOT_READY', message: 'The database does not respond' });
    // Requests fail as any 5xx does, without internals.
    const failed = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/chats`, headers: ada.headers });
    expect(failed.statusCode).toBeGreaterThanOrEqual(500);
    expect(failed.body).not.toMatch(/ECONN|127\.0\.0\.1|postgres/i);

    await relay.restore();
    expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
    const chats = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/chats`, headers: ada.headers });
    expect(chats.statusCode).toBe(200);
  });

  it("survives losing a chat lock's connection in the middle of an ask: the ask is answered and stored", async () => {
    const upstream = await startFakeUpstream();
    const databaseUrl = await createPgDatabase('locklost');
    const other = await buildTestApp({ databaseUrl, upstreamUrl: upstream.url });
    const admin = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    try {
      const user = await createUser(other, 'Lock');
      const reached = deferred();
      const release = deferred();
      upstream.enqueue(async (_request, res) => {
        reached.resolve();
        await release.promise;
        sendJson(res, 200, { answer: 'Still here.' });
      });
      const pending = ask(other, user, { question: 'Hold the lock, please' });
      await reached.promise;
      // The server drops the idle lock connection, as a restart or a failover would.
      const killed = await admin.query<{ pid: number }>(
        `SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%pg_advisory_lock%'`,
      );
      expect(killed.rowCount).toBe(1);
      release.resolve();
      const answered = await pending;
      expect(answered.statusCode, answered.body).toBe(200);
      expect(answered.json()).toMatchObject({ qa_pair: { status: 'answered', answer: 'Still here.' } });
      // The pool replaced the connection: the next ask on the chat takes the lock again.
      const next = await ask(other, user, {
        chat_id: answered.json<{ chat_id: string }>().chat_id,
        question: 'Again?',
      });
      expect(next.statusCode, next.body).toBe(200);
    } finally {
      await admin.end();
      await other.close();
      await upstream.close();
    }
  });

  it('ends every pool when the app closes', async () => {
    const other = await buildTestApp({ databaseUrl: await createPgDatabase('closing') });
    if (other.database.engine !== 'pg') throw new Error('not on PostgreSQL');
    const { pool, lockPool, heartbeatPool } = other.database;
    await other.close();
    expect(pool.ended).toBe(true);
    expect(lockPool.ended).toBe(true);
    expect(heartbeatPool.ended).toBe(true);
    expect(pool.totalCount + lockPool.totalCount + heartbeatPool.totalCount).toBe(0);
  });
});
