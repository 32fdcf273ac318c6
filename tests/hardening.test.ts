import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { ask, bearer, buildTestApp, createUser } from './helpers/app.js';
import { sendJson } from './helpers/fake-upstream.js';
import { useFakeUpstream, useTempDir } from './helpers/suite.js';

const temp = useTempDir();
const upstream = useFakeUpstream();
const opened: App[] = [];

async function appWith(env: Record<string, string>, name: string) {
  const app = await buildTestApp({ databaseUrl: join(temp.dir, `${name}.db`), upstreamUrl: upstream.url, env });
  opened.push(app);
  return app;
}

afterAll(async () => {
  for (const app of opened) await app.close();
});

describe('security headers and CORS', () => {
  it('sends helmet headers and a request id on every response, and no CORS by default', async () => {
    const app = await appWith({}, 'headers');
    const response = await app.inject({ method: 'GET', url: '/health', headers: { origin: 'https://evil.example' } });
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(response.headers['strict-transport-security']).toBeDefined();
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    const errorResponse = await app.inject({ method: 'GET', url: '/nowhere' });
    expect(errorResponse.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('allows only the configured origins', async () => {
    const app = await appWith({ CORS_ORIGINS: 'https://app.example, https://admin.example' }, 'cors');
    const allowed = await app.inject({
      method: 'OPTIONS',
      url: '/search',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(String(allowed.headers['access-control-allow-headers'])).toContain('authorization');
    const denied = await app.inject({ method: 'GET', url: '/health', headers: { origin: 'https://evil.example' } });
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('rate limiting', () => {
  it('answers 429 RATE_LIMITED with Retry-After past the limit, per key', async () => {
    const app = await appWith({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' }, 'ratelimit');
    const ada = await createUser(app, 'Ada'); // the sign-up counts for the anonymous caller, not for Ada's key
    const bob = await createUser(app, 'Bob');
    const statuses: number[] = [];
    for (let index = 0; index < 4; index += 1) {
      statuses.push((await app.inject({ method: 'GET', url: '/v1/users/me', headers: ada.headers })).statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await app.inject({ method: 'GET', url: '/v1/users/me', headers: ada.headers });
    expect(limited.json()).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another key has its own budget; health probes are never limited.
    expect((await app.inject({ method: 'GET', url: '/v1/users/me', headers: bob.headers })).statusCode).toBe(200);
    for (let index = 0; index < 5; index += 1) {
      expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    }
  });

  it('is off with RATE_LIMIT_MAX=0', async () => {
    const app = await appWith({ RATE_LIMIT_MAX: '0' }, 'nolimit');
    const ada = await createUser(app);
    for (let index = 0; index < 20; index += 1) {
      expect((await app.inject({ method: 'GET', url: '/v1/users/me', headers: ada.headers })).statusCode).toBe(200);
    }
  });
});

describe('metrics', () => {
  it('exports request, upstream, retry and pair metrics in Prometheus format', async () => {
    const app = await appWith({ UPSTREAM_MAX_ATTEMPTS: '2', UPSTREAM_RETRY_BASE_MS: '1' }, 'metrics');
    upstream.reset();
    upstream.enqueue((_request, res) => sendJson(res, 503, {}));
    const ada = await createUser(app);
    expect((await ask(app, ada, { question: 'counted' })).statusCode).toBe(200);
    upstream.enqueue(
      (_request, res) => sendJson(res, 500, {}),
      (_request, res) => sendJson(res, 500, {}),
    );
    expect((await ask(app, ada, { question: 'fails' })).statusCode).toBe(502);

    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/plain/);
    const text = response.body;
    expect(text).toContain('http_request_duration_seconds_count{method="POST",route="/search",status_code="200"} 1');
    expect(text).toContain('http_request_duration_seconds_count{method="POST",route="/search",status_code="502"} 1');
    expect(text).toContain('chat_qa_pairs_total{status="answered"} 1');
    expect(text).toContain('chat_qa_pairs_total{status="failed"} 1');
    // Conditional reads: built once, then from the view cache, then 304 for the same ETag.
    const chatId = (await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/chats`, headers: ada.headers })).json<{
      data: { id: string }[];
    }>().data[0]?.id;
    const chatUrl = `/v1/users/${ada.id}/chats/${chatId}`;
    const first = await app.inject({ method: 'GET', url: chatUrl, headers: ada.headers });
    await app.inject({ method: 'GET', url: chatUrl, headers: ada.headers });
    const notModified = await app.inject({
      method: 'GET',
      url: chatUrl,
      headers: { ...ada.headers, 'if-none-match': String(first.headers.etag) },
    });
    expect(notModified.statusCode).toBe(304);
    const views = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(views).toContain('chat_view_reads_total{view="chat",outcome="built"} 1');
    expect(views).toContain('chat_view_reads_total{view="chat",outcome="cached"} 1');
    expect(views).toContain('chat_view_reads_total{view="chat",outcome="not_modified"} 1');
    expect(views).toContain('chat_view_reads_total{view="list",outcome="built"} 1');
    expect(views).toMatch(/chat_view_cache_bytes [1-9]\d*/);
    expect(text).toContain('chat_upstream_call_duration_seconds_count{provider="you",outcome="ok"} 1');
    expect(text).toContain('chat_upstream_call_duration_seconds_count{provider="you",outcome="upstream_error"} 1');
    expect(text).toContain('chat_upstream_retries_total{provider="you",reason="status"} 1');
    expect(text).toContain('chat_streams_in_flight 0');
  });

  it('requires the metrics token when one is set', async () => {
    const token = 'metrics-token-0123456789';
    const app = await appWith({ METRICS_TOKEN: token }, 'metrics-token');
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    expect(
      (await app.inject({ method: 'GET', url: '/metrics', headers: bearer('wrong-token-0123456789') })).statusCode,
    ).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/metrics', headers: bearer(token) })).statusCode).toBe(200);
  });
});

describe('health and readiness', () => {
  it('is ready while open, and not while shutting down or without its database', async () => {
    const app = await appWith({}, 'ready');
    expect((await app.inject({ method: 'GET', url: '/ready' })).json()).toEqual({ status: 'ready' });
    app.lifecycle.shuttingDown = true;
    const closing = await app.inject({ method: 'GET', url: '/ready' });
    expect(closing.statusCode).toBe(503);
    expect(closing.json()).toMatchObject({ code: 'NOT_READY', message: 'The server is shutting down' });
    app.lifecycle.shuttingDown = false;

    // Without its database: closed outright (SQLite) or with its pools ended (PostgreSQL).
    await app.database.close();
    const noDatabase = await app.inject({ method: 'GET', url: '/ready' });
    expect(noDatabase.statusCode).toBe(503);
    expect(noDatabase.json()).toMatchObject({ code: 'NOT_READY', message: 'The database does not respond' });
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(503);
  });
});
