import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loggerOptions, type App } from '../src/app.js';
import { redactUrl } from '../src/plugins/request-log.js';
import { bearer, buildTestApp, createUser, TEST_ADMIN_KEY, type TestUser } from './helpers/app.js';
import { onPg, resolveDatabaseUrl } from './helpers/database.js';
import { startServerProcess } from './helpers/server.js';
import { useServerProcessCleanup, useTempDir, useTestApp } from './helpers/suite.js';

/**
 * What the service logs: one line per request (method, URL without secrets, status, our
 * error code, duration), probes below info, no credential anywhere, and one start-up line
 * saying where the API, its explorer and its data are.
 */

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  request?: { method: string; url: string; statusCode?: number; code?: string; durationMs?: number; aborted?: true };
}

const INFO = 30;
const DEBUG = 20;
/** Secrets a client might put in a query string by mistake: none may be logged. */
const QUERY_SECRET = 'query-secret-0123456789';

const temp = useTempDir();
useServerProcessCleanup();
const captured: string[] = [];
/** Every line the app writes, at debug and above. */
const capture = new Writable({
  write(chunk, _encoding, done) {
    captured.push(String(chunk));
    done();
  },
});
const lines = () => captured.map((line) => JSON.parse(line) as LogLine);
const linesOf = (requestId: unknown) => lines().filter((line) => line.reqId === requestId);

let app: App;
let ada: TestUser;
const suite = useTestApp(
  {
    databaseUrl: join(temp.dir, 'logging.db'),
    env: { METRICS_TOKEN: 'metrics-token-0123456789' },
    logger: loggerOptions('debug', { destination: capture }),
    listen: true,
  },
  async (handle) => {
    app = handle.app;
    ada = await createUser(app, 'Ada');
  },
);

describe('request lines', () => {
  it('writes exactly one line per request: method, URL with secret query values redacted, status, duration', async () => {
    const url = `/v1/users/me?api_key=${QUERY_SECRET}&limit=5&Token=${QUERY_SECRET}&access%5Ftoken=${QUERY_SECRET}&password=${QUERY_SECRET}`;
    const response = await app.inject({ method: 'GET', url, headers: ada.headers });
    expect(response.statusCode).toBe(200);

    const own = linesOf(response.headers['x-request-id']);
    expect(own).toHaveLength(1);
    const [line] = own;
    expect(line?.level).toBe(INFO);
    expect(line?.request).toEqual({
      method: 'GET',
      url: '/v1/users/me?api_key=[redacted]&limit=5&Token=[redacted]&access%5Ftoken=[redacted]&password=[redacted]',
      statusCode: 200,
      durationMs: expect.any(Number),
    });
    expect(line?.request?.durationMs).toBeGreaterThanOrEqual(0);
    // The message says it all, for a person reading the lines.
    expect(line?.msg).toMatch(/^GET \/v1\/users\/me\?api_key=\[redacted\]&limit=5.* 200 \d+(\.\d)? ms$/);
  });

  it.each([
    [
      'an unknown user',
      () => ({ url: `/v1/users/${randomUUID()}/chats`, headers: bearer(TEST_ADMIN_KEY) }),
      404,
      'USER_NOT_FOUND',
    ],
    [
      'a wrong key',
      () => ({ url: '/v1/users/me', headers: bearer('not-a-key-of-anyone-0123456789') }),
      401,
      'UNAUTHORIZED',
    ],
    ['an unknown route', () => ({ url: '/no/such/route', headers: {} }), 404, 'NOT_FOUND'],
    ['a URL the router refuses', () => ({ url: '/v1/users/%zz', headers: {} }), 400, 'INVALID_URL'],
  ])('names our error code on the line of an error (%s)', async (_case, request, status, code) => {
    const { url, headers } = request();
    const response = await app.inject({ method: 'GET', url, headers });
    expect(response.json()).toMatchObject({ statusCode: status, code });

    const own = linesOf(response.headers['x-request-id']);
    expect(own.filter((line) => line.request)).toHaveLength(1);
    const line = own.find((entry) => entry.request);
    expect(line?.level).toBe(INFO);
    expect(line?.request).toMatchObject({ method: 'GET', statusCode: status, code, durationMs: expect.any(Number) });
    expect(line?.msg).toContain(` ${status} ${code} `);
  });

  it('logs health, readiness and metrics probes below info', async () => {
    const probes = await Promise.all(
      ['/health', '/ready', '/metrics'].map((url) =>
        app.inject({ method: 'GET', url, headers: { authorization: 'Bearer metrics-token-0123456789' } }),
      ),
    );
    for (const probe of probes) {
      expect(probe.statusCode).toBe(200);
      const own = linesOf(probe.headers['x-request-id']);
      expect(own.filter((line) => line.level >= INFO)).toEqual([]);
    }
    // Health and readiness are still there at debug (metrics logs only warnings at all).
    expect(linesOf(probes[0]?.headers['x-request-id'])).toMatchObject([{ level: DEBUG, request: { url: '/health' } }]);
    expect(linesOf(probes[1]?.headers['x-request-id'])).toMatchObject([{ level: DEBUG, request: { url: '/ready' } }]);
  });

  it('writes one line for a request the client abandoned before it was answered', async () => {
    const { port } = new URL(suite.baseUrl);
    // Gone once the server has the request's headers, with its body still to come.
    const received = once(app.server, 'request');
    const socket = connect(Number(port), '127.0.0.1');
    const path = `/v1/users?token=${QUERY_SECRET}`;
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na`,
    );
    await received;
    socket.resetAndDestroy(); // a reset, as when the client is killed: no answer can reach it
    const abandoned = () => lines().filter((line) => line.request?.aborted);
    for (let attempt = 0; attempt < 200 && abandoned().length === 0; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(abandoned()).toMatchObject([
      { level: INFO, msg: 'POST /v1/users?token=[redacted] aborted', request: { method: 'POST', aborted: true } },
    ]);
  });

  it('writes no API key, bearer token or secret query value to any line', async () => {
    await app.inject({ method: 'GET', url: '/v1/users/me', headers: ada.headers });
    await app.inject({ method: 'GET', url: `/v1/users/${ada.id}`, headers: bearer(TEST_ADMIN_KEY) });
    await app.inject({ method: 'GET', url: '/v1/users/me', headers: { 'x-api-key': ada.apiKey } });
    await app.inject({ method: 'GET', url: `/v1/users/me?key=${ada.apiKey}`, headers: ada.headers });
    const log = captured.join('');
    expect(lines().filter((line) => line.request).length).toBeGreaterThanOrEqual(4); // the log really was captured
    expect(log).not.toContain(ada.apiKey);
    expect(log).not.toContain(TEST_ADMIN_KEY);
    expect(log).not.toContain(QUERY_SECRET);
    expect(log).not.toMatch(/bearer\s/i);
  });
});

describe('redactUrl', () => {
  it('replaces the values of parameters named like secrets, and keeps everything else byte for byte', () => {
    expect(redactUrl('/a/b')).toBe('/a/b');
    expect(redactUrl('/a?q=hello%20world&limit=5')).toBe('/a?q=hello%20world&limit=5');
    expect(redactUrl('/a?apiKey=1&secret=2&client_secret=3&auth=4&q=x&id_token=5&q=y')).toBe(
      '/a?apiKey=[redacted]&secret=[redacted]&client_secret=[redacted]&auth=[redacted]&q=x&id_token=[redacted]&q=y',
    );
    // Names are matched decoded (api%5Fkey is api_key); a bare name has no value to hide.
    expect(redactUrl('/a?api%5Fkey=1&token&x=%zz')).toBe('/a?api%5Fkey=[redacted]&token&x=%zz');
  });
});

describe('on a terminal', () => {
  it('writes readable lines, not JSON, with the request line and its id and still no key', async () => {
    const text: string[] = [];
    const terminal = new Writable({
      write(chunk, _encoding, done) {
        text.push(String(chunk));
        done();
      },
    });
    const pretty = await buildTestApp({
      databaseUrl: join(temp.dir, 'pretty.db'),
      logger: loggerOptions('info', { pretty: true, destination: terminal }),
    });
    try {
      const user = await createUser(pretty, 'Pretty');
      const response = await pretty.inject({ method: 'GET', url: '/v1/users/me', headers: user.headers });
      const requestId = String(response.headers['x-request-id']);
      // pino-pretty formats in a stream of its own: wait (bounded) for the line to come through.
      for (let attempt = 0; attempt < 200 && !text.join('').includes(requestId); attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const line =
        text
          .join('')
          .split('\n')
          .find((entry) => entry.includes(requestId)) ?? '';
      expect(line).toMatch(/INFO.*: GET \/v1\/users\/me 200 \d+(\.\d)? ms \[[0-9a-f-]{36}\]$/);
      expect(text.join('')).not.toContain('{"level"');
      expect(text.join('')).not.toContain(user.apiKey);
    } finally {
      await pretty.close();
    }
  });
});

describe('start-up', () => {
  it('writes one line with the URL, the explorer, the database and the chatbot, instead of Fastify’s own', async () => {
    const location = join(temp.dir, 'startup.db');
    const databaseUrl = await resolveDatabaseUrl(location);
    const server = await startServerProcess({
      DATABASE_URL: databaseUrl,
      CHATBOT_PROVIDER: 'offline',
      LOG_LEVEL: 'info',
    });
    const response = await fetch(`${server.base}/v1/users/me?api_key=${QUERY_SECRET}`, {
      headers: { authorization: `Bearer ${QUERY_SECRET}` },
    });
    expect(response.status).toBe(401);
    const requestId = response.headers.get('x-request-id');
    // Output arrives through a pipe: wait (bounded) for the request's line.
    for (let attempt = 0; attempt < 200 && !server.output().includes(`"reqId":"${requestId}"`); attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    server.child.kill('SIGTERM');

    const output = server.output();
    const logged = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
    const startup = logged.filter((line) => /listening/i.test(line.msg));
    expect(startup).toHaveLength(1);
    const message = startup[0]?.msg ?? '';
    expect(startup[0]?.level).toBe(INFO);
    expect(message).toContain(`listening on ${server.base}`);
    expect(message).toContain(`${server.base}/docs`);
    expect(message).toContain('chatbot offline');
    if (onPg) {
      const url = new URL(databaseUrl);
      expect(message).toContain(`PostgreSQL postgres://${url.username}`);
      expect(message).toContain(`${url.host}${url.pathname}`);
      if (url.password) expect(message).not.toContain(url.password);
    } else {
      expect(message).toContain(`database SQLite ${location}`);
    }
    // The one request line of the real server, through the same logger.
    expect(logged.filter((line) => line.reqId === requestId)).toMatchObject([
      { request: { method: 'GET', url: '/v1/users/me?api_key=[redacted]', statusCode: 401, code: 'UNAUTHORIZED' } },
    ]);
    expect(output).not.toContain(QUERY_SECRET);
  });
});
