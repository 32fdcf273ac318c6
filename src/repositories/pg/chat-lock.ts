import type pg from 'pg';
import { databaseBusy } from '../../domain/errors.js';
import type { ChatLock } from '../contract.js';
import { createKeyedLock } from '../keyed-lock.js';

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
export function createPgChatLock(
  lockPool: pg.Pool,
  options: { onLockLost?: (key: string, error: Error) => void } = {},
): ChatLock {
  const local = createKeyedLock();
  return {
    run<T>(key: string, work: () => Promise<T>): Promise<T> {
      return local.run(key, async () => {
        let client: pg.PoolClient;
        try {
          client = await lockPool.connect();
        } catch (error) {
          // Every lock connection is busy with a running ask: a 503 to retry, not a 500.
          throw Object.assign(databaseBusy('Too many asks are running on this instance; retry shortly'), {
            cause: error,
          });
        }
        // The connection idles through the upstream call. pg-pool listens for errors only
        // on idle pooled clients, so a server restart or a cut network would otherwise be
        // an unhandled 'error' event that takes the process down. The lock went with the
        // session: say so, let the work finish, and destroy the connection.
        let healthy = true;
        const onError = (error: Error) => {
          healthy = false;
          options.onLockLost?.(key, error);
        };
        client.on('error', onError);
        try {
          try {
            await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [CHAT_LOCK_CLASS, key]);
          } catch (error) {
            healthy = false;
            // lock_timeout (the lock pool's session setting) ran out: another instance holds
            // this chat for longer than an ask may take.
            if (error instanceof Error && 'code' in error && error.code === '55P03') {
              throw Object.assign(databaseBusy('Another ask on this chat is taking too long; retry shortly'), {
                cause: error,
              });
            }
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
          client.off('error', onError);
          client.release(!healthy);
        }
      });
    },
    queuedFor: (key) => local.queuedFor(key),
  };
}
