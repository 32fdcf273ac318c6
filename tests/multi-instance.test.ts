import { once } from 'node:events';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_KEY } from './helpers/app.js';
import { createPgDatabase, onPg } from './helpers/database.js';
import { sendJson, startSse, writeSse } from './helpers/fake-upstream.js';
import { startServerProcess, type RunningServer } from './helpers/server.js';
import { deferred, openEventStream } from './helpers/sse-client.js';
import { useFakeUpstream, useServerProcessCleanup } from './helpers/suite.js';

/**
 * Two app instances (two server processes) on one PostgreSQL database, as behind a load
 * balancer: asks on one chat through both are ordered, one Idempotency-Key sent to both
 * makes one upstream call, and an instance killed mid-stream has its pair failed by the
 * other, which leaves its own running asks alone.
 */

const upstream = useFakeUpstream();
useServerProcessCleanup();
let databaseUrl: string;
let a: RunningServer;
let b: RunningServer;

const startInstance = () =>
  startServerProcess({
    DATABASE_URL: databaseUrl,
    YOU_API_KEY: 'multi-instance-key',
    YOU_API_URL: upstream.url,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    UPSTREAM_MAX_ATTEMPTS: '1',
    RATE_LIMIT_MAX: '0',
    LOG_LEVEL: 'warn',
    // Quick to notice a dead instance, so the test does not wait long for the sweep.
    INSTANCE_HEARTBEAT_MS: '200',
    INSTANCE_STALE_AFTER_MS: '1000',
  });

interface User {
  id: string;
  headers: Record<string, string>;
}
interface PairBody {
  id: string;
  question: string;
  answer: string | null;
  status: string;
  parent_id: string | null;
  error: { code: string } | null;
}

async function post(server: RunningServer, user: User, body: Record<string, unknown>, headers = {}) {
  return fetch(`${server.base}/search`, {
    method: 'POST',
    headers: { ...user.headers, ...headers },
    body: JSON.stringify({ user_id: user.id, ...body }),
  });
}

async function chatOf(server: RunningServer, user: User, chatId: string): Promise<{ qa_pairs: PairBody[] }> {
  const response = await fetch(`${server.base}/v1/users/${user.id}/chats/${chatId}`, { headers: user.headers });
  expect(response.status).toBe(200);
  return (await response.json()) as { qa_pairs: PairBody[] };
}

beforeAll(async () => {
  if (!onPg) return;
  databaseUrl = await createPgDatabase('multi');
  // One after the other: the second start finds the migrations applied (and would wait on
  // the migration lock if they overlapped).
  [a, b] = await Promise.all([startInstance(), startInstance()]);
});

describe.skipIf(!onPg)('two instances on one PostgreSQL database', () => {
  let user: User;

  it('shares users and chats between instances', async () => {
    const created = await fetch(`${a.base}/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Multi' }),
    });
    const body = (await created.json()) as { id: string; api_key: string };
    user = { id: body.id, headers: { authorization: `Bearer ${body.api_key}`, 'content-type': 'application/json' } };
    const me = await fetch(`${b.base}/v1/users/me`, { headers: user.headers });
    expect(me.status).toBe(200);
  });

  it('orders concurrent asks on one chat across both instances: no turn interleaved, none lost', async () => {
    upstream.setHandler(async (request, res) => {
      const messages = (request.body as { messages: { content: string }[] }).messages;
      // Slow enough that unordered asks would overlap.
      await new Promise((resolve) => setTimeout(resolve, 30));
      sendJson(res, 200, { answer: `seen ${messages.length - 1} messages` });
    });
    const first = await post(a, user, { question: 'start' });
    expect(first.status).toBe(200);
    const chatId = ((await first.json()) as { chat_id: string }).chat_id;

    const questions = Array.from({ length: 8 }, (_unused, index) => `q${index}`);
    const responses = await Promise.all(
      questions.map((question, index) => post(index % 2 === 0 ? a : b, user, { chat_id: chatId, question })),
    );
    expect(responses.map((response) => response.status)).toEqual(questions.map(() => 200));

    const chat = await chatOf(b, user, chatId);
    expect(chat.qa_pairs).toHaveLength(questions.length + 1);
    // One straight line, each answer having seen every earlier turn (20 turns of history).
    chat.qa_pairs.forEach((pair, index) => {
      expect(pair.parent_id).toBe(index === 0 ? null : chat.qa_pairs[index - 1]?.id);
      expect(pair).toMatchObject({ status: 'answered', answer: `seen ${index * 2} messages` });
    });
    expect(
      chat.qa_pairs
        .slice(1)
        .map((pair) => pair.question)
        .sort(),
    ).toEqual(questions);
  });

  it('makes one upstream call for an Idempotency-Key sent to both instances at once', async () => {
    upstream.reset();
    const release = deferred();
    upstream.setHandler(async (_request, res) => {
      await release.promise;
      sendJson(res, 200, { answer: 'once only' });
    });
    const headers = { 'idempotency-key': 'multi-instance-key-1' };
    const body = { question: 'Exactly once, please' };
    const fromA = post(a, user, body, headers);
    const fromB = post(b, user, body, headers);
    // Both requests have reached an instance and one of them the upstream; the other was
    // answered (409, still running elsewhere) or waits for the first in its instance.
    while (upstream.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    release.resolve();
    const results = await Promise.all([fromA, fromB]);
    const statuses = results.map((response) => response.status).sort();
    expect([
      [200, 200],
      [200, 409],
    ]).toContainEqual(statuses);
    const answered = results.find((response) => response.status === 200);
    const original = (await answered?.json()) as { qa_pair: { id: string } };

    // Retried after it finished, through either instance: the recorded response, no new call.
    for (const server of [a, b]) {
      const replay = await post(server, user, body, headers);
      expect(replay.status).toBe(200);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(((await replay.json()) as { qa_pair: { id: string } }).qa_pair.id).toBe(original.qa_pair.id);
    }
    expect(upstream.requests).toHaveLength(1);
  });

  it("fails the pair of an instance killed mid-stream, without touching the other instance's running ask", async () => {
    upstream.reset();
    const holdStream = deferred();
    const holdPlain = deferred();
    upstream.setHandler(async (request, res) => {
      const body = request.body as { stream?: boolean; messages: { content: string }[] };
      if (body.stream) {
        startSse(res);
        writeSse(res, 'Partial ', 'token');
        await holdStream.promise;
        res.end();
        return;
      }
      await holdPlain.promise;
      sendJson(res, 200, { answer: 'finished on the live instance' });
    });

    // A long ask on A, on a chat of its own...
    const plain = post(a, user, { question: 'Take your time' });
    while (upstream.requests.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    // ...and a stream on B, killed once its first token has arrived.
    const stream = await openEventStream(`${b.base}/search`, {
      headers: user.headers,
      body: { user_id: user.id, question: 'Stream then die', stream: true },
    });
    const start = await stream.next();
    const { chat_id: chatId, qa_pair_id: pairId } = start?.data as { chat_id: string; qa_pair_id: string };
    expect(await stream.next()).toEqual({ event: 'token', data: { text: 'Partial ' } });
    b.child.kill('SIGKILL');
    await once(b.child, 'exit');

    // A's heartbeat sweep finds B silent and fails its pair; the question is kept.
    let pair: PairBody | undefined;
    for (let attempt = 0; attempt < 400; attempt += 1) {
      pair = (await chatOf(a, user, chatId)).qa_pairs.find((candidate) => candidate.id === pairId);
      if (pair?.status !== 'streaming') break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(pair).toMatchObject({ question: 'Stream then die', status: 'failed', error: { code: 'INTERRUPTED' } });

    // A's own ask was running all along: it is not failed, and completes.
    holdPlain.resolve();
    const finished = await plain;
    expect(finished.status).toBe(200);
    expect(await finished.json()).toMatchObject({
      qa_pair: { status: 'answered', answer: 'finished on the live instance' },
    });
    holdStream.resolve();

    // B's chat lock went with its connections: the chat takes a new question through A.
    upstream.setHandler((_request, res) => sendJson(res, 200, { answer: 'after the crash' }));
    const next = await post(a, user, { chat_id: chatId, question: 'Still there?' });
    expect(next.status).toBe(200);
    const chat = await chatOf(a, user, chatId);
    expect(chat.qa_pairs.map((candidate) => candidate.status)).toEqual(['failed', 'answered']);
  });

  it("never fails a live instance's running ask, however long it runs past the stale time", async () => {
    // A fresh instance sweeps every 200 ms for pairs of instances silent for 1 s; A's ask
    // below runs three times that long while A keeps beating.
    const c = await startInstance();
    upstream.reset();
    const hold = deferred();
    upstream.setHandler(async (_request, res) => {
      await hold.promise;
      sendJson(res, 200, { answer: 'slow but alive' });
    });
    const asked = post(a, user, { question: 'A long one, on a live instance' });
    while (upstream.requests.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    const chats = (await (
      await fetch(`${c.base}/v1/users/${user.id}/chats?limit=1`, { headers: user.headers })
    ).json()) as {
      data: { id: string }[];
    };
    const chatId = chats.data[0]?.id ?? '';
    // Read through C, the sweeping instance, for three stale periods: still pending throughout.
    const seen = new Set<string>();
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      const pair = (await chatOf(c, user, chatId)).qa_pairs.at(-1);
      seen.add(`${pair?.question}: ${pair?.status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect([...seen]).toEqual(['A long one, on a live instance: pending']);
    hold.resolve();
    const finished = await asked;
    expect(finished.status).toBe(200);
    expect((await chatOf(c, user, chatId)).qa_pairs.at(-1)).toMatchObject({
      status: 'answered',
      answer: 'slow but alive',
    });
  });
});
