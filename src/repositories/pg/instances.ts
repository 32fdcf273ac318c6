import { eq, sql } from 'drizzle-orm';
import type { PgDb } from '../../db/pg/client.js';
import { appInstances } from '../../db/pg/schema.js';

/**
 * The registry of running app instances. Each one upserts its row at start and then every
 * heartbeat, by the database's clock (instances' clocks may disagree; the database's is
 * the one every instance compares with), and deletes it when it stops cleanly.
 */
export function createPgInstanceRepository(db: PgDb) {
  return {
    async beat(id: string): Promise<void> {
      await db
        .insert(appInstances)
        .values({ id, startedAt: sql`now()`, heartbeatAt: sql`now()` })
        .onConflictDoUpdate({ target: appInstances.id, set: { heartbeatAt: sql`now()` } });
    },

    /** Forgets instances silent for `olderThanMs` (their pairs were failed by then). */
    async forgetSilent(olderThanMs: number): Promise<number> {
      const gone = await db
        .delete(appInstances)
        .where(sql`${appInstances.heartbeatAt} < now() - make_interval(secs => ${olderThanMs / 1000}::float8)`)
        .returning({ id: appInstances.id });
      return gone.length;
    },

    async remove(id: string): Promise<void> {
      await db.delete(appInstances).where(eq(appInstances.id, id));
    },
  };
}
