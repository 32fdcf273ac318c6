import { once } from 'node:events';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { toErrorReply } from '../src/plugins/errors.js';
import { createUser, type TestUser } from './helpers/app.js';
import { useTempDir, useTestApp } from './helpers/suite.js';

/**
 * Every response is in the one error shape with our own codes, including what Fastify's
 * router and Node's HTTP parser refuse. Those never reach inject() (it bypasses the parser),
 * so they are sent as raw bytes to a listening app.
 */

const temp = useTempDir();
let app: App;
let port: number;
let ada: TestUser;
useTestApp({ databaseUrl: join(temp.dir, 'error-shape.db'), listen: true }, async (suite) => {
  app = suite.app;
  port = Number(new URL(suite.baseUrl).port);
  ada = await createUser(app, 'Ada');
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `request` on a fresh connection and reads until the server closes it. */
async function raw(request: string): Promise<RawResponse> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.write(request);
  await once(socket, 'close');
  const end = received.indexOf('\r\n\r\n');
  const [statusLine = '', ...headerLines] = received.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(
    headerLines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    }),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, body: received.slice(end + 4) };
}

function expectErrorShape(response: RawResponse, status: number, code: string): Record<string, unknown> {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(response.body));
  const body = JSON.parse(response.body) as Record<string, unknown>;
  expect(body).toEqual({ statusCode: status, code, error: expect.any(String), message: expect.any(String) });
  return body;
}

describe('what the HTTP parser refuses', () => {
  it('answers Content-Length with Transfer-Encoding as 400 MALFORMED_REQUEST, and closes', async () => {
    const response = await raw(
      'POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    const body = expectErrorShape(response, 400, 'MALFORMED_REQUEST');
    expect(body.message).toMatch(/Transfer-Encoding/);
    expect(response.headers.connection).toBe('close');
  });

  it('answers oversized headers as 431 HEADERS_TOO_LARGE', async () => {
    const response = await raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expectErrorShape(response, 431, 'HEADERS_TOO_LARGE');
    expect(response.headers.connection).toBe('close');
  });

  it('answers a request that is not HTTP as 400 MALFORMED_REQUEST', async () => {
    expectErrorShape(await raw('NOT HTTP AT ALL\r\n\r\n'), 400, 'MALFORMED_REQUEST');
  });
});

describe('what the router refuses', () => {
  it('answers a malformed percent-encoding as 400 INVALID_URL', async () => {
    const response = await raw(`GET /v1/users/%zz/chats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expectErrorShape(response, 400, 'INVALID_URL');
    expect(response.headers['x-request-id']).toBeDefined();
  });

  it('answers a path parameter over 100 characters as 414 URI_TOO_LONG', async () => {
    const response = await raw(
      `GET /v1/users/${'a'.repeat(150)}/chats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    expectErrorShape(response, 414, 'URI_TOO_LONG');
  });
});

describe('every 4xx Fastify can raise', () => {
  it('maps to one of our codes, never an FST_ERR_* one', () => {
    const errors = createRequire(import.meta.url)('fastify/lib/errors.js') as Record<string, unknown>;
    const seen: string[] = [];
    for (const [name, value] of Object.entries(errors)) {
      if (!name.startsWith('FST_ERR_') || typeof value !== 'function') continue;
      const error: unknown = new (value as new (...args: string[]) => unknown)('a', 'b', 'c');
      const status = (error as { statusCode?: number }).statusCode;
      if (status === undefined || status >= 500) continue;
      seen.push(name);
      const { body } = toErrorReply(error);
      expect(body.code, name).not.toMatch(/^FST_/);
      expect(body.statusCode, name).toBe(status);
    }
    expect(seen).toEqual(expect.arrayContaining(['FST_ERR_BAD_URL', 'FST_ERR_MAX_PARAM_LENGTH']));
  });
});

describe('messages that say what to do', () => {
  it('names an unknown body field', async () => {
    const response = await app.inject({
      method: 'POST',
      url: `/v1/users/${ada.id}/chats`,
      headers: ada.headers,
      payload: { title: 'Trip', colour: 'blue' },
    });
    expect(response.statusCode).toBe(400);
    const body = response.json<{ code: string; message: string; details: { path: string; message: string }[] }>();
    expect(body.code).toBe('VALIDATION_ERROR');
    expect(body.message).toContain('"colour"');
    expect(body.details[0]?.message).toContain('"colour"');
  });

  it('says to send application/json when the content type is missing', async () => {
    const response = await raw(
      `POST /v1/users HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 14\r\n\r\n{"name":"Bob"}`,
    );
    const body = expectErrorShape(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(body.message).toContain('Content-Type: application/json');
  });

  it('says that X-API-Key is not accepted, and what to send instead', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/users/me', headers: { 'x-api-key': ada.apiKey } });
    expect(response.statusCode).toBe(401);
    const body = response.json<{ code: string; message: string }>();
    expect(body.code).toBe('UNAUTHORIZED');
    expect(body.message).toContain('X-API-Key');
    expect(body.message).toContain('Authorization: Bearer <api_key>');
  });
});
