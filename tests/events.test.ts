import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { redactUrl } from '../src/plugins/request-log.js';
import { ask, createUser, TEST_ADMIN_KEY, bearer, type TestUser } from './helpers/app.js';
import { startSse, writeSse } from './helpers/fake-upstream.js';
import { isReady, openSseEvents, openWsEvents, type LiveFrame } from './helpers/live-client.js';
import { deferred, openEventStream, type ReceivedEvent } from './helpers/sse-client.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';

const temp = useTempDir();
const upstream = useFakeUpstream();
let app: App;
let baseUrl: string;
useTestApp(
  {
    databaseUrl: join(temp.dir, 'events.db'),
    upstream,
    listen: true,
    env: { EVENTS_MAX_STREAMS_PER_USER: '4', EVENTS_BUFFER_KB: '64' },
  },
  (suite) => {
    ({ app, baseUrl } = suite);
  },
);

beforeEach(() => upstream.reset());

const eventsUrl = (user: TestUser, query = '') => `${baseUrl}/v1/users/${user.id}/events${query}`;
const typesOf = (frames: LiveFrame[]) => frames.map((frame) => frame.type);
const retained = (frames: LiveFrame[]) => frames.filter((frame) => !['ready', 'pair.token'].includes(frame.type));

async function createChat(user: TestUser, title: string): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: `/v1/users/${user.id}/chats`,
    headers: user.headers,
    payload: { title },
  });
  expect(response.statusCode).toBe(201);
  return response.json<{ id: string }>().id;
}

async function rename(user: TestUser, chatId: string, title: string) {
  const response = await app.inject({
    method: 'PATCH',
    url: `/v1/users/${user.id}/chats/${chatId}`,
    headers: user.headers,
    payload: { title },
  });
  expect(response.statusCode).toBe(200);
}

async function ticketFor(user: TestUser, headers = user.headers): Promise<string> {
  const response = await app.inject({ method: 'POST', url: `/v1/users/${user.id}/events/tickets`, headers });
  expect(response.statusCode).toBe(201);
  expect(response.headers['cache-control']).toBe('no-store');
  return response.json<{ ticket: string }>().ticket;
}

describe('a user’s event stream', () => {
  it('gives two listeners of one user the same events in the same order, and another user none', async () => {
    const ada = await createUser(app, 'Ada');
    const bo = await createUser(app, 'Bo');
    const first = await openSseEvents(eventsUrl(ada), ada.headers);
    const second = await openWsEvents(eventsUrl(ada), ada.headers);
    const other = await openSseEvents(eventsUrl(bo), bo.headers);
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    for (const stream of [first, second, other]) expect((await stream.next())?.type).toBe('ready');

    const chatId = await createChat(ada, 'Trip');
    await rename(ada, chatId, 'Lisbon trip');
    expect((await ask(app, ada, { chat_id: chatId, question: 'Where to eat?' })).statusCode).toBe(200);
    const removed = await app.inject({
      method: 'DELETE',
      url: `/v1/users/${ada.id}/chats/${chatId}`,
      headers: ada.headers,
    });
    expect(removed.statusCode).toBe(204);

    const expected = ['chat.created', 'chat.updated', 'pair.started', 'pair.completed', 'chat.deleted'];
    const seenBySse = await first.until((frame) => frame.type === 'chat.deleted');
    const seenByWs = await second.until((frame) => frame.type === 'chat.deleted');
    expect(typesOf(seenBySse)).toEqual(expected);
    expect(seenByWs).toEqual(seenBySse.map(({ sseId: _id, event: _event, ...frame }) => frame));
    expect(seenBySse.map((frame) => frame.id)).toEqual([1, 2, 3, 4, 5]);
    // SSE: the event name is the type, the id line the event id.
    expect(seenBySse.map((frame) => [frame.event, frame.sseId])).toEqual(
      expected.map((type, i) => [type, String(i + 1)]),
    );
    expect(seenBySse[1]?.data).toMatchObject({ chat: { id: chatId, title: 'Lisbon trip' } });
    expect(seenBySse[3]?.data).toMatchObject({ qa_pair: { question: 'Where to eat?', status: 'answered' } });
    expect(seenBySse.every((frame) => frame.chat_id === chatId)).toBe(true);

    // Bo's stream got nothing of Ada's: the first thing it sees is his own chat.
    const bosChat = await createChat(bo, 'Mine');
    expect(await other.next()).toMatchObject({ id: 1, type: 'chat.created', chat_id: bosChat });
    for (const stream of [first, other]) stream.disconnect();
    second.close();
  });

  it('resumes after a disconnect with nothing lost and nothing repeated (Last-Event-ID and ?after)', async () => {
    const ada = await createUser(app, 'Ada');
    const chatId = await createChat(ada, 'One');
    const stream = await openSseEvents(eventsUrl(ada, '?after=0'), ada.headers);
    // Replayed from the log, then live.
    expect(typesOf(await stream.until(isReady))).toEqual(['chat.created', 'ready']);
    await rename(ada, chatId, 'Two');
    const seen = await stream.until((frame) => frame.type === 'chat.updated');
    stream.disconnect();
    const lastId = seen.at(-1)?.sseId;
    expect(lastId).toBe('2');

    // Missed while away.
    await rename(ada, chatId, 'Three');
    await createChat(ada, 'Another');

    const resumed = await openSseEvents(eventsUrl(ada), { ...ada.headers, 'last-event-id': String(lastId) });
    const replay = await resumed.until(isReady);
    expect(replay.map((frame) => [frame.id, frame.type])).toEqual([
      [3, 'chat.updated'],
      [4, 'chat.created'],
      [4, 'ready'],
    ]);
    await rename(ada, chatId, 'Four');
    expect(await resumed.next()).toMatchObject({ id: 5, type: 'chat.updated' });
    resumed.disconnect();

    const ws = await openWsEvents(eventsUrl(ada, '?after=3'), ada.headers);
    expect((await ws.until(isReady)).map((frame) => frame.id)).toEqual([4, 5, 5]);
    ws.close();
  });

  it('sends resync, never a silent gap, when the log no longer holds what follows the id', async () => {
    const ada = await createUser(app, 'Ada');
    const chatId = await createChat(ada, 'One');
    for (const title of ['Two', 'Three', 'Four']) await rename(ada, chatId, title);
    // Pruning took the oldest events (the retention rule itself is tested on both engines).
    await app.storage.events.prune({ keepCount: 2, keepSince: new Date(Date.now() + 3_600_000) });

    const stream = await openSseEvents(eventsUrl(ada, '?after=1'), ada.headers);
    const frames = await stream.until(isReady);
    expect(frames.map((frame) => [frame.type, frame.data])).toEqual([
      ['resync', { last_event_id: 4 }],
      ['ready', { last_event_id: 4 }],
    ]);
    // Its id moves the client past what it can no longer have.
    expect(frames[0]?.sseId).toBe('4');
    stream.disconnect();

    // Still complete from an id the log holds the next of.
    const fromThree = await openSseEvents(eventsUrl(ada, '?after=2'), ada.headers);
    expect((await fromThree.until(isReady)).map((frame) => frame.id)).toEqual([3, 4, 4]);
    fromThree.disconnect();

    // An id from the future (another database, a mistake): resync too.
    const ahead = await openWsEvents(eventsUrl(ada, '?after=99'), ada.headers);
    expect(typesOf(await ahead.until(isReady))).toEqual(['resync', 'ready']);
    ahead.close();
  });

  it('relays a streaming answer’s tokens after its pair.started and before its pair.completed', async () => {
    const ada = await createUser(app, 'Ada');
    upstream.setHandler((_request, res) => {
      startSse(res);
      for (const token of ['Hel', 'lo', '!']) writeSse(res, token, 'token');
      writeSse(res, '', 'done');
      res.end();
    });
    const stream = await openWsEvents(eventsUrl(ada), ada.headers);
    await stream.until(isReady);
    const asked = await openEventStream(`${baseUrl}/search`, {
      headers: ada.headers,
      body: { user_id: ada.id, question: 'Hi', stream: true },
    });
    await asked.rest();
    const frames = await stream.until((frame) => frame.type === 'pair.completed');
    expect(typesOf(frames)).toEqual([
      'chat.created',
      'pair.started',
      'pair.token',
      'pair.token',
      'pair.token',
      'pair.completed',
    ]);
    const tokens = frames.filter((frame) => frame.type === 'pair.token');
    expect(tokens.map((frame) => frame.data.text).join('')).toBe('Hello!');
    // Not kept: they carry the id of the latest kept event.
    expect(tokens.map((frame) => frame.id)).toEqual([2, 2, 2]);
    stream.close();
  });

  it('opens from a browser with a single-use ticket, never with a key in the URL', async () => {
    const ada = await createUser(app, 'Ada');
    const bo = await createUser(app, 'Bo');
    const ticket = await ticketFor(ada);
    const ws = await openWsEvents(eventsUrl(ada, `?ticket=${ticket}`));
    expect((await ws.next())?.type).toBe('ready');
    ws.close();
    // Used once: refused the second time, before any upgrade.
    const again = await openWsEvents(eventsUrl(ada, `?ticket=${ticket}`));
    expect(again.rejectedWith).toBe(401);
    // A ticket of Ada's opens nothing of Bo's.
    const misused = await openWsEvents(eventsUrl(bo, `?ticket=${await ticketFor(ada)}`));
    expect(misused.rejectedWith).toBe(403);
    const sse = await openSseEvents(eventsUrl(ada, `?ticket=${await ticketFor(ada)}`), {});
    expect(sse.response.status).toBe(200);
    sse.disconnect();
    // A key is not accepted in the URL, and a ticket never reaches a log line.
    const keyInUrl = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/events?api_key=${ada.apiKey}` });
    expect(keyInUrl.statusCode).toBe(401);
    expect(redactUrl(`/v1/users/${ada.id}/events?ticket=${ticket}&after=3`)).toBe(
      `/v1/users/${ada.id}/events?ticket=[redacted]&after=3`,
    );
    // The admin key listens to one user at a time, through that user's route.
    const admin = await openWsEvents(eventsUrl(bo), bearer(TEST_ADMIN_KEY));
    expect((await admin.next())?.type).toBe('ready');
    admin.close();
  });

  it('refuses another user’s stream and one stream past the per-user bound', async () => {
    const ada = await createUser(app, 'Ada');
    const bo = await createUser(app, 'Bo');
    const forbidden = await app.inject({ method: 'GET', url: `/v1/users/${bo.id}/events`, headers: ada.headers });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toMatchObject({ code: 'FORBIDDEN' });
    const open = [];
    for (let i = 0; i < 4; i += 1) {
      const stream = await openWsEvents(eventsUrl(ada), ada.headers);
      expect((await stream.next())?.type).toBe('ready');
      open.push(stream);
    }
    const sse = await openSseEvents(eventsUrl(ada), ada.headers);
    expect(sse.response.status).toBe(429);
    expect(await sse.response.json()).toMatchObject({ code: 'TOO_MANY_LISTENERS' });
    const ws = await openWsEvents(eventsUrl(ada), ada.headers);
    expect(ws.rejectedWith).toBe(429);
    // Bo's streams are his own count.
    const bos = await openWsEvents(eventsUrl(bo), bo.headers);
    expect((await bos.next())?.type).toBe('ready');
    for (const stream of [...open, bos]) stream.close();
  });

  it('closes a WebSocket that stops reading (4008) without delaying asks or the other listeners', async () => {
    const ada = await createUser(app, 'Ada');
    // Big answers fill the stalled reader's buffers quickly (the bound is 64 KB here).
    const big = 'x'.repeat(200_000);
    upstream.setHandler((_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ answer: big, search_results: [] }));
    });
    const slow = await openWsEvents(eventsUrl(ada), ada.headers);
    const steady = await openWsEvents(eventsUrl(ada), ada.headers);
    expect((await slow.next())?.type).toBe('ready');
    expect((await steady.next())?.type).toBe('ready');
    // The slow client stops reading from its socket altogether.
    const underlying = (slow.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    underlying.pause();

    const chatId = await createChat(ada, 'Busy');
    const asks = 40;
    for (let i = 0; i < asks; i += 1) {
      // Each ask completes although one listener reads nothing: if the hub waited for it,
      // the pair would never be stored and this loop would not end.
      expect((await ask(app, ada, { chat_id: chatId, question: `Q${i}` })).statusCode).toBe(200);
    }
    const steadyFrames = await steady.until(
      (frame) =>
        frame.type === 'pair.completed' && (frame.data.qa_pair as { question: string }).question === `Q${asks - 1}`,
    );
    expect(retained(steadyFrames).map((frame) => frame.id)).toEqual(steadyFrames.map((_, i) => i + 1));
    expect(steadyFrames.filter((frame) => frame.type === 'pair.completed')).toHaveLength(asks);
    underlying.resume();
    expect((await slow.closed).code).toBe(4008);
    // It can resume from the last id it had: nothing is lost.
    const seen = slow.received.filter((frame) => frame.type !== 'ready');
    const lastSeen = seen.at(-1)?.id ?? 0;
    expect(lastSeen).toBeLessThan(1 + 2 * asks);
    const resumed = await openWsEvents(eventsUrl(ada, `?after=${lastSeen}`), ada.headers);
    const replay = await resumed.until(isReady);
    expect(retained(replay).map((frame) => frame.id)).toEqual(
      Array.from({ length: 1 + 2 * asks - lastSeen }, (_, i) => lastSeen + 1 + i),
    );
    resumed.close();
    steady.close();
  });
});

describe('streams that close', () => {
  it('are all let go, even those that leave while they open or replay', async () => {
    const ada = await createUser(app, 'Ada');
    const chatId = await createChat(ada, 'Busy log');
    for (let i = 0; i < 30; i += 1) await rename(ada, chatId, `T${i}`);
    const before = app.services.hub.listenerCount;
    const open = [];
    for (let i = 0; i < 3; i += 1) {
      const stream = await openSseEvents(eventsUrl(ada, '?after=0'), ada.headers);
      await stream.until(isReady);
      open.push(stream);
    }
    expect(app.services.hub.listenerCount).toBe(before + 3);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(new RegExp(`^chat_event_streams_open ${before + 3}$`, 'm'));
    for (const stream of open) stream.disconnect();
    // Leaving at once, while the replay of the whole log is under way.
    for (let i = 0; i < 3; i += 1) {
      const controller = new AbortController();
      const opening = fetch(eventsUrl(ada, '?after=0'), {
        headers: { ...ada.headers, accept: 'text/event-stream' },
        signal: controller.signal,
      }).catch(() => undefined);
      controller.abort();
      await opening;
    }
    // Bounded by count, not by a clock: each turn lets the server see a close.
    for (let turn = 0; turn < 500 && app.services.hub.listenerCount !== before; turn += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(app.services.hub.listenerCount).toBe(before);
    // The user's bound counts only the open ones: four more fit.
    const more = [];
    for (let i = 0; i < 4; i += 1) more.push(await openWsEvents(eventsUrl(ada), ada.headers));
    for (const stream of more) expect((await stream.next())?.type).toBe('ready');
    for (const stream of more) stream.close();
  });
});

describe('an SSE listener that stops reading', () => {
  it('has its response ended past the bound, while the asks go on', async () => {
    const ada = await createUser(app, 'Ada');
    const big = 'y'.repeat(200_000);
    upstream.setHandler((_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ answer: big, search_results: [] }));
    });
    // The body is never read until the end: the client's buffers fill, then the server's.
    const response = await fetch(eventsUrl(ada), { headers: { ...ada.headers, accept: 'text/event-stream' } });
    expect(response.status).toBe(200);
    const chatId = await createChat(ada, 'Busy');
    for (let i = 0; i < 40; i += 1) {
      expect((await ask(app, ada, { chat_id: chatId, question: `Q${i}` })).statusCode).toBe(200);
    }
    // Cut off by the server: reading it now fails short of its end.
    await expect(response.text()).rejects.toThrow();
  });
});

describe('reattaching to an answer', () => {
  const reattach = (user: TestUser, chatId: string, pairId: string) =>
    openEventStream(`${baseUrl}/v1/users/${user.id}/chats/${chatId}/qa_pairs/${pairId}/stream`, {
      method: 'GET',
      headers: user.headers,
    });
  const texts = (events: ReceivedEvent[]) =>
    events.filter((event) => event.event === 'token').map((event) => (event.data as { text: string }).text);

  it('mid-answer: start, the text so far as one token, the live tokens, then done, adding up to the stored answer', async () => {
    const ada = await createUser(app, 'Ada');
    const release = deferred();
    upstream.setHandler(async (_request, res) => {
      startSse(res);
      writeSse(res, [{ url: 'https://example.com/s', name: 'S', snippet: 's' }], 'search_results');
      writeSse(res, 'Once ', 'token');
      writeSse(res, 'upon ', 'token');
      await release.promise;
      writeSse(res, 'a time.', 'token');
      writeSse(res, '', 'done');
      res.end();
    });
    const asked = await openEventStream(`${baseUrl}/search`, {
      headers: ada.headers,
      body: { user_id: ada.id, question: 'A story?', stream: true },
    });
    const start = await asked.next();
    const { chat_id: chatId, qa_pair_id: pairId } = start?.data as { chat_id: string; qa_pair_id: string };
    // The asking client has seen both tokens: the server has them too.
    for (let seen = 0; seen < 2;) if ((await asked.next())?.event === 'token') seen += 1;
    // It goes away; the answer goes on.
    asked.disconnect();

    const follower = await reattach(ada, chatId, pairId);
    expect(follower.response.status).toBe(200);
    expect(await follower.next()).toEqual({ event: 'start', data: start?.data });
    expect((await follower.next())?.event).toBe('search_results');
    expect(await follower.next()).toEqual({ event: 'token', data: { text: 'Once upon ' } });
    release.resolve();
    const rest = await follower.rest();
    expect(texts(rest)).toEqual(['a time.']);
    const done = rest.at(-1);
    expect(done?.event).toBe('done');
    const stored = (done?.data as { qa_pair: { answer: string } }).qa_pair.answer;
    expect('Once upon ' + texts(rest).join('')).toBe(stored);
    expect(done?.data).toMatchObject({ chat_id: chatId, branch_id: (start?.data as { branch_id: string }).branch_id });

    // Once final: done at once, the same as the chat shows.
    const late = await (await reattach(ada, chatId, pairId)).rest();
    expect(late).toEqual([done]);
  });

  it('gives a failed pair its error at once, and another user’s pair nothing', async () => {
    const ada = await createUser(app, 'Ada');
    const bo = await createUser(app, 'Bo');
    upstream.setHandler((_request, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{}');
    });
    const failed = await ask(app, ada, { question: 'Fail please' });
    const body = failed.json<{ qa_pair_id: string; code: string; statusCode: number }>();
    const chats = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/chats`, headers: ada.headers });
    const chatId = chats.json<{ data: { id: string }[] }>().data[0]?.id ?? '';
    const events = await (await reattach(ada, chatId, body.qa_pair_id)).rest();
    expect(events).toEqual([{ event: 'error', data: failed.json() }]);

    const other = await app.inject({
      method: 'GET',
      url: `/v1/users/${ada.id}/chats/${chatId}/qa_pairs/${body.qa_pair_id}/stream`,
      headers: bo.headers,
    });
    expect(other.statusCode).toBe(403);
    const missing = await app.inject({
      method: 'GET',
      url: `/v1/users/${ada.id}/chats/${chatId}/qa_pairs/00000000-0000-4000-8000-000000000000/stream`,
      headers: ada.headers,
    });
    expect(missing.statusCode).toBe(404);
  });
});
