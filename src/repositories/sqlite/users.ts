import { eq, sql } from 'drizzle-orm';
import type { SqliteDb } from '../../db/sqlite/client.js';
import { apiKeys, users } from '../../db/sqlite/schema.js';
import type { ApiKeyRow, UserRow } from '../../domain/types.js';
import type { NewUser, UserStore } from '../contract.js';

/**
 * Users and their API keys. Methods are async so a PostgreSQL implementation can take
 * the same shape; on SQLite each one is a single synchronous statement or transaction.
 */
export function createSqliteUserStore(db: SqliteDb): UserStore {
  const findByIdStatement = db
    .select()
    .from(users)
    .where(eq(users.id, sql.placeholder('id')))
    .prepare();
  const findByKeyHashStatement = db
    .select({ user: users })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(eq(apiKeys.keyHash, sql.placeholder('keyHash')))
    .prepare();

  return {
    async createWithKey(user: NewUser, key: ApiKeyRow): Promise<UserRow> {
      return db.transaction((tx) => {
        const row = tx.insert(users).values(user).returning().get();
        tx.insert(apiKeys).values(key).run();
        return row;
      });
    },

    /** Removes the user and, through the foreign keys' cascade, everything of theirs. */
    async delete(id: string): Promise<boolean> {
      return db.delete(users).where(eq(users.id, id)).run().changes > 0;
    },

    async findById(id: string): Promise<UserRow | undefined> {
      return findByIdStatement.get({ id });
    },

    async findByKeyHash(keyHash: string): Promise<UserRow | undefined> {
      return findByKeyHashStatement.get({ keyHash })?.user;
    },
  };
}
