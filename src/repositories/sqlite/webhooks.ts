import { and, asc, desc, eq, lt, sql } from 'drizzle-orm';
import type { SqliteDb } from '../../db/sqlite/client.js';
import { webhookDeliveries, webhooks } from '../../db/sqlite/schema.js';
import { eventJson, type StoredEvent } from '../../domain/events.js';
import { attemptColumns } from '../../domain/webhooks.js';
import type { WebhookStore } from '../contract.js';

/**
 * Webhooks on SQLite, and the statement the event log runs in each event's transaction to
 * write its deliveries (one per webhook of the user subscribed to the event's type).
 */
export function createSqliteWebhooks(db: SqliteDb) {
  const p = sql.placeholder;
  const hasWebhooks = db
    .select({ id: webhooks.id })
    .from(webhooks)
    .where(eq(webhooks.userId, p('userId')))
    .limit(1)
    .prepare();

  /** Writes the event's deliveries; the caller holds the event's transaction. */
  function enqueueDeliveries(event: StoredEvent): void {
    // Most users have no webhook: one indexed lookup, and the payload is never built.
    if (!hasWebhooks.get({ userId: event.userId })) return;
    const now = Date.now();
    db.run(sql`
      INSERT INTO ${webhookDeliveries}
        (webhook_id, event_id, user_id, event_type, payload, status, attempts, next_attempt_at, created_at)
      SELECT w.id, ${event.id}, ${event.userId}, ${event.type}, ${eventJson(event)}, 'pending', 0, ${now}, ${now}
      FROM ${webhooks} w
      WHERE w.user_id = ${event.userId}
        AND EXISTS (SELECT 1 FROM json_each(w.event_types) t WHERE t.value IN (${event.type}, '*'))`);
  }

  const store: WebhookStore = {
    async create(webhook) {
      db.insert(webhooks).values(webhook).run();
    },

    async listForUser(userId) {
      return db.select().from(webhooks).where(eq(webhooks.userId, userId)).orderBy(asc(webhooks.createdAt)).all();
    },

    async find(id) {
      return db.select().from(webhooks).where(eq(webhooks.id, id)).get();
    },

    async delete(userId, id) {
      return (
        db
          .delete(webhooks)
          .where(and(eq(webhooks.id, id), eq(webhooks.userId, userId)))
          .run().changes > 0
      );
    },

    async claimDue(now, limit, leaseUntil) {
      // One process serves the file: the lease only guards against this process's next
      // round taking a delivery still in flight.
      return db.transaction((tx) => {
        const due = tx
          .select({ delivery: webhookDeliveries, url: webhooks.url, secret: webhooks.secret })
          .from(webhookDeliveries)
          .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
          .where(
            and(
              sql`${webhookDeliveries.status} = 'pending'`,
              sql`${webhookDeliveries.nextAttemptAt} <= ${now.getTime()}`,
            ),
          )
          .orderBy(asc(webhookDeliveries.nextAttemptAt))
          .limit(limit)
          .all();
        for (const { delivery } of due) {
          tx.update(webhookDeliveries)
            .set({ nextAttemptAt: leaseUntil })
            .where(
              and(eq(webhookDeliveries.webhookId, delivery.webhookId), eq(webhookDeliveries.eventId, delivery.eventId)),
            )
            .run();
        }
        return due.map(({ delivery, url, secret }) => ({ ...delivery, nextAttemptAt: leaseUntil, url, secret }));
      });
    },

    async recordAttempt(delivery, attempt) {
      db.update(webhookDeliveries)
        .set({ ...attemptColumns(attempt), attempts: sql`${webhookDeliveries.attempts} + 1` })
        .where(
          and(eq(webhookDeliveries.webhookId, delivery.webhookId), eq(webhookDeliveries.eventId, delivery.eventId)),
        )
        .run();
    },

    async pruneFinished(before) {
      return db
        .delete(webhookDeliveries)
        .where(
          and(sql`${webhookDeliveries.status} IN ('delivered', 'failed')`, lt(webhookDeliveries.lastAttemptAt, before)),
        )
        .run().changes;
    },

    async listDeliveries(webhookId, limit, beforeEventId) {
      return db
        .select()
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.webhookId, webhookId),
            beforeEventId === undefined ? undefined : lt(webhookDeliveries.eventId, beforeEventId),
          ),
        )
        .orderBy(desc(webhookDeliveries.eventId))
        .limit(limit)
        .all();
    },
  };

  return { store, enqueueDeliveries };
}
