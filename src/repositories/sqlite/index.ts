import type { SqliteDb } from '../../db/sqlite/client.js';
import type { Storage } from '../contract.js';
import { createKeyedLock } from '../keyed-lock.js';
import { createSqliteBranchStore } from './branches.js';
import { createSqliteChatStore } from './chats.js';
import { createSqliteIdempotencyStore } from './idempotency.js';
import { createSqlitePairStore } from './pairs.js';
import { createSqliteSearchStore } from './search.js';
import { createSqliteEventLog } from './events.js';
import { createSqliteWebhooks } from './webhooks.js';
import { createSharedStatements } from './shared.js';
import { createSqliteTransferStore } from './transfer.js';
import { createSqliteUserStore } from './users.js';

/**
 * The stores on one SQLite file. One process serves a file (src/db/sqlite/claim.ts), so
 * the chat lock lives in this process, and everything unfinished at start-up is orphaned:
 * nothing needs a heartbeat.
 */
export function createSqliteStorage(db: SqliteDb, instanceId: string): Storage {
  const webhooks = createSqliteWebhooks(db);
  const log = createSqliteEventLog(db, webhooks);
  const shared = createSharedStatements(db, log);
  const pairs = createSqlitePairStore(db, shared, log);
  return {
    users: createSqliteUserStore(db),
    chats: createSqliteChatStore(db, shared),
    pairs,
    branches: createSqliteBranchStore(db, shared),
    transfer: createSqliteTransferStore(db, shared),
    search: createSqliteSearchStore(db),
    idempotency: createSqliteIdempotencyStore(db),
    events: log.store,
    eventTickets: log.tickets,
    webhooks: webhooks.store,
    chatLock: createKeyedLock(),
    liveness: {
      instanceId,
      heartbeatMs: undefined,
      beat: async () => undefined,
      failOrphans: async (code, message, now) => pairs.failUnfinished(code, message, now),
      leave: async () => undefined,
    },
  };
}
