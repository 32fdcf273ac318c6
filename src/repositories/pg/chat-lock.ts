import type pg from 'pg';
import { createKeyedLock, type KeyedLock } from '../../services/keyed-lock.js';

/** The advisory-lock namespace of chats (the first of the two 32-bit keys). */
const CHAT_LOCK_CLASS = 0x63686174; // "chat"

/**
 * The per-chat lock of `createKeyedLock`, extended across instances: within this process
 * work on a chat still queues in arrival order (so at most one connection per chat is
 * used here), and the one at the head of the queue then takes a session-level PostgreSQL
 * advisory lock on (CHAT_LOCK_CLASS, hashtext(chat id)) on a connection of `lockPool`,
 * held until its work ends. Asks on one chat through several instances thus run one at a
 * time; a crashed instance's locks go with its connections. Two chats whose ids hash alike
 * merely share a queue. The lock is held over the upstream call, so `lockPool`'s size is
 * how many asks (on different chats) one instance runs at once; waiting for a connection
 * is bounded by the pool's connection timeout.
 */
export function createPgChatLock(lockPool: pg.Pool): KeyedLock {
  const local = createKeyedLock();
  return {
    run<T>(key: string, work: () => Promise<T>): Promise<T> {
      return local.run(key, async () => {
        const client = await lockPool.connect();
        // A connection whose lock or unlock failed may still hold the lock: destroy it
        // (closing the session frees it) rather than return it to the pool.
        let healthy = true;
        try {
          try {
            await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [CHAT_LOCK_CLASS, key]);
          } catch (error) {
            healthy = false;
            throw error;
          }
          try {
            return await work();
          } finally {
            await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [CHAT_LOCK_CLASS, key]).catch(() => {
              healthy = false;
            });
          }
        } finally {
          client.release(!healthy);
        }
      });
    },
    queuedFor: (key) => local.queuedFor(key),
  };
}
