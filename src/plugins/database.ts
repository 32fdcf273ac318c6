import fp from 'fastify-plugin';
import { openDatabase, type OpenDatabaseOptions, type OpenedDatabase } from '../db/client.js';

declare module 'fastify' {
  interface FastifyInstance {
    database: OpenedDatabase;
  }
}

/** Opens and migrates the database for the app's lifetime; closes it (WAL checkpointed) on close. */
export default fp<{ location: string } & Pick<OpenDatabaseOptions, 'migrationsFolder' | 'nativeBinding'>>(
  async (fastify, options) => {
    let database: OpenedDatabase;
    try {
      database = openDatabase(options.location, {
        migrationsFolder: options.migrationsFolder,
        nativeBinding: options.nativeBinding,
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`Cannot open the database at DATABASE_URL=${options.location}: ${reason}`, { cause: error });
    }
    fastify.decorate('database', database);
    fastify.addHook('onClose', async () => database.close());
  },
  { name: 'database' },
);
