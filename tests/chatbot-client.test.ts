import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChatbotError } from '../src/chatbot/errors.js';
import { parseRetryAfter } from '../src/chatbot/errors.js';
import { createYouProvider } from '../src/chatbot/you.js';
import { buildTestApp, createUser } from './helpers/app.js';
import { sendJson, startFakeUpstream } from './helpers/fake-upstream.js';
import { useFakeUpstream, useTempDir } from './helpers/suite.js';

const temp = useTempDir();
const upstream = useFakeUpstream();

async function failure(promise: Promise<unknown>): Promise<ChatbotError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ChatbotError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

describe('the You.com client', () => {
  it('reuses one kept-alive connection across calls', async () => {
    upstream.reset();
    const client = createYouProvider({ url: upstream.url, apiKey: 'k', timeoutMs: 2000 });
    for (let index = 0; index < 3; index += 1) {
      await client.ask({ history: [], settings: {}, question: `q${index}` });
      // undici returns the socket to its pool once the response has fully ended, a tick
      // after the body resolves; let that happen so the next call can pick it up.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const ports = new Set(upstream.requests.map((recorded) => recorded.remotePort));
    expect(upstream.requests).toHaveLength(3);
    expect(ports.size).toBe(1);
    await client.close();
  });

  it('reports a refused connection as unreachable', async () => {
    const closed = await startFakeUpstream();
    const url = closed.url;
    await closed.close();
    const client = createYouProvider({ url, apiKey: 'k', timeoutMs: 2000 });
    const error = await failure(client.ask({ history: [], settings: {}, question: 'anyone?' }));
    expect(error.kind).toBe('unreachable');
    await client.close();
  });

  it('rejects a body over the size cap without buffering all of it', async () => {
    upstream.reset();
    upstream.enqueue((_request, res) => sendJson(res, 200, { answer: 'x'.repeat(10_000) }));
    const client = createYouProvider({ url: upstream.url, apiKey: 'k', timeoutMs: 2000, maxResponseBytes: 1000 });
    const error = await failure(client.ask({ history: [], settings: {}, question: 'big' }));
    expect(error.kind).toBe('bad_response');
    expect(error.message).toContain('larger than 1000 bytes');
    await client.close();
  });

  it('reports an error status by its status, whatever its body', async () => {
    upstream.reset();
    upstream.enqueue((_request, res) => sendJson(res, 500, { detail: 'x'.repeat(10_000) }));
    const client = createYouProvider({ url: upstream.url, apiKey: 'k', timeoutMs: 2000, maxResponseBytes: 1000 });
    const error = await failure(client.ask({ history: [], settings: {}, question: 'error body' }));
    expect(error.kind).toBe('upstream_error');
    expect(error.details.upstreamStatus).toBe(500);
    await client.close();
  });

  it('stops waiting when its caller aborts', async () => {
    upstream.reset();
    upstream.enqueue(() => {
      // Never answer.
    });
    const client = createYouProvider({ url: upstream.url, apiKey: 'k', timeoutMs: 10_000 });
    const controller = new AbortController();
    const pending = client.ask({ history: [], settings: {}, question: 'slow', signal: controller.signal });
    while (upstream.requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    const error = await failure(pending);
    expect(error.kind).toBe('cancelled');
    await client.close();
  });

  it('parses Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('120')).toBe(120);
    expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(30);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('99999999999999999999999')).toBe(3600);
    expect(parseRetryAfter(new Date(Date.UTC(2000, 0, 1)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(0);
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('retries', () => {
  const retrying = (onRetry?: (reason: string) => void) =>
    createYouProvider({
      url: upstream.url,
      apiKey: 'k',
      timeoutMs: 5000,
      maxAttempts: 3,
      retryBaseMs: 1,
      ...(onRetry ? { onRetry } : {}),
    });

  it.each([429, 503])('retries an upstream %i and returns the answer that follows', async (status) => {
    upstream.reset();
    upstream.enqueue(
      (_request, res) => sendJson(res, status, {}),
      (_request, res) => sendJson(res, status, {}, { 'retry-after': '0' }),
    );
    const reasons: string[] = [];
    const client = retrying((reason) => reasons.push(reason));
    const answer = await client.ask({ history: [], settings: {}, question: 'third time lucky' });
    expect(answer.answer).toBe('answer #1');
    expect(upstream.requests).toHaveLength(3);
    expect(reasons).toEqual(['status', 'status']);
    await client.close();
  });

  it('gives up after the attempt cap with the last status', async () => {
    upstream.reset();
    upstream.setHandler((_request, res) => sendJson(res, 503, {}));
    const client = retrying();
    const error = await failure(client.ask({ history: [], settings: {}, question: 'always down' }));
    expect(error.kind).toBe('unavailable');
    expect(upstream.requests).toHaveLength(3);
    await client.close();
  });

  it('does not wait for a Retry-After beyond the time budget', async () => {
    upstream.reset();
    upstream.setHandler((_request, res) => sendJson(res, 429, {}, { 'retry-after': '120' }));
    const client = retrying();
    const error = await failure(client.ask({ history: [], settings: {}, question: 'come back in two minutes' }));
    expect(error.kind).toBe('rate_limited');
    expect(error.details.retryAfterSeconds).toBe(120);
    expect(upstream.requests).toHaveLength(1);
    await client.close();
  });

  it('retries a connection reset before any byte of the answer', async () => {
    upstream.reset();
    upstream.enqueue((_request, res) => {
      res.socket?.destroy();
    });
    const client = retrying();
    const answer = await client.ask({ history: [], settings: {}, question: 'reset then fine' });
    expect(answer.answer).toBe('answer #1');
    expect(upstream.requests).toHaveLength(2);
    await client.close();
  });

  it('never retries once the upstream has started answering', async () => {
    upstream.reset();
    upstream.enqueue((_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // Destroyed only once the first bytes are on their way: the client has seen an answer start.
      res.write('{"answer": "half', () => res.socket?.destroy());
    });
    const client = retrying();
    const error = await failure(client.ask({ history: [], settings: {}, question: 'broken mid-answer' }));
    expect(error.kind).toBe('unreachable');
    expect(upstream.requests).toHaveLength(1);
    await client.close();
  });

  it('does not retry errors that another try would repeat', async () => {
    upstream.reset();
    upstream.setHandler((_request, res) => sendJson(res, 401, {}));
    const client = retrying();
    expect((await failure(client.ask({ history: [], settings: {}, question: 'bad key' }))).kind).toBe('auth');
    expect(upstream.requests).toHaveLength(1);
    await client.close();
  });
});

describe('a client that disconnects during an ask', () => {
  it('cancels the upstream call and keeps the question as a failed pair', async () => {
    upstream.reset();
    const app = await buildTestApp({ databaseUrl: join(temp.dir, 'disconnect.db'), upstreamUrl: upstream.url });
    try {
      const ada = await createUser(app);
      upstream.enqueue(() => {
        // Hold the answer until the client gives up.
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as AddressInfo;
      const body = JSON.stringify({ user_id: ada.id, question: 'are you there?' });
      const clientRequest = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/search',
        headers: { ...ada.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      clientRequest.on('error', () => {});
      clientRequest.end(body);
      while (upstream.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      clientRequest.destroy();

      let pair: { status: string; error: { code: string } | null } | undefined;
      for (let attempt = 0; attempt < 400 && pair?.status !== 'failed'; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        const list = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/chats`, headers: ada.headers });
        const chatId = list.json<{ data: { id: string }[] }>().data[0]?.id;
        if (!chatId) continue;
        const chat = await app.inject({
          method: 'GET',
          url: `/v1/users/${ada.id}/chats/${chatId}`,
          headers: ada.headers,
        });
        pair = chat.json<{ qa_pairs: (typeof pair)[] }>().qa_pairs[0];
      }
      expect(pair).toMatchObject({ status: 'failed', error: { code: 'CLIENT_CLOSED_REQUEST' } });
    } finally {
      await app.close();
    }
  });
});
