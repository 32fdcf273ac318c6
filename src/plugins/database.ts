import fp from 'fastify-plugin';
import type { DatabaseConfig } from '../config.js';
import { openAppDatabase, type AppDatabase, type OpenAppDatabaseOptions } from '../db/index.js';

export type { AppDatabase } from '../db/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    database: AppDatabase;
  }
}

/**
 * Opens and migrates the database for the app's lifetime; closes it on close (SQLite: WAL
 * checkpointed; PostgreSQL: both pools ended, after the services stopped using them).
 */
export default fp<{ config: DatabaseConfig } & Omit<OpenAppDatabaseOptions, 'onPoolError'>>(
  async (fastify, options) => {
    const { config, ...files } = options;
    const database = await openAppDatabase(config, {
      // A server's checkpoints run beside its requests, never inside one of their commits.
      backgroundCheckpoints: true,
      ...files,
      onPoolError: (err) => fastify.log.warn({ err }, 'a pooled database connection failed'),
    });
    fastify.decorate<AppDatabase>('database', database);
    fastify.addHook('onClose', async () => database.close());
  },
  { name: 'database' },
);
