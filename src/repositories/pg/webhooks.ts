import { and, asc, desc, eq, lt, sql } from 'drizzle-orm';
import type { PgDb } from '../../db/pg/client.js';
import { webhookDeliveries, webhooks } from '../../db/pg/schema.js';
import type { DueDelivery, WebhookDeliveryRow } from '../../domain/webhooks.js';
import { attemptColumns } from '../../domain/webhooks.js';
import type { WebhookStore } from '../contract.js';

/**
 * Webhooks on PostgreSQL. Deliveries are written by the event log's statement
 * (./events.ts); several instances claim due ones with SKIP LOCKED and a lease, so one is
 * never tried by two instances at once.
 */
export function createPgWebhookStore(db: PgDb): WebhookStore {
  return {
    async create(webhook) {
      await db.insert(webhooks).values(webhook);
    },

    async listForUser(userId) {
      return db.select().from(webhooks).where(eq(webhooks.userId, userId)).orderBy(asc(webhooks.createdAt));
    },

    async find(id) {
      return (await db.select().from(webhooks).where(eq(webhooks.id, id)))[0];
    },

    async delete(userId, id) {
      const deleted = await db
        .delete(webhooks)
        .where(and(eq(webhooks.id, id), eq(webhooks.userId, userId)))
        .returning({ id: webhooks.id });
      return deleted.length > 0;
    },

    async claimDue(now, limit, leaseUntil) {
      return db.transaction(async (tx) => {
        const due = await tx
          .select({ webhookId: webhookDeliveries.webhookId, eventId: webhookDeliveries.eventId })
          .from(webhookDeliveries)
          .where(
            and(
              sql`${webhookDeliveries.status} = 'pending'`,
              sql`${webhookDeliveries.nextAttemptAt} <= ${now.toISOString()}::timestamptz`,
            ),
          )
          .orderBy(asc(webhookDeliveries.nextAttemptAt))
          .limit(limit)
          .for('update', { skipLocked: true });
        const claimed: DueDelivery[] = [];
        for (const key of due) {
          const [row] = await tx
            .update(webhookDeliveries)
            .set({ nextAttemptAt: leaseUntil })
            .where(and(eq(webhookDeliveries.webhookId, key.webhookId), eq(webhookDeliveries.eventId, key.eventId)))
            .returning();
          const [webhook] = await tx
            .select({ url: webhooks.url, secret: webhooks.secret })
            .from(webhooks)
            .where(eq(webhooks.id, key.webhookId));
          if (row && webhook) claimed.push({ ...row, ...webhook });
        }
        return claimed;
      });
    },

    async recordAttempt(delivery, attempt) {
      await db
        .update(webhookDeliveries)
        .set({ ...attemptColumns(attempt), attempts: sql`${webhookDeliveries.attempts} + 1` })
        .where(
          and(eq(webhookDeliveries.webhookId, delivery.webhookId), eq(webhookDeliveries.eventId, delivery.eventId)),
        );
    },

    async pruneFinished(before) {
      const deleted = await db
        .delete(webhookDeliveries)
        .where(
          and(sql`${webhookDeliveries.status} IN ('delivered', 'failed')`, lt(webhookDeliveries.lastAttemptAt, before)),
        )
        .returning({ eventId: webhookDeliveries.eventId });
      return deleted.length;
    },

    async listDeliveries(webhookId, limit, beforeEventId): Promise<WebhookDeliveryRow[]> {
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
        .limit(limit);
    },
  };
}
