import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggerOptions, type App } from '../src/app.js';
import { buildTestApp, createUser, type TestUser } from './helpers/app.js';
import { createPgDatabase, onPg } from './helpers/database.js';
import { useFakeUpstream, useTempDir } from './helpers/suite.js';

/**
 * Webhooks end to end: a receiver on 127.0.0.1 (so the app runs with
 * WEBHOOK_ALLOW_PRIVATE=true, except where the refusal is tested) and delivery rounds run by
 * the test with the times it chooses (WEBHOOK_POLL_MS=0: no background rounds), so retries
 * are tested without waiting for their backoff.
 */

const temp = useTempDir();
const upstream = useFakeUpstream();

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver answering with the statuses queued (200 once the queue is empty). */
function createReceiver() {
  const received: Received[] = [];
  const statuses: number[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(statuses.shift() ?? 200);
      response.end();
    });
  });
  return {
    received,
    statuses,
    async start() {
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
    },
    get url() {
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const receiver = createReceiver();
beforeAll(() => receiver.start());
afterAll(() => receiver.close());

const logLines: string[] = [];
const logStream = new Writable({
  write(chunk, _encoding, done) {
    logLines.push(String(chunk));
    done();
  },
});

let databaseUrl: string;
let app: App;
const env = { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '0' };
beforeAll(async () => {
  databaseUrl = onPg ? await createPgDatabase('webhooks') : join(temp.dir, 'webhooks.db');
  app = await buildTestApp({
    databaseUrl,
    upstreamUrl: upstream.url,
    env,
    logger: { ...loggerOptions('trace'), stream: logStream },
  });
});
afterAll(() => app.close());

async function createWebhook(user: TestUser, body: Record<string, unknown>, on: App = app) {
  return on.inject({ method: 'POST', url: `/v1/users/${user.id}/webhooks`, headers: user.headers, payload: body });
}

async function createChat(user: TestUser, title: string, on: App = app): Promise<string> {
  const response = await on.inject({
    method: 'POST',
    url: `/v1/users/${user.id}/chats`,
    headers: user.headers,
    payload: { title },
  });
  return response.json<{ id: string }>().id;
}

/** Standard Webhooks verification, as a receiver would write it. */
function verify(secret: string, received: Received): boolean {
  const id = String(received.headers['webhook-id']);
  const timestamp = String(received.headers['webhook-timestamp']);
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${received.body}`).digest('base64');
  return String(received.headers['webhook-signature'])
    .split(' ')
    .some((signature) => signature === `v1,${expected}`);
}

const later = (seconds: number) => new Date(Date.now() + seconds * 1000);

describe('webhooks', () => {
  it('delivers the subscribed events signed, and shows the secret only once', async () => {
    const ada = await createUser(app, 'Ada');
    const created = await createWebhook(ada, { url: receiver.url, events: ['chat.created', 'chat.deleted'] });
    expect(created.statusCode).toBe(201);
    const webhook = created.json<{ id: string; secret: string; url: string; events: string[] }>();
    expect(webhook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(webhook.events).toEqual(['chat.created', 'chat.deleted']);

    const chatId = await createChat(ada, 'Hooked');
    await app.inject({
      method: 'PATCH',
      url: `/v1/users/${ada.id}/chats/${chatId}`,
      headers: ada.headers,
      payload: { title: 'x' },
    });
    await app.inject({ method: 'DELETE', url: `/v1/users/${ada.id}/chats/${chatId}`, headers: ada.headers });

    const before = receiver.received.length;
    expect(await app.services.webhooks.deliverDue(later(1))).toBe(2);
    const got = receiver.received.slice(before);
    // Only the subscribed types (not chat.updated), in event order, each verifiably signed.
    expect(got.map((item) => (JSON.parse(item.body) as { type: string }).type).sort()).toEqual([
      'chat.created',
      'chat.deleted',
    ]);
    for (const item of got) {
      expect(verify(webhook.secret, item)).toBe(true);
      expect(verify('whsec_' + Buffer.from('another secret').toString('base64'), item)).toBe(false);
      expect(item.headers['content-type']).toBe('application/json');
      expect(item.headers['webhook-id']).toMatch(new RegExp(`^msg_${webhook.id}_\\d+$`));
    }
    const created_ = got.find((item) => item.body.includes('"chat.created"'));
    expect(JSON.parse(created_?.body ?? '')).toMatchObject({
      id: 1,
      type: 'chat.created',
      chat_id: chatId,
      data: { chat: { title: 'Hooked' } },
    });

    // Listed without the secret; the log says delivered.
    const list = await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/webhooks`, headers: ada.headers });
    expect(list.json()).toEqual({
      data: [{ id: webhook.id, url: webhook.url, events: webhook.events, created_at: expect.any(String) }],
    });
    expect(list.body).not.toContain(webhook.secret);
    const log = await app.inject({
      method: 'GET',
      url: `/v1/users/${ada.id}/webhooks/${webhook.id}/deliveries`,
      headers: ada.headers,
    });
    expect(
      log.json<{ data: { event_type: string; status: string; attempts: number; last_status_code: number }[] }>().data,
    ).toEqual([
      expect.objectContaining({ event_type: 'chat.deleted', status: 'delivered', attempts: 1, last_status_code: 200 }),
      expect.objectContaining({ event_type: 'chat.created', status: 'delivered', attempts: 1, last_status_code: 200 }),
    ]);
    // Nothing of the secret in any log line.
    expect(logLines.join('')).not.toContain(webhook.secret.slice(6));
    // Nothing is due any more.
    expect(await app.services.webhooks.deliverDue(later(3600))).toBe(0);
  });

  it('tries a failed delivery again after its backoff, with the same id, and fails it after the last try', async () => {
    const ada = await createUser(app, 'Ada');
    const webhook = (await createWebhook(ada, { url: receiver.url, events: ['*'] })).json<{ id: string }>();
    receiver.statuses.push(500, 503);
    await createChat(ada, 'Retried');
    const start = receiver.received.length;
    const t0 = later(1);
    expect(await app.services.webhooks.deliverDue(t0)).toBe(1);
    // Not again before the first backoff (5 s) is over.
    expect(await app.services.webhooks.deliverDue(new Date(t0.getTime() + 4_000))).toBe(0);
    expect(await app.services.webhooks.deliverDue(new Date(t0.getTime() + 5_000))).toBe(1);
    expect(await app.services.webhooks.deliverDue(new Date(t0.getTime() + 5_000 + 30_000))).toBe(1);
    const tries = receiver.received.slice(start);
    expect(tries).toHaveLength(3);
    expect(new Set(tries.map((item) => item.headers['webhook-id'])).size).toBe(1);
    const log = await app.inject({
      method: 'GET',
      url: `/v1/users/${ada.id}/webhooks/${webhook.id}/deliveries`,
      headers: ada.headers,
    });
    expect(log.json<{ data: unknown[] }>().data).toEqual([
      expect.objectContaining({ status: 'delivered', attempts: 3, last_status_code: 200, last_error: null }),
    ]);

    // A receiver that always fails: nine tries over the schedule, then failed for good.
    const failing = (await createWebhook(ada, { url: `${receiver.url}?always=fail`, events: ['chat.created'] })).json<{
      id: string;
    }>();
    await app.inject({ method: 'DELETE', url: `/v1/users/${ada.id}/webhooks/${webhook.id}`, headers: ada.headers });
    await createChat(ada, 'Doomed');
    let at = later(1);
    for (let tryNumber = 0; tryNumber < 9; tryNumber += 1) {
      receiver.statuses.push(500);
      expect(await app.services.webhooks.deliverDue(at)).toBe(1);
      at = new Date(at.getTime() + 5 * 3_600_000);
    }
    expect(await app.services.webhooks.deliverDue(at)).toBe(0);
    const doomed = await app.inject({
      method: 'GET',
      url: `/v1/users/${ada.id}/webhooks/${failing.id}/deliveries`,
      headers: ada.headers,
    });
    expect(doomed.json<{ data: unknown[] }>().data).toEqual([
      expect.objectContaining({ status: 'failed', attempts: 9, last_status_code: 500, next_attempt_at: null }),
    ]);
  });

  it('delivers what was written before a restart of the server', async () => {
    const ada = await createUser(app, 'Ada');
    const webhook = (await createWebhook(ada, { url: receiver.url, events: ['chat.created'] })).json<{
      secret: string;
    }>();
    const chatId = await createChat(ada, 'Before the restart');
    // The server stops before any delivery round ran.
    await app.close();
    app = await buildTestApp({
      databaseUrl,
      upstreamUrl: upstream.url,
      env,
      logger: { ...loggerOptions('trace'), stream: logStream },
    });
    const before = receiver.received.length;
    expect(await app.services.webhooks.deliverDue(later(1))).toBe(1);
    const delivered = receiver.received.slice(before);
    expect(JSON.parse(delivered[0]?.body ?? '')).toMatchObject({ type: 'chat.created', chat_id: chatId });
    expect(delivered[0] && verify(webhook.secret, delivered[0])).toBe(true);
  });

  it('refuses bad URLs and unknown types with a 400, and another user’s webhook with a 404', async () => {
    const ada = await createUser(app, 'Ada');
    const bo = await createUser(app, 'Bo');
    for (const [body, code] of [
      [{ url: 'ftp://example.com/x', events: ['*'] }, 'INVALID_WEBHOOK_URL'],
      [{ url: 'not a url', events: ['*'] }, 'INVALID_WEBHOOK_URL'],
      [{ url: 'https://user:pw@example.com/x', events: ['*'] }, 'INVALID_WEBHOOK_URL'],
      [{ url: receiver.url, events: ['pair.token'] }, 'VALIDATION_ERROR'],
      [{ url: receiver.url, events: [] }, 'VALIDATION_ERROR'],
    ] as const) {
      const response = await createWebhook(ada, body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json()).toMatchObject({ code });
    }
    expect(
      (await app.inject({ method: 'GET', url: `/v1/users/${ada.id}/webhooks`, headers: ada.headers })).json(),
    ).toEqual({ data: [] });
    const mine = (await createWebhook(ada, { url: receiver.url, events: ['*'] })).json<{ id: string }>();
    for (const [method, suffix] of [
      ['DELETE', ''],
      ['GET', '/deliveries'],
    ] as const) {
      const response = await app.inject({
        method,
        url: `/v1/users/${bo.id}/webhooks/${mine.id}${suffix}`,
        headers: bo.headers,
      });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'WEBHOOK_NOT_FOUND' });
    }
  });
});

describe('webhooks without WEBHOOK_ALLOW_PRIVATE', () => {
  let strict: App;
  beforeAll(async () => {
    strict = await buildTestApp({ databaseUrl, upstreamUrl: upstream.url, env: { WEBHOOK_POLL_MS: '0' } });
  });
  afterAll(() => strict.close());

  it('refuses loopback, private, link-local and mapped addresses, and names that resolve to them', async () => {
    const ada = await createUser(strict, 'Ada');
    for (const url of [
      receiver.url,
      'http://localhost:9/x',
      'http://10.0.0.8/x',
      'http://192.168.1.1/x',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]:8080/x',
      'http://[::ffff:127.0.0.1]/x',
      'http://[fd00::1]/x',
      'http://0.0.0.0/x',
    ]) {
      const response = await createWebhook(ada, { url, events: ['*'] }, strict);
      expect(response.statusCode, url).toBe(400);
      expect(response.json()).toMatchObject({ code: 'WEBHOOK_URL_NOT_PUBLIC' });
    }
  });

  it('refuses at delivery time an address that is not public, whatever it was at creation', async () => {
    // Created while private addresses were allowed (or before a name moved to one): an
    // address in the URL, and a name resolved at delivery (the connection's own lookup).
    const ada = await createUser(app, 'Ada');
    const byAddress = (await createWebhook(ada, { url: receiver.url, events: ['chat.created'] })).json<{
      id: string;
    }>();
    const byName = (
      await createWebhook(ada, { url: receiver.url.replace('127.0.0.1', 'localhost'), events: ['chat.created'] })
    ).json<{ id: string }>();
    await createChat(ada, 'Rebound');
    const before = receiver.received.length;
    expect(await strict.services.webhooks.deliverDue(later(1))).toBe(2);
    expect(receiver.received.length).toBe(before);
    for (const webhook of [byAddress, byName]) {
      const log = await app.inject({
        method: 'GET',
        url: `/v1/users/${ada.id}/webhooks/${webhook.id}/deliveries`,
        headers: ada.headers,
      });
      expect(log.json<{ data: unknown[] }>().data).toEqual([
        expect.objectContaining({
          status: 'pending',
          attempts: 1,
          last_status_code: null,
          last_error: expect.stringContaining('non-public'),
        }),
      ]);
    }
  });
});
