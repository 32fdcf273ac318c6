import fp from 'fastify-plugin';
import { openDatabase, type OpenedDatabase } from '../db/client.js';

declare module 'fastify' {
  interface FastifyInstance {
    database: OpenedDatabase;
  }
}

/** Opens and migrates the database for the app's lifetime; closes it (WAL checkpointed) on close. */
export default fp<{ location: string }>(
  async (fastify, options) => {
    const database = openDatabase(options.location);
    fastify.decorate('database', database);
    fastify.addHook('onClose', async () => database.close());
  },
  { name: 'database' },
);
