import { asc, eq, inArray, sql } from 'drizzle-orm';
import type { PgDb } from '../../db/pg/client.js';
import { appInstances, chats, pairProgress, pendingPairs, qaPairs, users } from '../../db/pg/schema.js';
import { eventOf } from '../../domain/events.js';
import type { InstanceLiveness } from '../contract.js';
import { recordEvent } from './events.js';

/**
 * Liveness across instances sharing one database. Each instance upserts its row in
 * `app_instances` at start and at every heartbeat, by the database's clock (instances'
 * clocks may disagree; the database's is the one every instance compares with), and
 * deletes it when it stops cleanly. Recovery fails the unfinished pairs of instances whose
 * heartbeat is older than `staleAfterMs`, never those of a live one (this one included).
 */
export function createPgLiveness(
  db: PgDb,
  heartbeatDb: PgDb,
  options: { instanceId: string; heartbeatMs: number; staleAfterMs: number },
): InstanceLiveness {
  const { instanceId } = options;
  const staleSeconds = options.staleAfterMs / 1000;

  async function failUnfinished(errorCode: string, errorMessage: string, now: Date): Promise<number> {
    // The chats of the failed pairs change (and so their owners' lists): their versions go
    // up in the same statement. Left unrendered (any rendering they carried is cleared):
    // reads render them live until the lifecycle's backfill stores their rendering. The
    // text a stream had saved is kept as the partial answer. Each failed pair's
    // `pair.completed` event commits with it.
    return db.transaction(async (tx) => {
      const result = await tx.execute<{ id: string }>(sql`
        WITH live AS (
          SELECT id FROM ${appInstances}
          WHERE heartbeat_at > now() - make_interval(secs => ${staleSeconds}::float8)
        ),
        orphans AS (
          DELETE FROM ${pendingPairs}
          WHERE instance_id <> ${instanceId} AND instance_id NOT IN (SELECT id FROM live)
          RETURNING qa_pair_id
        ),
        failed AS (
          UPDATE ${qaPairs}
          SET status = 'failed', error_code = ${errorCode}, error_message = ${errorMessage}, answered_at = ${now.toISOString()}::timestamptz,
            answer = coalesce((SELECT text FROM ${pairProgress} WHERE qa_pair_id = ${qaPairs}.id), ${qaPairs}.answer),
            rendered = null, rendered_node = null
          WHERE status IN ('pending', 'streaming')
            AND (id IN (SELECT qa_pair_id FROM orphans)
              OR NOT EXISTS (SELECT 1 FROM ${pendingPairs} o WHERE o.qa_pair_id = ${qaPairs}.id))
          RETURNING id, chat_id
        ),
        changed AS (
          UPDATE ${chats} SET version = version + 1 WHERE id IN (SELECT chat_id FROM failed) RETURNING user_id
        ),
        listed AS (
          UPDATE ${users} SET chats_version = chats_version + 1 WHERE id IN (SELECT user_id FROM changed)
        )
        SELECT id FROM failed`);
      const ids = result.rows.map((row) => row.id);
      if (ids.length === 0) return 0;
      await tx.delete(pairProgress).where(inArray(pairProgress.qaPairId, ids));
      const pairs = await tx.select().from(qaPairs).where(inArray(qaPairs.id, ids)).orderBy(asc(qaPairs.seq));
      for (const pair of pairs) await recordEvent(tx, eventOf.pairCompleted(pair, now));
      return ids.length;
    });
  }

  return {
    instanceId,
    heartbeatMs: options.heartbeatMs,
    // The heartbeat has its own connection, so a pool busy with asks never delays it.
    async beat() {
      await heartbeatDb
        .insert(appInstances)
        .values({ id: instanceId, startedAt: sql`now()`, heartbeatAt: sql`now()` })
        .onConflictDoUpdate({ target: appInstances.id, set: { heartbeatAt: sql`now()` } });
    },
    async failOrphans(errorCode, errorMessage, now) {
      const failed = await failUnfinished(errorCode, errorMessage, now);
      // Instances silent for ten times the limit are forgotten (their pairs were failed by then).
      await heartbeatDb
        .delete(appInstances)
        .where(sql`${appInstances.heartbeatAt} < now() - make_interval(secs => ${staleSeconds * 10}::float8)`);
      return failed;
    },
    async leave() {
      await heartbeatDb.delete(appInstances).where(eq(appInstances.id, instanceId));
    },
  };
}
