import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_KEY } from './helpers/app.js';
import { createPgDatabase, onPg } from './helpers/database.js';
import { startSse, writeSse } from './helpers/fake-upstream.js';
import { isReady, openSseEvents, openWsEvents, type LiveFrame } from './helpers/live-client.js';
import { startServerProcess, type RunningServer } from './helpers/server.js';
import { deferred, openEventStream, type ReceivedEvent } from './helpers/sse-client.js';
import { useFakeUpstream, useServerProcessCleanup } from './helpers/suite.js';

/**
 * Live events across two instances (two server processes) on one PostgreSQL database:
 * LISTEN/NOTIFY carries the ids, the log the events; a reattach on one instance follows an
 * answer the other is writing; a listener whose instance stops resumes on the other.
 */

const upstream = useFakeUpstream();
useServerProcessCleanup();
let a: RunningServer;
let b: RunningServer;

beforeAll(async () => {
  if (!onPg) return;
  const databaseUrl = await createPgDatabase('multi_events');
  const start = () =>
    startServerProcess({
      DATABASE_URL: databaseUrl,
      YOU_API_KEY: 'multi-instance-key',
      YOU_API_URL: upstream.url,
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      UPSTREAM_MAX_ATTEMPTS: '1',
      RATE_LIMIT_MAX: '0',
      LOG_LEVEL: 'warn',
    });
  [a, b] = await Promise.all([start(), start()]);
});

interface User {
  id: string;
  headers: Record<string, string>;
}

async function createUser(server: RunningServer): Promise<User> {
  const response = await fetch(`${server.base}/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Multi' }),
  });
  const body = (await response.json()) as { id: string; api_key: string };
  return { id: body.id, headers: { authorization: `Bearer ${body.api_key}` } };
}

async function send(server: RunningServer, user: User, method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.base}/v1/users/${user.id}${path}`, {
    method,
    headers: body === undefined ? user.headers : { ...user.headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: response.status === 204 ? undefined : ((await response.json()) as unknown) };
}

const eventsUrl = (server: RunningServer, user: User, query = '') =>
  `${server.base}/v1/users/${user.id}/events${query}`;
const strip = (frames: (LiveFrame & { sseId?: unknown; event?: unknown })[]) =>
  frames.map(({ sseId: _id, event: _event, ...frame }) => frame);
const tokenTexts = (events: ReceivedEvent[]) =>
  events.filter((event) => event.event === 'token').map((event) => (event.data as { text: string }).text);

describe.skipIf(!onPg)('live events across two instances', () => {
  it('an event raised on either instance reaches listeners on both, in the same order', async () => {
    const user = await createUser(a);
    const onA = await openWsEvents(eventsUrl(a, user), user.headers);
    const onB = await openSseEvents(eventsUrl(b, user), user.headers);
    await onA.until(isReady);
    await onB.until(isReady);

    const created = await send(a, user, 'POST', '/chats', { title: 'From A' });
    const chatId = (created.body as { id: string }).id;
    expect((await send(b, user, 'PATCH', `/chats/${chatId}`, { title: 'Renamed on B' })).status).toBe(200);
    expect((await send(a, user, 'DELETE', `/chats/${chatId}`)).status).toBe(204);

    const fromA = await onA.until((frame) => frame.type === 'chat.deleted');
    const fromB = await onB.until((frame) => frame.type === 'chat.deleted');
    expect(fromA.map((frame) => [frame.id, frame.type])).toEqual([
      [1, 'chat.created'],
      [2, 'chat.updated'],
      [3, 'chat.deleted'],
    ]);
    expect(strip(fromB)).toEqual(fromA);
    onA.close();
    onB.disconnect();
  });

  it('a reattach on B follows an answer A is writing, tokens adding up to the stored text', async () => {
    const user = await createUser(a);
    const listener = await openWsEvents(eventsUrl(b, user), user.headers);
    await listener.until(isReady);
    const release = deferred();
    upstream.setHandler(async (_request, res) => {
      startSse(res);
      writeSse(res, 'Once ', 'token');
      writeSse(res, 'upon ', 'token');
      await release.promise;
      writeSse(res, 'a time.', 'token');
      writeSse(res, '', 'done');
      res.end();
    });
    const asked = await openEventStream(`${a.base}/search`, {
      headers: user.headers,
      body: { user_id: user.id, question: 'A story?', stream: true },
    });
    const start = await asked.next();
    const { chat_id: chatId, qa_pair_id: pairId } = start?.data as { chat_id: string; qa_pair_id: string };

    const follower = await openEventStream(`${b.base}/v1/users/${user.id}/chats/${chatId}/qa_pairs/${pairId}/stream`, {
      method: 'GET',
      headers: user.headers,
    });
    expect(follower.response.status).toBe(200);
    expect(await follower.next()).toEqual({ event: 'start', data: start?.data });
    // A saves its progress every 250 ms: B relays it as it comes, until it has all A has.
    let followed = '';
    while (followed !== 'Once upon ') {
      const event = await follower.next();
      expect(event?.event).toBe('token');
      followed += (event?.data as { text: string }).text;
    }
    release.resolve();
    const rest = await follower.rest();
    const done = rest.at(-1);
    expect(done?.event).toBe('done');
    const stored = (done?.data as { qa_pair: { answer: string } }).qa_pair.answer;
    expect(stored).toBe('Once upon a time.');
    expect(followed + tokenTexts(rest).join('')).toBe(stored);
    await asked.rest();

    // B's event listener saw the answer's tokens from A's saved progress, completed before pair.completed.
    const frames = await listener.until((frame) => frame.type === 'pair.completed');
    const tokens = frames.filter((frame) => frame.type === 'pair.token').map((frame) => frame.data.text);
    expect(tokens.join('')).toBe(stored);
    expect(frames.findIndex((frame) => frame.type === 'pair.started')).toBeLessThan(
      frames.findIndex((frame) => frame.type === 'pair.token'),
    );
    listener.close();
  });

  it('a listener whose instance shuts down is closed cleanly and resumes on the other with no gap', async () => {
    const user = await createUser(a);
    const created = await send(b, user, 'POST', '/chats', { title: 'One' });
    const chatId = (created.body as { id: string }).id;
    const onA = await openWsEvents(eventsUrl(a, user, '?after=0'), user.headers);
    const seen = await onA.until(isReady);
    expect(seen.map((frame) => frame.type)).toEqual(['chat.created', 'ready']);

    a.child.kill('SIGTERM');
    expect((await onA.closed).code).toBe(1012);
    // Meanwhile, on B.
    await send(b, user, 'PATCH', `/chats/${chatId}`, { title: 'Two' });
    await send(b, user, 'PATCH', `/chats/${chatId}`, { title: 'Three' });

    const onB = await openWsEvents(eventsUrl(b, user, `?after=${seen[0]?.id ?? 0}`), user.headers);
    const resumed = await onB.until(isReady);
    expect(resumed.map((frame) => [frame.id, frame.type])).toEqual([
      [2, 'chat.updated'],
      [3, 'chat.updated'],
      [3, 'ready'],
    ]);
    onB.close();
  });
});
