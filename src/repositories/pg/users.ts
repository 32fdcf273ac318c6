import { eq, sql } from 'drizzle-orm';
import type { PgDb } from '../../db/pg/client.js';
import { apiKeys, users } from '../../db/pg/schema.js';
import type { ApiKeyRow, UserRow } from '../../domain/types.js';
import type { NewUser, UserStore } from '../contract.js';

/** Users and their API keys on PostgreSQL. */
export function createPgUserStore(db: PgDb): UserStore {
  const findByIdStatement = db
    .select()
    .from(users)
    .where(eq(users.id, sql.placeholder('id')))
    .prepare('users_find_by_id');
  const findByKeyHashStatement = db
    .select({ user: users })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(eq(apiKeys.keyHash, sql.placeholder('keyHash')))
    .prepare('users_find_by_key_hash');

  return {
    async createWithKey(user: NewUser, key: ApiKeyRow): Promise<UserRow> {
      return db.transaction(async (tx) => {
        const [row] = await tx.insert(users).values(user).returning();
        if (!row) throw new Error(`user ${user.id} was not inserted`);
        await tx.insert(apiKeys).values(key);
        return row;
      });
    },

    /** Removes the user and, through the foreign keys' cascade, everything of theirs. */
    async delete(id: string): Promise<boolean> {
      const removed = await db.delete(users).where(eq(users.id, id)).returning({ id: users.id });
      return removed.length > 0;
    },

    async findById(id: string): Promise<UserRow | undefined> {
      return (await findByIdStatement.execute({ id }))[0];
    },

    async findByKeyHash(keyHash: string): Promise<UserRow | undefined> {
      return (await findByKeyHashStatement.execute({ keyHash }))[0]?.user;
    },
  };
}
