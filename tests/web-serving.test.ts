import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { useTempDir, useTestApp } from './helpers/suite.js';

/**
 * How the service serves the web client at `/`: on a small stand-in build (an index.html
 * and one hashed script with its gzip copy), so the rules are checked without Vite.
 */

const temp = useTempDir();
const webDir = join(temp.dir, 'web');
const INDEX = '<!doctype html><title>Chat history</title><script type="module" src="/assets/index-AbC123.js"></script>';
const SCRIPT = 'console.log("the client");'.repeat(20);
mkdirSync(join(webDir, 'assets'), { recursive: true });
writeFileSync(join(webDir, 'index.html'), INDEX);
writeFileSync(join(webDir, 'assets', 'index-AbC123.js'), SCRIPT);
writeFileSync(join(webDir, 'assets', 'index-AbC123.js.gz'), gzipSync(SCRIPT));

const ERROR_SHAPE = { statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: expect.any(String) };

describe('the web client, served by the service', () => {
  const handle = useTestApp({ databaseUrl: join(temp.dir, 'web.db'), webDir, env: { CHATBOT_PROVIDER: 'offline' } });

  it('serves index.html at / for revalidation on every load, under a strict CSP', async () => {
    const response = await handle.app.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).toBe(INDEX);
    expect(response.headers['cache-control']).toBe('no-cache');
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    // Nothing inline, nothing evaluated, no other host.
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
  });

  it('answers a revalidation of index.html with 304 while it is unchanged', async () => {
    const first = await handle.app.inject({ method: 'GET', url: '/' });
    const again = await handle.app.inject({
      method: 'GET',
      url: '/',
      headers: { 'if-none-match': String(first.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
  });

  it("falls back to index.html for the client's own routes, a chat's address included", async () => {
    for (const url of ['/chats', '/chats/0b6f7b8e-3f8e-4a57-9a53-2c1c1c1c1c1c', '/chats/x?draft=1']) {
      const response = await handle.app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
      expect(response.body, url).toBe(INDEX);
      expect(response.headers['cache-control'], url).toBe('no-cache');
    }
    expect((await handle.app.inject({ method: 'HEAD', url: '/chats/x' })).statusCode).toBe(200);
  });

  it('caches hashed assets for a year as immutable, and sends them compressed when accepted', async () => {
    const plain = await handle.app.inject({ method: 'GET', url: '/assets/index-AbC123.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.body).toBe(SCRIPT);
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-type']).toMatch(/javascript/);
    const gzipped = await handle.app.inject({
      method: 'GET',
      url: '/assets/index-AbC123.js',
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers.vary).toMatch(/accept-encoding/i);
    expect(Number(gzipped.headers['content-length'])).toBeLessThan(SCRIPT.length);
  });

  it('never answers an API path, the explorer or the probes with the page: unknown ones stay JSON 404s', async () => {
    for (const url of [
      '/v1/nope',
      '/v1/users/me/nope',
      '/search/nope',
      '/docs/nope',
      '/health/nope',
      '/metrics/nope',
      '/nope',
      '/assets/missing-123.js',
      '/assets/../index.html',
    ]) {
      const response = await handle.app.inject({ method: 'GET', url, headers: { accept: 'text/html' } });
      expect(response.statusCode, url).toBe(404);
      expect(response.headers['content-type'], url).toMatch(/^application\/json/);
      expect(response.json(), url).toEqual(ERROR_SHAPE);
    }
    const post = await handle.app.inject({ method: 'POST', url: '/', payload: {} });
    expect(post.statusCode).toBe(404);
  });

  it('leaves the API, the explorer and the probes where they were', async () => {
    expect((await handle.app.inject({ method: 'GET', url: '/health' })).json()).toEqual({
      status: 'ok',
      database: 'ok',
    });
    const docs = await handle.app.inject({ method: 'GET', url: '/docs' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');
    const me = await handle.app.inject({ method: 'GET', url: '/v1/users/me' });
    expect(me.statusCode).toBe(401);
    expect(me.headers['content-type']).toMatch(/^application\/json/);
  });

  it('keeps the client out of the OpenAPI document', async () => {
    const document = (await handle.app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: object }>();
    expect(
      Object.keys(document.paths).filter(
        (path) => path === '/' || path.startsWith('/chats') || path.startsWith('/assets'),
      ),
    ).toEqual([]);
  });
});

describe('the service without a built client', () => {
  const handle = useTestApp({
    databaseUrl: join(temp.dir, 'unbuilt.db'),
    webDir: join(temp.dir, 'never-built'),
    env: { CHATBOT_PROVIDER: 'offline' },
  });

  it('says at / how to build it, in the error shape', async () => {
    const response = await handle.app.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({
      code: 'WEB_CLIENT_NOT_BUILT',
      message: expect.stringContaining('build:web'),
    });
  });
});
