import { randomUUID } from 'node:crypto';
import type { AppDatabase } from '../db/index.js';
import type { Storage } from './contract.js';
import { createPgStorage } from './pg/index.js';
import { createSqliteStorage } from './sqlite/index.js';

export type * from './contract.js';
export { InvalidSearchQuery } from './contract.js';

export interface StorageOptions {
  /** PostgreSQL: how often this instance beats, and after how long silent instances count as stopped. */
  heartbeatMs?: number;
  staleAfterMs?: number;
  onLockLost?: (chatId: string, error: Error) => void;
}

/** The stores of the open database's engine: the only place that picks one. */
export function createStorage(database: AppDatabase, options: StorageOptions = {}): Storage {
  const instanceId = randomUUID();
  if (database.engine === 'sqlite') return createSqliteStorage(database.db, instanceId);
  return createPgStorage(database, {
    instanceId,
    heartbeatMs: options.heartbeatMs ?? 5_000,
    staleAfterMs: options.staleAfterMs ?? 30_000,
    ...(options.onLockLost ? { onLockLost: options.onLockLost } : {}),
  });
}
