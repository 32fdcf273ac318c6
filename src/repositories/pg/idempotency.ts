import { and, eq, lte, sql } from 'drizzle-orm';
import type { PgDb } from '../../db/pg/client.js';
import { idempotencyKeys } from '../../db/pg/schema.js';
import { runningKey } from '../../domain/rows.js';
import type { IdempotencyRow } from '../../domain/types.js';
import type { ClaimResult, IdempotencyStore } from '../contract.js';

/**
 * Idempotency keys on PostgreSQL. The claim is one INSERT .. ON CONFLICT on the (user, key)
 * primary key, so two instances receiving the same key at once cannot both claim it: one
 * inserts, the other sees its row. An expired row is taken over in the same statement.
 */
export function createPgIdempotencyStore(db: PgDb): IdempotencyStore {
  const ofKey = (userId: string, key: string) => and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key));

  return {
    async claim(input: {
      userId: string;
      key: string;
      requestHash: string;
      now: Date;
      expiresAt: Date;
    }): Promise<ClaimResult> {
      const claimed = await db
        .insert(idempotencyKeys)
        .values(runningKey(input))
        .onConflictDoUpdate({
          target: [idempotencyKeys.userId, idempotencyKeys.key],
          set: {
            requestHash: input.requestHash,
            state: 'running',
            statusCode: null,
            response: null,
            createdAt: input.now,
            expiresAt: input.expiresAt,
          },
          setWhere: sql`${idempotencyKeys.expiresAt} <= ${input.now}`,
        })
        .returning({ key: idempotencyKeys.key });
      if (claimed.length > 0) return { kind: 'claimed' };
      const [row] = await db.select().from(idempotencyKeys).where(ofKey(input.userId, input.key));
      // Released between our insert and this read: a rare race, answered as "still running".
      return {
        kind: 'existing',
        row: row ?? runningKey(input),
      };
    },

    async find(userId: string, key: string): Promise<IdempotencyRow | undefined> {
      return (await db.select().from(idempotencyKeys).where(ofKey(userId, key)))[0];
    },

    async complete(userId: string, key: string, statusCode: number, response: string): Promise<void> {
      await db.update(idempotencyKeys).set({ state: 'done', statusCode, response }).where(ofKey(userId, key));
    },

    async release(userId: string, key: string): Promise<void> {
      await db.delete(idempotencyKeys).where(ofKey(userId, key));
    },

    async purgeExpired(now: Date): Promise<number> {
      const deleted = await db
        .delete(idempotencyKeys)
        .where(lte(idempotencyKeys.expiresAt, now))
        .returning({ key: idempotencyKeys.key });
      return deleted.length;
    },
  };
}
