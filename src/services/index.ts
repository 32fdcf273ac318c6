import type { ChatbotProvider } from '../chatbot/index.js';
import type { Storage } from '../repositories/contract.js';
import { createAccessService } from './access.js';
import { createAskService } from './ask.js';
import { createBranchService } from './branches.js';
import { createChatService } from './chats.js';
import { createContextService } from './context.js';
import { createConversationService } from './conversation.js';
import { createEventHub } from './event-hub.js';
import { createEventService } from './events.js';
import { createIdempotencyService } from './idempotency.js';
import { createAnswerRelay, createLiveAnswers } from './live-answers.js';
import { createPortabilityService } from './portability.js';
import { createSearchService } from './search.js';
import type { Telemetry } from './telemetry.js';
import { createUserService } from './users.js';
import { createViewCache } from './view-cache.js';
import { createViewService } from './views.js';
import { createWebhookService } from './webhooks.js';

export interface ServiceOptions {
  adminApiKey: string | undefined;
  allowSignup: boolean;
  historyMaxTurns: number;
  /** How long an Idempotency-Key is remembered. */
  idempotencyTtlHours: number;
  /** The view cache's bound in bytes; 0 keeps no views. */
  viewCacheBytes: number;
  events: {
    maxStreamsPerUser: number;
    maxBufferedBytes: number;
    progressMs: number;
    /** How long a stream ticket is valid. */
    ticketTtlMs?: number;
    /** The clock tickets expire by (tests move it). */
    now?: () => Date;
  };
  webhooks: { allowPrivate: boolean };
}

/** The stores the command line needs: no chat lock, no liveness (a server may be running beside it). */
export type StorageServiceStores = Pick<Storage, 'users' | 'chats' | 'pairs' | 'branches' | 'transfer'>;

/**
 * The services that need only the database: the HTTP app's, and the command line's
 * (create-user, import, export), which must not start a chatbot client or recover
 * unfinished asks under a server that may be running.
 */
export function createStorageServices(
  stores: StorageServiceStores,
  options: Pick<ServiceOptions, 'adminApiKey' | 'allowSignup'>,
) {
  const access = createAccessService({ users: stores.users, adminApiKey: options.adminApiKey });
  return {
    access,
    users: createUserService({ users: stores.users, allowSignup: options.allowSignup }),
    chats: createChatService({ stores, access }),
    portability: createPortabilityService({ stores, access }),
  };
}

export type StorageServices = ReturnType<typeof createStorageServices>;

/** Every service of the HTTP app, over one storage and one chatbot. */
export function createServices(
  storage: Storage,
  deps: { chatbot: ChatbotProvider; telemetry?: Telemetry; onBackgroundError?: (error: unknown) => void },
  options: ServiceOptions,
) {
  const base = createStorageServices(storage, options);
  const { access } = base;
  // One lock for everything that must not interleave with an ask on the same chat.
  const { chatLock } = storage;
  const branches = createBranchService({ stores: storage, access, chatLock });
  const onError = deps.onBackgroundError ?? (() => undefined);
  const answers = createLiveAnswers({ pairs: storage.pairs, progressMs: options.events.progressMs, onError });
  const hub = createEventHub({
    events: storage.events,
    pairs: storage.pairs,
    options: {
      maxBufferedBytes: options.events.maxBufferedBytes,
      maxListenersPerUser: options.events.maxStreamsPerUser,
    },
    onError,
  });
  const context = createContextService({
    stores: storage,
    access,
    chatbot: deps.chatbot,
    historyMaxTurns: options.historyMaxTurns,
  });
  const services = {
    ...base,
    branches,
    context,
    views: createViewService({
      stores: storage,
      access,
      chats: base.chats,
      branches,
      context,
      portability: base.portability,
      cache: createViewCache(options.viewCacheBytes),
      ...(deps.telemetry ? { telemetry: deps.telemetry } : {}),
    }),
    search: createSearchService({ stores: storage, access }),
    hub,
    webhooks: createWebhookService({ webhooks: storage.webhooks, access, options: options.webhooks }),
    events: createEventService({
      stores: storage,
      access,
      hub,
      answers,
      options: {
        ticketTtlMs: options.events.ticketTtlMs ?? 60_000,
        ...(options.events.now ? { now: options.events.now } : {}),
      },
    }),
    idempotency: createIdempotencyService({
      keys: storage.idempotency,
      access,
      ttlMs: options.idempotencyTtlHours * 3_600_000,
    }),
    conversation: createConversationService({
      stores: storage,
      access,
      chatbot: deps.chatbot,
      chatLock,
      historyMaxTurns: options.historyMaxTurns,
      ...(deps.telemetry ? { telemetry: deps.telemetry } : {}),
      relay: createAnswerRelay({ answers, hub, events: storage.events, onError }),
    }),
  };
  // Idempotency and streaming around the conversation: what POST /search decides.
  return { ...services, ask: createAskService(services) };
}

export type Services = ReturnType<typeof createServices>;
