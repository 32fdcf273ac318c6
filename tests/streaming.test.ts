import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, buildTestApp, createUser, type TestUser } from './helpers/app.js';
import { sendJson, startSse, writeSse } from './helpers/fake-upstream.js';
import { useFakeUpstream, useTempDir, useTestApp } from './helpers/suite.js';
import { deferred, openEventStream, type ReceivedEvent } from './helpers/sse-client.js';

const temp = useTempDir();
const upstream = useFakeUpstream();
let app: App;
let baseUrl: string;
let ada: TestUser;
useTestApp(
  { databaseUrl: join(temp.dir, 'streaming.db'), upstream, env: { UPSTREAM_TIMEOUT_MS: '1500' }, listen: true },
  async (suite) => {
    ({ app, baseUrl } = suite);
    ada = await createUser(app, 'Ada');
  },
);

beforeEach(() => upstream.reset());

interface Pair {
  id: string;
  question: string;
  answer: string | null;
  status: string;
  search_results: { url: string }[];
  error: { code: string } | null;
  upstream_request_id: string | null;
}

const streamAsk = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  openEventStream(`${baseUrl}/search`, { headers: { ...ada.headers, ...headers }, body: { user_id: ada.id, ...body } });

async function pairOf(chatId: string, pairId: string): Promise<Pair | undefined> {
  const chat = await app.inject({
    method: 'GET',
    url: `/v1/users/${ada.id}/chats/${chatId}/tree`,
    headers: ada.headers,
  });
  const nodes = chat.json<{ nodes: { id: string }[] }>().nodes;
  if (!nodes.some((node) => node.id === pairId)) return undefined;
  const full = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/chats/${chatId}`, headers: ada.headers });
  return full.json<{ qa_pairs: Pair[] }>().qa_pairs.find((pair) => pair.id === pairId);
}

/** Waits (bounded by count, not by a clock) until the stored pair leaves `streaming`. */
async function settled(chatId: string, pairId: string): Promise<Pair | undefined> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    const pair = await pairOf(chatId, pairId);
    if (pair && pair.status !== 'streaming') return pair;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return pairOf(chatId, pairId);
}

const tokens = (events: (ReceivedEvent | undefined)[]) =>
  events.filter((event) => event?.event === 'token').map((event) => (event?.data as { text: string }).text);

describe('streaming from You.com', () => {
  it('relays the first token before the upstream has finished, then the rest in order', async () => {
    const release = deferred();
    upstream.setHandler(async (request, res) => {
      startSse(res, { 'x-request-id': 'you-req-1' });
      writeSse(res, [{ url: 'https://example.com/s', name: 'Source', snippet: 'snip' }], 'search_results');
      writeSse(res, 'Hello', 'token');
      await release.promise; // nothing more until our client has seen "Hello"
      writeSse(res, ', wor', 'token');
      writeSse(res, 'ld!', 'token');
      writeSse(res, '', 'done');
      res.end();
      void request;
    });

    const stream = await streamAsk({ question: 'Say hello', stream: true });
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);

    const start = await stream.next();
    expect(start?.event).toBe('start');
    const { chat_id: chatId, qa_pair_id: pairId } = start?.data as { chat_id: string; qa_pair_id: string };
    // While the answer streams, the pair is stored as streaming.
    expect((await pairOf(chatId, pairId))?.status).toBe('streaming');

    expect(await stream.next()).toEqual({
      event: 'search_results',
      data: { search_results: [{ url: 'https://example.com/s', name: 'Source', snippet: 'snip' }] },
    });
    expect(await stream.next()).toEqual({ event: 'token', data: { text: 'Hello' } });
    release.resolve();

    const rest = await stream.rest();
    expect(tokens(rest)).toEqual([', wor', 'ld!']);
    const done = rest.at(-1);
    expect(done?.event).toBe('done');
    expect(done?.data).toMatchObject({
      chat_id: chatId,
      qa_pair: { id: pairId, answer: 'Hello, world!', status: 'answered', upstream_request_id: 'you-req-1' },
    });
    expect(await pairOf(chatId, pairId)).toMatchObject({
      answer: 'Hello, world!',
      status: 'answered',
      search_results: [{ url: 'https://example.com/s' }],
    });

    // The upstream was asked to stream, with the same messages as a plain ask.
    expect(upstream.requests[0]?.body).toEqual({ messages: [{ role: 'user', content: 'Say hello' }], stream: true });
    expect(upstream.requests[0]?.headers.accept).toBe('text/event-stream');
  });

  it('streams when the client sends Accept: text/event-stream', async () => {
    upstream.setHandler((_request, res) => {
      startSse(res);
      writeSse(res, 'Yes', 'token');
      writeSse(res, '', 'done');
      res.end();
    });
    const stream = await streamAsk({ question: 'Accept header?' }, { accept: 'text/event-stream' });
    const events = await stream.rest();
    expect(events.map((event) => event.event)).toEqual(['start', 'token', 'done']);
  });

  it('completes and stores the answer when the client disconnects mid-stream', async () => {
    const release = deferred();
    upstream.setHandler(async (_request, res) => {
      startSse(res);
      writeSse(res, 'Part one. ', 'token');
      await release.promise;
      writeSse(res, 'Part two.', 'token');
      writeSse(res, '', 'done');
      res.end();
    });
    const stream = await streamAsk({ question: 'Long answer please', stream: true });
    const start = (await stream.next())?.data as { chat_id: string; qa_pair_id: string };
    expect(await stream.next()).toEqual({ event: 'token', data: { text: 'Part one. ' } });
    stream.disconnect();
    release.resolve();

    const pair = await settled(start.chat_id, start.qa_pair_id);
    expect(pair).toMatchObject({ status: 'answered', answer: 'Part one. Part two.', error: null });
  });

  it('keeps the partial answer on a failed pair when the upstream reports an error mid-stream', async () => {
    upstream.setHandler((_request, res) => {
      startSse(res);
      writeSse(res, 'The beginning', 'token');
      writeSse(res, { message: 'model overloaded' }, 'error');
      res.end();
    });
    const stream = await streamAsk({ question: 'Will fail midway', stream: true });
    const events = [await stream.next(), ...(await stream.rest())];
    const start = events[0]?.data as { chat_id: string; qa_pair_id: string };
    const error = events.at(-1);
    expect(error?.event).toBe('error');
    expect(error?.data).toMatchObject({ statusCode: 502, code: 'UPSTREAM_ERROR', qa_pair_id: start.qa_pair_id });
    expect(await pairOf(start.chat_id, start.qa_pair_id)).toMatchObject({
      status: 'failed',
      answer: 'The beginning',
      error: { code: 'UPSTREAM_ERROR' },
    });
  });

  it('treats a stream that ends without done as a truncated answer', async () => {
    upstream.setHandler((_request, res) => {
      startSse(res);
      writeSse(res, 'Cut', 'token');
      res.end();
    });
    const stream = await streamAsk({ question: 'Truncated?', stream: true });
    const events = [await stream.next(), ...(await stream.rest())];
    const start = events[0]?.data as { chat_id: string; qa_pair_id: string };
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { code: 'UPSTREAM_BAD_RESPONSE' } });
    expect(await pairOf(start.chat_id, start.qa_pair_id)).toMatchObject({ status: 'failed', answer: 'Cut' });
  });

  it('ends a stream that goes silent with a timeout error instead of hanging', async () => {
    upstream.setHandler((_request, res) => {
      startSse(res);
      writeSse(res, 'Then silence', 'token');
      // No more events, no end: only the timeout can finish this.
    });
    const stream = await streamAsk({ question: 'Silent upstream', stream: true });
    const events = [await stream.next(), ...(await stream.rest())];
    const start = events[0]?.data as { chat_id: string; qa_pair_id: string };
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { statusCode: 504, code: 'UPSTREAM_TIMEOUT' } });
    expect(await pairOf(start.chat_id, start.qa_pair_id)).toMatchObject({ status: 'failed', answer: 'Then silence' });
  });

  it('lets a stream that keeps sending run past UPSTREAM_TIMEOUT_MS (only silence is cut)', async () => {
    // 40 tokens 50 ms apart: 2 s in all, against a 1.5 s timeout for silence.
    upstream.setHandler(async (_request, res) => {
      startSse(res);
      for (let index = 0; index < 40; index += 1) {
        writeSse(res, `t${index} `, 'token');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      writeSse(res, '', 'done');
      res.end();
    });
    const stream = await streamAsk({ question: 'A long answer', stream: true });
    const events = [await stream.next(), ...(await stream.rest())];
    expect(events.at(-1)?.event).toBe('done');
    expect(tokens(events)).toHaveLength(40);
  });

  it('reports an upstream refusal before any token as an error event with the usual code', async () => {
    upstream.setHandler((_request, res) => sendJson(res, 429, { error: 'slow down' }, { 'retry-after': '3' }));
    const stream = await streamAsk({ question: 'Rate limited', stream: true });
    const events = [await stream.next(), ...(await stream.rest())];
    expect(events.map((event) => event?.event)).toEqual(['start', 'error']);
    expect(events[1]?.data).toMatchObject({ statusCode: 503, code: 'UPSTREAM_RATE_LIMITED' });
  });

  it('answers a bad request with a plain JSON error, before anything is stored', async () => {
    const response = await fetch(`${baseUrl}/search`, {
      method: 'POST',
      headers: { ...ada.headers, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ user_id: ada.id, question: '   ', stream: true }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
  });

  it('follows the branch rules: a stream with parent_id forks and sends only that path', async () => {
    upstream.setHandler((request, res) => {
      const messages = (request.body as { messages: { content: string }[] }).messages;
      if ((request.body as { stream?: boolean }).stream) {
        startSse(res);
        writeSse(res, `A:${messages.at(-1)?.content ?? ''}`, 'token');
        writeSse(res, '', 'done');
        res.end();
      } else {
        sendJson(res, 200, { answer: `A:${messages.at(-1)?.content ?? ''}` });
      }
    });
    const first = (await ask(app, ada, { question: 'root' })).json<{ chat_id: string; qa_pair: { id: string } }>();
    await ask(app, ada, { chat_id: first.chat_id, question: 'second' });
    const stream = await streamAsk({
      chat_id: first.chat_id,
      parent_id: first.qa_pair.id,
      question: 'alternative',
      stream: true,
    });
    const events = [await stream.next(), ...(await stream.rest())];
    expect(events.at(-1)?.event).toBe('done');
    expect(upstream.requests.at(-1)?.body).toEqual({
      messages: [
        { role: 'user', content: 'root' },
        { role: 'assistant', content: 'A:root' },
        { role: 'user', content: 'alternative' },
      ],
      stream: true,
    });
  });
});

describe('the offline provider streams word by word', () => {
  it('sends its answer as several tokens that add up to the stored answer', async () => {
    const offline = await buildTestApp({ databaseUrl: join(temp.dir, 'offline-stream.db') });
    try {
      await offline.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${(offline.server.address() as AddressInfo).port}/search`;
      const user = await createUser(offline);
      const stream = await openEventStream(url, {
        headers: user.headers,
        body: { user_id: user.id, question: 'Stream me', stream: true },
      });
      const events = await stream.rest();
      const parts = tokens(events);
      expect(parts.length).toBeGreaterThan(5);
      const done = events.at(-1)?.data as { qa_pair: { answer: string; provider: string } };
      expect(parts.join('')).toBe(done.qa_pair.answer);
      expect(done.qa_pair.provider).toBe('offline');
    } finally {
      await offline.close();
    }
  });
});
