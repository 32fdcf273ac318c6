import { once } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { TEST_ADMIN_KEY } from './helpers/app.js';
import { sendJson } from './helpers/fake-upstream.js';
import { startServerProcess, untilClosing, type RunningServer } from './helpers/server.js';
import { deferred } from './helpers/sse-client.js';
import { onPg } from './helpers/database.js';
import { useFakeUpstream, useServerProcessCleanup, useTempDir } from './helpers/suite.js';

/**
 * The real server as a separate process (src/server.ts through tsx), killed and stopped
 * the way production would be: SIGKILL mid-load, SIGTERM with a request in flight.
 */

const temp = useTempDir();
const upstream = useFakeUpstream();
useServerProcessCleanup();

function startServer(databaseUrl: string, env: Record<string, string> = {}): Promise<RunningServer> {
  return startServerProcess({
    DATABASE_URL: databaseUrl,
    YOU_API_KEY: 'process-test-key',
    YOU_API_URL: upstream.url,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    UPSTREAM_MAX_ATTEMPTS: '1',
    RATE_LIMIT_MAX: '0',
    LOG_LEVEL: 'warn',
    ...env,
  });
}

async function createUser(base: string): Promise<{ id: string; headers: Record<string, string> }> {
  const response = await fetch(`${base}/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Process' }),
  });
  const body = (await response.json()) as { id: string; api_key: string };
  return { id: body.id, headers: { authorization: `Bearer ${body.api_key}`, 'content-type': 'application/json' } };
}

// SQLite files, WAL and integrity_check; on PostgreSQL, multi-instance.test.ts kills servers mid-stream.
describe.skipIf(onPg)('crash safety', () => {
  it('keeps every acknowledged pair whole across repeated SIGKILLs mid-load, and recovers the rest', async () => {
    const databaseUrl = join(temp.dir, 'crash.db');
    // Answers take a moment, so that asks are always in flight when the kill lands.
    upstream.setHandler(async (request, res) => {
      await new Promise((resolve) => setTimeout(resolve, 15));
      const question = (request.body as { messages: { content: string }[] }).messages.at(-1)?.content ?? '';
      sendJson(res, 200, { answer: `answer to ${question}` });
    });
    const acknowledged = new Map<string, { chatId: string; question: string }>();
    let user: { id: string; headers: Record<string, string> } | undefined;

    for (let round = 0; round < 3; round += 1) {
      const server = await startServer(databaseUrl);
      user ??= await createUser(server.base);
      const owner = user;
      let completed = 0;
      let stop = false;
      const connections = Array.from({ length: 6 }, async (_unused, connection) => {
        for (let index = 0; !stop && index < 200; index += 1) {
          const question = `round ${round} connection ${connection} question ${index}`;
          try {
            const response = await fetch(`${server.base}/search`, {
              method: 'POST',
              headers: owner.headers,
              body: JSON.stringify({ user_id: owner.id, question }),
            });
            if (response.status === 200) {
              const body = (await response.json()) as { chat_id: string; qa_pair: { id: string } };
              acknowledged.set(body.qa_pair.id, { chatId: body.chat_id, question });
              completed += 1;
            }
          } catch {
            return; // the server is gone
          }
        }
      });
      // Kill after a number of acknowledged asks (not after a time), with more in flight.
      while (completed < 20 && server.child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 5));
      server.child.kill('SIGKILL');
      stop = true;
      await once(server.child, 'exit');
      await Promise.all(connections);
    }

    // A clean start recovers the unfinished pairs; every acknowledged one is there, whole.
    const server = await startServer(databaseUrl);
    const owner = user;
    if (!owner) throw new Error('no user');
    for (const [pairId, { chatId, question }] of acknowledged) {
      const chat = (await (
        await fetch(`${server.base}/v1/users/${owner.id}/chats/${chatId}`, { headers: owner.headers })
      ).json()) as {
        qa_pairs: { id: string; question: string; answer: string; status: string }[];
      };
      expect(chat.qa_pairs.find((pair) => pair.id === pairId)).toMatchObject({
        question,
        answer: `answer to ${question}`,
        status: 'answered',
      });
    }
    expect(acknowledged.size).toBeGreaterThanOrEqual(60);
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');

    const database = new Database(databaseUrl, { readonly: true });
    try {
      expect(database.pragma('integrity_check', { simple: true })).toBe('ok');
      const unfinished = database
        .prepare("SELECT count(*) AS n FROM qa_pairs WHERE status IN ('pending', 'streaming')")
        .get() as {
        n: number;
      };
      expect(unfinished.n).toBe(0);
      const interrupted = database
        .prepare("SELECT count(*) AS n FROM qa_pairs WHERE error_code = 'INTERRUPTED'")
        .get() as {
        n: number;
      };
      // Each kill caught asks mid-flight; they were not left pending.
      expect(interrupted.n).toBeGreaterThan(0);
    } finally {
      database.close();
    }
  }, 120_000);
});

describe.skipIf(onPg)('graceful shutdown', () => {
  it('finishes the request in flight on SIGTERM, stops accepting, checkpoints the WAL and exits 0', async () => {
    const databaseUrl = join(temp.dir, 'graceful.db');
    const server = await startServer(databaseUrl);
    const user = await createUser(server.base);
    const release = deferred();
    upstream.reset();
    upstream.setHandler(async (_request, res) => {
      await release.promise;
      sendJson(res, 200, { answer: 'finished during shutdown' });
    });
    const inFlight = fetch(`${server.base}/search`, {
      method: 'POST',
      headers: user.headers,
      body: JSON.stringify({ user_id: user.id, question: 'Answer me before you go' }),
    });
    while (upstream.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    // Closing has begun once new requests are turned away (or refused outright).
    await untilClosing(server.base);
    release.resolve();

    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      qa_pair: { answer: 'finished during shutdown', status: 'answered' },
    });
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    // The WAL was folded back into the database file on close.
    const wal = `${databaseUrl}-wal`;
    expect(!existsSync(wal) || statSync(wal).size === 0).toBe(true);
  }, 60_000);
});
