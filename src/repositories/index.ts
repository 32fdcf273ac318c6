import { randomUUID } from 'node:crypto';
import type { AppDatabase } from '../db/index.js';
import type { Storage } from './contract.js';

export type * from './contract.js';
export { InvalidSearchQuery } from './contract.js';

export interface StorageOptions {
  /** PostgreSQL: how often this instance beats, and after how long silent instances count as stopped. */
  heartbeatMs?: number;
  staleAfterMs?: number;
  onLockLost?: (chatId: string, error: Error) => void;
}

/**
 * The stores of the open database's engine: the only place that picks one. Only that
 * engine's stores (and through them its Drizzle dialect) are loaded.
 */
export async function createStorage(database: AppDatabase, options: StorageOptions = {}): Promise<Storage> {
  const instanceId = randomUUID();
  if (database.engine === 'sqlite') {
    const { createSqliteStorage } = await import('./sqlite/index.js');
    return createSqliteStorage(database.db, instanceId);
  }
  const { createPgStorage } = await import('./pg/index.js');
  return createPgStorage(database, {
    instanceId,
    heartbeatMs: options.heartbeatMs ?? 5_000,
    staleAfterMs: options.staleAfterMs ?? 30_000,
    ...(options.onLockLost ? { onLockLost: options.onLockLost } : {}),
  });
}
