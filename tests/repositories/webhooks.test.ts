import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookRow } from '../../src/domain/webhooks.js';
import type { Storage } from '../../src/repositories/contract.js';
import { at, engines, openStorage, seedChat, seedUser, type OpenedStorage } from '../helpers/storage.js';

/**
 * Webhooks and their outbox (WebhookStore): a delivery per subscribed webhook is written in
 * the transaction that records the event, claimed with a lease, and closed by its tries.
 */
describe.each(engines)('webhooks on %s', (engine) => {
  let opened: OpenedStorage;
  let storage: Storage;

  beforeAll(async () => {
    opened = await openStorage(engine);
    storage = opened.storage;
  });
  afterAll(() => opened.close());

  async function webhookOf(userId: string, eventTypes: string[]): Promise<WebhookRow> {
    const webhook = {
      id: randomUUID(),
      userId,
      url: 'https://example.com/hook',
      eventTypes,
      secret: 'whsec_c2VjcmV0',
      createdAt: at(0),
    };
    await storage.webhooks.create(webhook);
    return webhook;
  }

  it('writes a delivery for each subscribed webhook with the event, and none for others', async () => {
    const user = await seedUser(storage);
    const other = await seedUser(storage, 'Bo');
    const all = await webhookOf(user.id, ['*']);
    const renames = await webhookOf(user.id, ['chat.updated']);
    const others = await webhookOf(other.id, ['*']);
    const { chat } = await seedChat(storage, user);
    await storage.chats.update(chat.id, { title: 'Renamed' }, at(1));

    const toAll = await storage.webhooks.listDeliveries(all.id, 10);
    expect(toAll.map((delivery) => [delivery.eventId, delivery.eventType, delivery.status, delivery.attempts])).toEqual(
      [
        [2, 'chat.updated', 'pending', 0],
        [1, 'chat.created', 'pending', 0],
      ],
    );
    const [event] = await storage.events.listAfter(user.id, 1, 1);
    expect(JSON.parse(toAll[0]?.payload ?? '')).toEqual({
      id: 2,
      type: 'chat.updated',
      chat_id: chat.id,
      at: event?.at.toISOString(),
      data: JSON.parse(event?.data ?? ''),
    });
    expect((await storage.webhooks.listDeliveries(renames.id, 10)).map((delivery) => delivery.eventType)).toEqual([
      'chat.updated',
    ]);
    expect(await storage.webhooks.listDeliveries(others.id, 10)).toEqual([]);
    // Pages, newest first.
    expect((await storage.webhooks.listDeliveries(all.id, 1, 2)).map((delivery) => delivery.eventId)).toEqual([1]);
  });

  it('claims due deliveries with a lease, and records delivered, retried and failed tries', async () => {
    const user = await seedUser(storage);
    const webhook = await webhookOf(user.id, ['chat.created']);
    await seedChat(storage, user);
    await seedChat(storage, user);
    const now = new Date(Date.now() + 60_000);
    const lease = new Date(now.getTime() + 60_000);
    const claimed = (await storage.webhooks.claimDue(now, 100, lease)).filter((due) => due.webhookId === webhook.id);
    expect(claimed.map((due) => [due.eventId, due.url, due.secret])).toEqual([
      [1, webhook.url, webhook.secret],
      [2, webhook.url, webhook.secret],
    ]);
    // Leased: not handed out again before the lease ends.
    expect((await storage.webhooks.claimDue(now, 100, lease)).filter((due) => due.webhookId === webhook.id)).toEqual(
      [],
    );
    const [first, second] = claimed;
    if (!first || !second) throw new Error('two deliveries expected');
    await storage.webhooks.recordAttempt(first, { at: now, outcome: { kind: 'delivered', statusCode: 204 } });
    const retryAt = new Date(now.getTime() + 5_000);
    await storage.webhooks.recordAttempt(second, {
      at: now,
      outcome: { kind: 'failed', statusCode: 500, error: 'HTTP 500' },
      retryAt,
    });
    const log = await storage.webhooks.listDeliveries(webhook.id, 10);
    expect(log.map((row) => [row.eventId, row.status, row.attempts, row.lastStatusCode, row.lastError])).toEqual([
      [2, 'pending', 1, 500, 'HTTP 500'],
      [1, 'delivered', 1, 204, null],
    ]);
    expect(log[1]?.deliveredAt).toEqual(now);
    // Due again at its retry time, not before.
    const mine = async (when: Date) =>
      (await storage.webhooks.claimDue(when, 100, new Date(when.getTime() + 60_000))).filter(
        (due) => due.webhookId === webhook.id,
      );
    expect(await mine(new Date(retryAt.getTime() - 1))).toEqual([]);
    const again = await mine(retryAt);
    expect(again.map((due) => [due.eventId, due.attempts])).toEqual([[2, 1]]);
    await storage.webhooks.recordAttempt(second, {
      at: retryAt,
      outcome: { kind: 'failed', statusCode: null, error: 'refused' },
    });
    expect((await storage.webhooks.listDeliveries(webhook.id, 1))[0]).toMatchObject({
      status: 'failed',
      attempts: 2,
      lastStatusCode: null,
      lastError: 'refused',
    });
    expect(await mine(new Date(retryAt.getTime() + 3_600_000))).toEqual([]);

    // Finished deliveries are forgotten after their time; pending ones never.
    await storage.webhooks.pruneFinished(new Date(retryAt.getTime() + 1));
    expect(await storage.webhooks.listDeliveries(webhook.id, 10)).toEqual([]);
  });

  it('lists, finds and deletes a user’s webhooks, only their own, with their deliveries', async () => {
    const user = await seedUser(storage);
    const other = await seedUser(storage, 'Bo');
    const first = await webhookOf(user.id, ['*']);
    const second = await webhookOf(user.id, ['chat.deleted']);
    await seedChat(storage, user);
    expect((await storage.webhooks.listForUser(user.id)).map((row) => row.id).sort()).toEqual(
      [first.id, second.id].sort(),
    );
    expect(await storage.webhooks.find(first.id)).toEqual(first);
    expect(await storage.webhooks.delete(other.id, first.id)).toBe(false);
    expect(await storage.webhooks.delete(user.id, first.id)).toBe(true);
    expect(await storage.webhooks.find(first.id)).toBeUndefined();
    expect(await storage.webhooks.listDeliveries(first.id, 10)).toEqual([]);
    expect(await storage.webhooks.delete(user.id, first.id)).toBe(false);
  });
});
