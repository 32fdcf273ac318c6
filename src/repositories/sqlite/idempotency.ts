import { and, eq, lte } from 'drizzle-orm';
import type { SqliteDb } from '../../db/sqlite/client.js';
import { idempotencyKeys } from '../../db/sqlite/schema.js';
import { runningKey } from '../../domain/rows.js';
import type { IdempotencyRow } from '../../domain/types.js';
import type { ClaimResult, IdempotencyStore } from '../contract.js';

/** Idempotency keys of POST /search, one row per (user, key). */
export function createSqliteIdempotencyStore(db: SqliteDb): IdempotencyStore {
  return {
    /** Claims `key` for this request unless a live row holds it; expired rows are taken over. */
    async claim(input: {
      userId: string;
      key: string;
      requestHash: string;
      now: Date;
      expiresAt: Date;
    }): Promise<ClaimResult> {
      return db.transaction((tx) => {
        const row = tx
          .select()
          .from(idempotencyKeys)
          .where(and(eq(idempotencyKeys.userId, input.userId), eq(idempotencyKeys.key, input.key)))
          .get();
        if (row && row.expiresAt > input.now) return { kind: 'existing' as const, row };
        if (row) {
          tx.delete(idempotencyKeys)
            .where(and(eq(idempotencyKeys.userId, input.userId), eq(idempotencyKeys.key, input.key)))
            .run();
        }
        tx.insert(idempotencyKeys).values(runningKey(input)).run();
        return { kind: 'claimed' as const };
      });
    },

    async find(userId: string, key: string): Promise<IdempotencyRow | undefined> {
      return db
        .select()
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)))
        .get();
    },

    /** Stores the response a claimed key's request produced. */
    async complete(userId: string, key: string, statusCode: number, response: string): Promise<void> {
      db.update(idempotencyKeys)
        .set({ state: 'done', statusCode, response })
        .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)))
        .run();
    },

    /** Gives a key back (its request failed before doing anything worth replaying). */
    async release(userId: string, key: string): Promise<void> {
      db.delete(idempotencyKeys)
        .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)))
        .run();
    },

    async purgeExpired(now: Date): Promise<number> {
      return db.delete(idempotencyKeys).where(lte(idempotencyKeys.expiresAt, now)).run().changes;
    },
  };
}
