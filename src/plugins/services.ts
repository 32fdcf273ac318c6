import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { SqliteDb } from '../db/client.js';
import { createChatRepository } from '../repositories/chats.js';
import { createIdempotencyRepository } from '../repositories/idempotency.js';
import { createSearchRepository } from '../repositories/search.js';
import { createUserRepository } from '../repositories/users.js';
import { createAccessService } from '../services/access.js';
import { createBranchService } from '../services/branches.js';
import { createChatService } from '../services/chats.js';
import { createConversationService } from '../services/conversation.js';
import { createIdempotencyService } from '../services/idempotency.js';
import { createKeyedLock } from '../services/keyed-lock.js';
import { createPortabilityService } from '../services/portability.js';
import { createSearchService } from '../services/search.js';
import { createUserService } from '../services/users.js';

export interface ServicesOptions {
  adminApiKey: string | undefined;
  allowSignup: boolean;
  historyMaxTurns: number;
  /** How long closing waits for running asks and streams before storing them as interrupted. */
  shutdownGraceMs: number;
  /** How long an Idempotency-Key is remembered. */
  idempotencyTtlHours: number;
}

/**
 * The services that need only the database: the HTTP app's, and the command line's
 * (create-user, import, export), which must not start a chatbot client or recover
 * unfinished asks under a server that may be running.
 */
export function createStorageServices(db: SqliteDb, options: Pick<ServicesOptions, 'adminApiKey' | 'allowSignup'>) {
  const users = createUserRepository(db);
  const chats = createChatRepository(db);
  const access = createAccessService({ users, adminApiKey: options.adminApiKey });
  return {
    repositories: { users, chats },
    access,
    users: createUserService({ users, allowSignup: options.allowSignup }),
    chats: createChatService({ chats, access }),
    portability: createPortabilityService({ chats, access }),
  };
}

function createServices(fastify: FastifyInstance, options: ServicesOptions) {
  const { db } = fastify.database;
  const storage = createStorageServices(db, options);
  const { chats } = storage.repositories;
  const { access } = storage;
  // One lock for everything that must not interleave with an ask on the same chat.
  const chatLock = createKeyedLock();
  return {
    ...storage,
    branches: createBranchService({ chats, access, chatLock }),
    search: createSearchService({ search: createSearchRepository(db), chats, access }),
    idempotency: createIdempotencyService({
      keys: createIdempotencyRepository(db),
      access,
      ttlMs: options.idempotencyTtlHours * 3_600_000,
    }),
    conversation: createConversationService({
      chats,
      access,
      chatbot: fastify.chatbot,
      chatLock,
      historyMaxTurns: options.historyMaxTurns,
      telemetry: fastify.telemetry,
    }),
  };
}

export type Services = ReturnType<typeof createServices>;

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
    /** Set once closing has begun: /ready then answers 503. */
    lifecycle: { shuttingDown: boolean };
  }
}

/**
 * Builds repositories and services once and exposes them to route plugins. On start-up it
 * fails the pairs a previous process left unfinished: in one process nothing else can
 * still be answering them.
 */
export default fp<ServicesOptions>(
  async (fastify, options) => {
    const services = createServices(fastify, options);
    fastify.decorate('services', services);
    fastify.decorate('lifecycle', { shuttingDown: false });
    // Before the server stops: let running asks and streams finish within the grace period,
    // then store the rest as failed (INTERRUPTED) with whatever text they had.
    fastify.addHook('preClose', async () => {
      fastify.lifecycle.shuttingDown = true;
      const running = services.conversation.inFlight;
      if (running > 0) fastify.log.info({ running, graceMs: options.shutdownGraceMs }, 'waiting for running asks');
      await services.conversation.drain(options.shutdownGraceMs);
    });
    const recovered = await services.repositories.chats.failUnfinishedPairs(
      'INTERRUPTED',
      'The server stopped before the answer was stored',
      new Date(),
    );
    if (recovered > 0)
      fastify.log.warn({ count: recovered }, 'marked pairs left unfinished by a previous run as failed');
  },
  { name: 'services', dependencies: ['database', 'chatbot', 'metrics'] },
);
