import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import * as schema from './schema.js';

export type PgDb = NodePgDatabase<typeof schema>;

export interface PgPoolOptions {
  /** Connections for queries and short transactions. */
  max: number;
  /** Connections that hold chat locks across asks (see src/db/pg-lock.ts). */
  lockMax: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** 0: no limit. */
  statementTimeoutMs: number;
  /** How long an ask waits for a chat's advisory lock; 0: no limit. */
  lockTimeoutMs: number;
}

export interface OpenedPgDatabase {
  engine: 'pg';
  db: PgDb;
  /** The pool behind `db`. */
  pool: pg.Pool;
  /**
   * A second pool, only for the session-level advisory locks that order asks on a chat
   * across instances: a lock is held for a whole ask, upstream call included, so these
   * connections must not starve the queries of `pool`.
   */
  lockPool: pg.Pool;
  /**
   * One connection of its own for the instance heartbeat: beats must not queue behind a
   * busy query pool, or peers would take a loaded instance for a dead one.
   */
  heartbeatDb: PgDb;
  heartbeatPool: pg.Pool;
  /**
   * A new client outside the pools (not connected yet), for a connection that must stay
   * the same one: LISTEN for other instances' event signals.
   */
  createClient(): pg.Client;
  /** True when the database answers a trivial query now (a new connection if need be). */
  ping(): Promise<boolean>;
  /** How many migrations the database has had applied. */
  appliedMigrations(): Promise<number>;
  close(): Promise<void>;
}

/** Migrations are applied by one instance at a time: the others wait on this advisory lock. */
const MIGRATION_LOCK = 0x63686174; // "chat"

/** drizzle/pg, found by walking up from this module (as for drizzle/sqlite). */
export function defaultPgMigrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'drizzle', 'pg');
    if (existsSync(join(candidate, 'meta', '_journal.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('drizzle/pg migrations folder not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/**
 * Connects to PostgreSQL at `url` with two pools, applies pending migrations (one instance
 * at a time, under an advisory lock) and returns the Drizzle instance. Pool errors on idle
 * connections (the server restarted, a network cut) are reported to `onPoolError` instead
 * of crashing the process; the pool replaces such connections on the next query.
 */
export async function openPgDatabase(
  url: string,
  options: PgPoolOptions & {
    migrationsFolder?: string;
    queryLogger?: Logger;
    onPoolError?: (error: Error) => void;
  },
): Promise<OpenedPgDatabase> {
  const base: pg.PoolConfig = {
    connectionString: url,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: options.idleTimeoutMs,
    application_name: 'chat-history-service',
    // Dead peers (a failed-over server, a cut network) are noticed in seconds, not hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(options.statementTimeoutMs > 0 ? { statement_timeout: options.statementTimeoutMs } : {}),
  };
  const pool = new pg.Pool({ ...base, max: options.max });
  // Lock connections idle in pg_advisory_lock while another instance answers: no statement
  // timeout, but a lock wait is bounded (a hung holder must not stall a chat for hours).
  const lockPool = new pg.Pool({
    ...base,
    max: options.lockMax,
    statement_timeout: 0,
    ...(options.lockTimeoutMs > 0 ? { lock_timeout: options.lockTimeoutMs } : {}),
  });
  const onError = options.onPoolError ?? (() => undefined);
  pool.on('error', onError);
  lockPool.on('error', onError);
  const heartbeatPool = new pg.Pool({ ...base, max: 1 });
  heartbeatPool.on('error', onError);
  const closeAll = async () => {
    await Promise.allSettled([pool.end(), lockPool.end(), heartbeatPool.end()]);
  };
  try {
    const db = drizzle(pool, { schema, ...(options.queryLogger ? { logger: options.queryLogger } : {}) });
    const client = await pool.connect();
    try {
      // Migrations (an index on a large table) and waiting for another instance's may take
      // longer than the query connections' statement timeout: none for this session.
      await client.query('SET statement_timeout = 0');
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        await migrate(drizzle(client, { schema }), {
          migrationsFolder: options.migrationsFolder ?? defaultPgMigrationsFolder(),
        });
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
        await client.query('RESET statement_timeout');
      }
    } finally {
      client.release();
    }
    let closed = false;
    return {
      engine: 'pg',
      db,
      pool,
      lockPool,
      heartbeatDb: drizzle(heartbeatPool, { schema }),
      heartbeatPool,
      ping: async () => {
        if (closed) return false;
        // Bounded here too: a blackholed server never answers, and /ready must not hang.
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), options.connectTimeoutMs);
        });
        const answer = pool.query<{ ok: number }>('SELECT 1 AS ok').then(
          (result) => result.rows[0]?.ok === 1,
          () => false,
        );
        try {
          return await Promise.race([answer, timeout]);
        } finally {
          clearTimeout(timer);
        }
      },
      createClient: () => new pg.Client({ ...base, statement_timeout: 0 }),
      appliedMigrations: async () => {
        // drizzle's node-postgres migrator keeps its journal in the "drizzle" schema.
        const result = await pool.query<{ n: string }>('SELECT count(*) AS n FROM drizzle.__drizzle_migrations');
        return Number(result.rows[0]?.n ?? 0);
      },
      close: async () => {
        if (closed) return;
        closed = true;
        await closeAll();
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
