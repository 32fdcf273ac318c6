import fp from 'fastify-plugin';
import { createStorage, type Storage } from '../repositories/index.js';
import { createServices, type ServiceOptions, type Services } from '../services/index.js';

export interface ServicesOptions extends ServiceOptions {
  /** Heartbeat and recovery timing of instances sharing a PostgreSQL database. */
  instances?: { heartbeatMs: number; staleAfterMs: number };
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
    /** The stores behind the services, for the lifecycle plugin's liveness. */
    storage: Storage;
  }
}

/** Builds the storage of the open database and the services over it, once, for the route plugins. */
export default fp<ServicesOptions>(
  async (fastify, options) => {
    const storage = await createStorage(fastify.database, {
      ...options.instances,
      onLockLost: (chatId, err) =>
        fastify.log.warn({ err, chatId }, "a chat lock's connection failed during an ask: the lock was released early"),
    });
    fastify.decorate('storage', storage);
    fastify.decorate(
      'services',
      createServices(
        storage,
        {
          chatbot: fastify.chatbot,
          telemetry: fastify.telemetry,
          onBackgroundError: (err) => fastify.log.warn({ err }, 'live events: a background read or write failed'),
        },
        options,
      ),
    );
  },
  { name: 'services', dependencies: ['database', 'chatbot', 'metrics'] },
);
