import type { OpenedPgDatabase } from '../../db/pg/client.js';
import type { Storage } from '../contract.js';
import { createPgBranchStore } from './branches.js';
import { createPgChatLock } from './chat-lock.js';
import { createPgChatStore } from './chats.js';
import { createPgEventLog } from './events.js';
import { createPgIdempotencyStore } from './idempotency.js';
import { createPgLiveness } from './liveness.js';
import { createPgPairStore } from './pairs.js';
import { createPgSearchStore } from './search.js';
import { createPgTransferStore } from './transfer.js';
import { createPgUserStore } from './users.js';
import { createPgWebhookStore } from './webhooks.js';

export interface PgStorageOptions {
  instanceId: string;
  heartbeatMs: number;
  staleAfterMs: number;
  /** A chat's advisory lock went with its connection while work held it. */
  onLockLost?: (chatId: string, error: Error) => void;
}

/**
 * The stores on a PostgreSQL database that several instances may share: asks on a chat
 * are ordered across them by advisory locks, and each instance's unfinished pairs are its
 * own until its heartbeat stops.
 */
export function createPgStorage(database: OpenedPgDatabase, options: PgStorageOptions): Storage {
  const { db } = database;
  const log = createPgEventLog(db, { createClient: database.createClient });
  return {
    users: createPgUserStore(db),
    chats: createPgChatStore(db),
    pairs: createPgPairStore(db, { instanceId: options.instanceId }),
    branches: createPgBranchStore(db),
    transfer: createPgTransferStore(db),
    search: createPgSearchStore(db),
    idempotency: createPgIdempotencyStore(db),
    events: log.store,
    eventTickets: log.tickets,
    webhooks: createPgWebhookStore(db),
    chatLock: createPgChatLock(database.lockPool, options.onLockLost ? { onLockLost: options.onLockLost } : {}),
    liveness: createPgLiveness(db, database.heartbeatDb, options),
  };
}
