import { randomUUID } from 'node:crypto';
import type { AppDatabase } from '../db/index.js';
import { createKeyedLock, type KeyedLock } from './keyed-lock.js';
import { createChatRepository, type ChatRepository } from './chats.js';
import { createIdempotencyRepository, type IdempotencyRepository } from './idempotency.js';
import { createPgChatLock } from './pg/chat-lock.js';
import { createPgChatRepository } from './pg/chats.js';
import { createPgIdempotencyRepository } from './pg/idempotency.js';
import { createPgInstanceRepository } from './pg/instances.js';
import { createPgSearchRepository } from './pg/search.js';
import { createPgUserRepository } from './pg/users.js';
import { createSearchRepository, type SearchRepository } from './search.js';
import { createUserRepository, type UserRepository } from './users.js';

/**
 * How this instance tells others it is alive, and how pairs left unfinished by stopped
 * instances are failed. SQLite has one process per database: everything unfinished at
 * start-up is orphaned, and nothing needs sweeping later. On PostgreSQL several instances
 * share the database: each one beats, and start-up and every beat fail only the pairs of
 * instances whose heartbeat expired.
 */
export interface InstanceLiveness {
  instanceId: string;
  /** How often `beat` should run; undefined: never (single process). */
  heartbeatMs: number | undefined;
  /** Registers this instance (at start-up) or proves it still runs. */
  beat(): Promise<void>;
  /** Fails the unfinished pairs no running instance owns; returns how many. */
  failOrphans(errorCode: string, errorMessage: string, now: Date): Promise<number>;
  /** Deregisters this instance (clean shutdown, after its asks were drained). */
  leave(): Promise<void>;
}

export interface Repositories {
  users: UserRepository;
  chats: ChatRepository;
  search: SearchRepository;
  idempotency: IdempotencyRepository;
  /** Orders asks (and branch changes) on one chat: in this process, or across instances. */
  chatLock: KeyedLock;
  liveness: InstanceLiveness;
}

/** The repositories of the open database's engine: the only place that picks one. */
export function createRepositories(
  database: AppDatabase,
  options: { heartbeatMs: number; staleAfterMs: number } = { heartbeatMs: 5_000, staleAfterMs: 30_000 },
  events: { onLockLost?: (chatId: string, error: Error) => void } = {},
): Repositories {
  const instanceId = randomUUID();
  if (database.engine === 'sqlite') {
    const chats = createChatRepository(database.db);
    return {
      users: createUserRepository(database.db),
      chats,
      search: createSearchRepository(database.db),
      idempotency: createIdempotencyRepository(database.db),
      chatLock: createKeyedLock(),
      liveness: {
        instanceId,
        heartbeatMs: undefined,
        beat: async () => undefined,
        failOrphans: (code, message, now) => chats.failUnfinishedPairs(code, message, now),
        leave: async () => undefined,
      },
    };
  }
  const chats = createPgChatRepository(database.db, { instanceId, staleAfterMs: options.staleAfterMs });
  const instances = createPgInstanceRepository(database.heartbeatDb);
  return {
    users: createPgUserRepository(database.db),
    chats,
    search: createPgSearchRepository(database.db),
    idempotency: createPgIdempotencyRepository(database.db),
    chatLock: createPgChatLock(database.lockPool, events),
    liveness: {
      instanceId,
      heartbeatMs: options.heartbeatMs,
      beat: () => instances.beat(instanceId),
      failOrphans: async (code, message, now) => {
        const failed = await chats.failUnfinishedPairs(code, message, now);
        await instances.forgetSilent(options.staleAfterMs * 10);
        return failed;
      },
      leave: () => instances.remove(instanceId),
    },
  };
}
