import fp from 'fastify-plugin';
import type { DatabaseConfig } from '../config.js';
import { openDatabase, type OpenedDatabase } from '../db/client.js';
import { openPgDatabase, redactDatabaseUrl, type OpenedPgDatabase } from '../db/pg-client.js';

/** The open database: SQLite on this machine or a PostgreSQL server, told apart by `engine`. */
export type AppDatabase = OpenedDatabase | OpenedPgDatabase;

declare module 'fastify' {
  interface FastifyInstance {
    database: AppDatabase;
  }
}

/**
 * Opens and migrates the database for the app's lifetime; closes it on close (SQLite: WAL
 * checkpointed; PostgreSQL: both pools ended, after the services stopped using them).
 */
export default fp<{ config: DatabaseConfig }>(
  async (fastify, options) => {
    const { config } = options;
    let database: AppDatabase;
    const where = config.engine === 'pg' ? redactDatabaseUrl(config.url) : config.location;
    try {
      database =
        config.engine === 'pg'
          ? await openPgDatabase(config.url, {
              max: config.poolMax,
              lockMax: config.lockPoolMax,
              connectTimeoutMs: config.connectTimeoutMs,
              idleTimeoutMs: config.idleTimeoutMs,
              statementTimeoutMs: config.statementTimeoutMs,
              onPoolError: (err) => fastify.log.warn({ err }, 'a pooled database connection failed'),
            })
          : openDatabase(config.location);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`Cannot open the database at DATABASE_URL=${where}: ${reason}`, { cause: error });
    }
    fastify.decorate<AppDatabase>('database', database);
    fastify.addHook('onClose', async () => database.close());
  },
  { name: 'database' },
);
