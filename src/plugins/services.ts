import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createRepositories, type Repositories } from '../repositories/index.js';
import { createAccessService } from '../services/access.js';
import { createAskService } from '../services/ask.js';
import { createBranchService } from '../services/branches.js';
import { createChatService } from '../services/chats.js';
import { createConversationService } from '../services/conversation.js';
import { createIdempotencyService } from '../services/idempotency.js';
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
  /** Heartbeat and recovery timing of instances sharing a PostgreSQL database. */
  instances?: { heartbeatMs: number; staleAfterMs: number };
}

/**
 * The services that need only the database: the HTTP app's, and the command line's
 * (create-user, import, export), which must not start a chatbot client or recover
 * unfinished asks under a server that may be running.
 */
export function createStorageServices(
  repositories: Pick<Repositories, 'users' | 'chats'>,
  options: Pick<ServicesOptions, 'adminApiKey' | 'allowSignup'>,
) {
  const { users, chats } = repositories;
  const access = createAccessService({ users, adminApiKey: options.adminApiKey });
  return {
    repositories: { users, chats },
    access,
    users: createUserService({ users, allowSignup: options.allowSignup }),
    chats: createChatService({ chats, access }),
    portability: createPortabilityService({ chats, access }),
  };
}

function createServices(fastify: FastifyInstance, repositories: Repositories, options: ServicesOptions) {
  const storage = createStorageServices(repositories, options);
  const { access } = storage;
  // One lock for everything that must not interleave with an ask on the same chat.
  const { chats, chatLock } = repositories;
  const services = {
    ...storage,
    branches: createBranchService({ chats, access, chatLock }),
    search: createSearchService({ search: repositories.search, chats, access }),
    idempotency: createIdempotencyService({
      keys: repositories.idempotency,
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
  return { ...services, ask: createAskService(services) };
}

export type Services = ReturnType<typeof createServices>;

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
    /** Set once closing has begun: /ready then answers 503. */
    lifecycle: { shuttingDown: boolean };
  }
}

const INTERRUPTED_MESSAGE = 'The server stopped before the answer was stored';

/**
 * Builds repositories and services once and exposes them to route plugins. On start-up it
 * fails the pairs left unfinished by a stopped process: on SQLite (one process) all of
 * them; on PostgreSQL only those of instances whose heartbeat expired, which it then also
 * sweeps for on every heartbeat of its own.
 */
export default fp<ServicesOptions>(
  async (fastify, options) => {
    const repositories = createRepositories(fastify.database, options.instances, {
      onLockLost: (chatId, err) =>
        fastify.log.warn({ err, chatId }, "a chat lock's connection failed during an ask: the lock was released early"),
    });
    const { liveness } = repositories;
    const services = createServices(fastify, repositories, options);
    fastify.decorate('services', services);
    fastify.decorate('lifecycle', { shuttingDown: false });

    await liveness.beat();
    const recovered = await liveness.failOrphans('INTERRUPTED', INTERRUPTED_MESSAGE, new Date());
    if (recovered > 0)
      fastify.log.warn({ count: recovered }, 'marked pairs left unfinished by a stopped instance as failed');

    let beating: Promise<void> = Promise.resolve();
    const timer =
      liveness.heartbeatMs === undefined
        ? undefined
        : setInterval(() => {
            beating = (async () => {
              await liveness.beat();
              const failed = await liveness.failOrphans('INTERRUPTED', INTERRUPTED_MESSAGE, new Date());
              if (failed > 0) fastify.log.warn({ count: failed }, 'marked pairs of a stopped instance as failed');
            })().catch((err: unknown) => fastify.log.warn({ err }, 'instance heartbeat failed'));
          }, liveness.heartbeatMs);
    timer?.unref();

    // Before the server stops: let running asks and streams finish within the grace period,
    // then store the rest as failed (INTERRUPTED) with whatever text they had.
    fastify.addHook('preClose', async () => {
      fastify.lifecycle.shuttingDown = true;
      const running = services.conversation.inFlight;
      if (running > 0) fastify.log.info({ running, graceMs: options.shutdownGraceMs }, 'waiting for running asks');
      await services.conversation.drain(options.shutdownGraceMs);
      clearInterval(timer);
      await beating;
      await liveness.leave().catch((err: unknown) => fastify.log.warn({ err }, 'could not deregister this instance'));
    });
  },
  { name: 'services', dependencies: ['database', 'chatbot', 'metrics'] },
);
