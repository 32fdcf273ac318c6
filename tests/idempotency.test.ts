import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { createUser, tableCounts, type TestUser } from './helpers/app.js';
import { queryRows } from './helpers/database.js';
import { sendJson } from './helpers/fake-upstream.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';
import { deferred, openEventStream } from './helpers/sse-client.js';

const temp = useTempDir();
const upstream = useFakeUpstream();
let app: App;
let ada: TestUser;
let bob: TestUser;
let baseUrl: string;
useTestApp({ databaseUrl: join(temp.dir, 'idempotency.db'), upstream, listen: true }, async (suite) => {
  ({ app, baseUrl } = suite);
  ada = await createUser(app, 'Ada');
  bob = await createUser(app, 'Bob');
});
beforeEach(() => upstream.reset());

const askWithKey = (user: TestUser, key: string, body: Record<string, unknown>, asUser = user) =>
  app.inject({
    method: 'POST',
    url: '/search',
    headers: { ...asUser.headers, 'idempotency-key': key },
    payload: { user_id: user.id, ...body },
  });

describe('Idempotency-Key on POST /search', () => {
  it('answers a repeat from the record, without a second upstream call or pair', async () => {
    const first = await askWithKey(ada, 'key-repeat-1', { question: 'Only once please' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const before = await tableCounts(app);
    // Same body with its fields in another order: still the same request.
    const again = await app.inject({
      method: 'POST',
      url: '/search',
      headers: { ...ada.headers, 'idempotency-key': 'key-repeat-1', 'content-type': 'application/json' },
      payload: JSON.stringify({ question: 'Only once please', user_id: ada.id }),
    });
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect(upstream.requests).toHaveLength(1);
    expect(await tableCounts(app)).toEqual(before);
  });

  it('makes a concurrent repeat wait for the first and share its answer', async () => {
    const release = deferred();
    upstream.setHandler(async (_request, res) => {
      await release.promise;
      sendJson(res, 200, { answer: 'worth the wait' });
    });
    const first = askWithKey(ada, 'key-concurrent', { question: 'Slow one' });
    while (upstream.requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const second = askWithKey(ada, 'key-concurrent', { question: 'Slow one' });
    release.resolve();
    const [a, b] = await Promise.all([first, second]);
    expect(a.statusCode).toBe(200);
    expect(b.statusCode).toBe(200);
    expect(b.json()).toEqual(a.json());
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(upstream.requests).toHaveLength(1);
  });

  it('refuses the same key with a different body with 422, writing nothing', async () => {
    await askWithKey(ada, 'key-reused', { question: 'First meaning' });
    const before = await tableCounts(app);
    const reused = await askWithKey(ada, 'key-reused', { question: 'Another meaning' });
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await tableCounts(app)).toEqual(before);
    expect(upstream.requests).toHaveLength(1);
  });

  it('keeps keys per user, and never replays one user an answer of another', async () => {
    const adas = await askWithKey(ada, 'shared-key', { question: 'Mine' });
    const bobs = await askWithKey(bob, 'shared-key', { question: 'Mine' });
    expect(bobs.statusCode).toBe(200);
    expect(bobs.json<{ chat_id: string }>().chat_id).not.toBe(adas.json<{ chat_id: string }>().chat_id);
    const stolen = await askWithKey(ada, 'shared-key', { question: 'Mine' }, bob);
    expect(stolen.statusCode).toBe(403);
    expect(upstream.requests).toHaveLength(2);
  });

  it('replays a recorded upstream failure with the same stored pair', async () => {
    upstream.setHandler((_request, res) => sendJson(res, 500, {}));
    const failed = await askWithKey(ada, 'key-failure', { question: 'This fails' });
    expect(failed.statusCode).toBe(502);
    const replay = await askWithKey(ada, 'key-failure', { question: 'This fails' });
    expect(replay.statusCode).toBe(502);
    expect(replay.json()).toEqual(failed.json());
    expect(replay.json<{ qa_pair_id: string }>().qa_pair_id).toEqual(expect.any(String));
    expect(upstream.requests).toHaveLength(1);
  });

  it('runs again once the key has expired', async () => {
    await askWithKey(ada, 'key-expiring', { question: 'Ask me twice' });
    await queryRows(
      app,
      "UPDATE idempotency_keys SET expires_at = 0 WHERE key = 'key-expiring'",
      [],
      "UPDATE idempotency_keys SET expires_at = to_timestamp(0) WHERE key = 'key-expiring'",
    );
    const after = await askWithKey(ada, 'key-expiring', { question: 'Ask me twice' });
    expect(after.statusCode).toBe(200);
    expect(after.headers['idempotent-replayed']).toBeUndefined();
    expect(upstream.requests).toHaveLength(2);
  });

  it('answers 409 for a key left running by another process', async () => {
    await queryRows(
      app,
      "INSERT INTO idempotency_keys (user_id, key, request_hash, state, created_at, expires_at) VALUES (?, 'key-orphan', ?, 'running', 0, ?)",
      [ada.id, 'not-the-hash-of-anything-but-checked-after', Date.now() + 60_000],
      "INSERT INTO idempotency_keys (user_id, key, request_hash, state, created_at, expires_at) VALUES (?, 'key-orphan', ?, 'running', to_timestamp(0), to_timestamp(? / 1000.0))",
    );
    const conflicting = await askWithKey(ada, 'key-orphan', { question: 'whatever' });
    expect(conflicting.statusCode).toBe(422);
    await queryRows(app, "DELETE FROM idempotency_keys WHERE key = 'key-orphan'");

    // Same body: the hash matches, but nobody here is running it.
    await askWithKey(ada, 'key-orphan-2', { question: 'orphaned' });
    await queryRows(app, "UPDATE idempotency_keys SET state = 'running' WHERE key = 'key-orphan-2'");
    const inProgress = await askWithKey(ada, 'key-orphan-2', { question: 'orphaned' });
    expect(inProgress.statusCode).toBe(409);
    expect(inProgress.json()).toMatchObject({ code: 'IDEMPOTENCY_IN_PROGRESS' });
  });

  it.each([['x'.repeat(256)], ['has space'], ['']])('rejects the key %j with 400', async (key) => {
    const before = await tableCounts(app);
    const response = await app.inject({
      method: 'POST',
      url: '/search',
      headers: { ...ada.headers, 'idempotency-key': key },
      payload: { user_id: ada.id, question: 'q' },
    });
    expect(response.statusCode).toBe(400);
    expect(await tableCounts(app)).toEqual(before);
  });

  it('completes and records the ask when the client leaves, so its retry gets the answer', async () => {
    const release = deferred();
    upstream.setHandler(async (_request, res) => {
      await release.promise;
      sendJson(res, 200, { answer: 'answered after you left' });
    });
    const body = JSON.stringify({ user_id: ada.id, question: 'I might disconnect' });
    const client = httpRequest(`${baseUrl}/search`, {
      method: 'POST',
      headers: {
        ...ada.headers,
        'idempotency-key': 'key-disconnect',
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      },
    });
    client.on('error', () => {});
    client.end(body);
    while (upstream.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    client.destroy();
    release.resolve();

    let retry = await askWithKey(ada, 'key-disconnect', { question: 'I might disconnect' });
    for (let attempt = 0; attempt < 200 && retry.statusCode === 409; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      retry = await askWithKey(ada, 'key-disconnect', { question: 'I might disconnect' });
    }
    expect(retry.statusCode).toBe(200);
    expect(retry.json()).toMatchObject({ qa_pair: { answer: 'answered after you left', status: 'answered' } });
    expect(upstream.requests).toHaveLength(1);
  });

  it('replays a recorded answer to a streaming repeat as a done event', async () => {
    const first = await openEventStream(`${baseUrl}/search`, {
      headers: { ...ada.headers, 'idempotency-key': 'key-stream' },
      body: { user_id: ada.id, question: 'Stream once', stream: true },
    });
    const events = await first.rest();
    const done = events.at(-1);
    expect(done?.event).toBe('done');
    const again = await openEventStream(`${baseUrl}/search`, {
      headers: { ...ada.headers, 'idempotency-key': 'key-stream' },
      body: { user_id: ada.id, question: 'Stream once', stream: true },
    });
    expect(again.response.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.rest()).toEqual([done]);
    expect(upstream.requests).toHaveLength(1);
  });
});
