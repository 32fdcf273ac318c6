import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { ChatbotError, type ChatbotProvider, type ChatbotStreamEvent, type SearchResult } from '../chatbot/index.js';
import type { AskPlacement } from '../domain/asks.js';
import { DomainError, badRequest, chatNotFound, qaPairNotFound, tooManyBranches } from '../domain/errors.js';
import { MAX_QUEUED_ASKS_PER_CHAT, QUESTION_MAX_LENGTH } from '../domain/limits.js';
import { requireText, storable, storableDeep, titleFromQuestion } from '../domain/text.js';
import type { ChatRow, QaPairRow } from '../domain/types.js';
import type { ChatLock } from '../repositories/contract.js';
import type { AccessService, Actor } from './access.js';
import { findPairOfChat, type ChatStores } from './chats.js';
import { historyLimitOf, providerSettings, toTurns } from './context.js';
import { noTelemetry, type Telemetry } from './telemetry.js';
import type { AnswerRelay, RelayedAnswer } from './live-answers.js';
import { describeFailure, UPSTREAM_FAILURES } from './upstream-failures.js';

export interface AskInput {
  userId: string;
  /** An existing chat of the user, or a new id the client chose; omitted to start a chat. */
  chatId?: string;
  question: string;
  /**
   * Where the question goes: omitted continues the active branch; a pair of the chat asks
   * after that pair (extending the branch that ends there, or forking a new one); null asks
   * a new first question on a new branch.
   */
  parentId?: string | null;
}

export interface RegenerateInput {
  userId: string;
  chatId: string;
  pairId: string;
}

export interface AskResult {
  chatId: string;
  branchId: string;
  pair: QaPairRow;
}

/** Receives a streaming ask as it happens. */
export interface StreamObserver {
  /** The question is stored (status `streaming`); called before any upstream event. */
  onStart(started: { chatId: string; branchId: string; pair: QaPairRow }): void;
  onEvent(event: ChatbotStreamEvent): void;
}

export interface AskOptions {
  /**
   * Aborts a non-streaming ask when the client goes away. A streaming ask ignores it: its
   * answer is completed and stored even if nobody is listening any more.
   */
  signal?: AbortSignal;
  /** Present for a streaming ask. */
  stream?: StreamObserver;
}

export function createConversationService(deps: {
  stores: ChatStores;
  access: AccessService;
  chatbot: ChatbotProvider;
  chatLock: ChatLock;
  historyMaxTurns: number;
  telemetry?: Telemetry;
  /** Where a streaming answer is told as it happens, beyond its own client (reattach, event listeners). */
  relay?: AnswerRelay;
}) {
  const { stores, access, chatbot, chatLock } = deps;
  const telemetry = deps.telemetry ?? noTelemetry;
  /** Aborted when the server's grace period for running asks is over. */
  const shutdown = new AbortController();
  // Every running ask listens to it: as many listeners as asks in flight is expected.
  setMaxListeners(0, shutdown.signal);
  const running = new Set<Promise<unknown>>();

  const historyLimit = (chat: ChatRow | undefined) => historyLimitOf(chat, deps.historyMaxTurns);

  /**
   * Stores the question, calls the chatbot outside any transaction, then stores the
   * outcome. A failure is stored on the pair (with any text a stream had delivered) and
   * thrown as a `DomainError` carrying the pair's id. Runs under the chat's lock.
   */
  async function answer(
    input: { chatId: string; userId: string; question: string; placement: AskPlacement; chat: ChatRow | undefined },
    options: AskOptions,
  ): Promise<AskResult> {
    if (options.signal?.aborted && !options.stream) {
      // The client left while this ask waited its turn: nothing was stored, nothing is lost.
      throw new DomainError('CLIENT_CLOSED_REQUEST', 499, UPSTREAM_FAILURES.cancelled.message);
    }
    const begun = await stores.pairs.beginAsk({
      chatId: input.chatId,
      userId: input.userId,
      ...(input.chat ? {} : { newChat: { title: titleFromQuestion(input.question), mainBranchId: randomUUID() } }),
      placement: input.placement,
      newBranchId: randomUUID(),
      pairId: randomUUID(),
      question: input.question,
      status: options.stream ? 'streaming' : 'pending',
      provider: chatbot.name,
      historyLimit: historyLimit(input.chat),
      now: new Date(),
    });
    if (begun.status === 'chat_gone') throw chatNotFound();
    if (begun.status === 'too_many_branches') throw tooManyBranches();
    const { pair, history, branchId } = begun;
    const settings = providerSettings(input.chat?.settings ?? {});
    const turns = toTurns(history);
    // One controller per ask, tied to shutdown (and to the client for plain asks) by
    // listeners removed when the ask ends: AbortSignal.any over the long-lived shutdown
    // signal would keep a little memory per ask forever on Node 20.
    const controller = new AbortController();
    const abort = () => controller.abort();
    shutdown.signal.addEventListener('abort', abort, { once: true });
    const clientSignal = options.stream ? undefined : options.signal;
    clientSignal?.addEventListener('abort', abort, { once: true });
    const detach = () => {
      shutdown.signal.removeEventListener('abort', abort);
      clientSignal?.removeEventListener('abort', abort);
    };
    const request = { history: turns, question: input.question, settings, signal: controller.signal };

    let partial = '';
    let searchResults: SearchResult[] = [];
    const startedAt = performance.now();
    const elapsed = () => Math.round(performance.now() - startedAt);
    let completed: QaPairRow | undefined;
    let relayed: RelayedAnswer | undefined;
    try {
      let reply;
      try {
        if (options.stream) {
          const observer = options.stream;
          telemetry.streamsInFlight(1);
          relayed = deps.relay?.({ chatId: input.chatId, branchId, pair });
          observer.onStart({ chatId: input.chatId, branchId, pair });
          reply = await chatbot
            .stream(request, (event) => {
              if (event.type === 'token') {
                partial += event.text;
                relayed?.token(event.text);
              } else {
                searchResults = event.searchResults;
                relayed?.searchResults(event.searchResults);
              }
              observer.onEvent(event);
            })
            .finally(() => telemetry.streamsInFlight(-1));
        } else {
          reply = await chatbot.ask(request);
        }
        telemetry.upstreamCall(chatbot.name, 'ok', elapsed() / 1000);
      } catch (error) {
        telemetry.upstreamCall(chatbot.name, error instanceof ChatbotError ? error.kind : 'internal', elapsed() / 1000);
        throw error;
      } finally {
        detach();
      }
      await relayed?.settle();
      completed = await stores.pairs.complete(pair.id, {
        status: 'answered',
        answer: storable(reply.answer),
        searchResults: storableDeep(reply.searchResults.length > 0 ? reply.searchResults : searchResults),
        latencyMs: elapsed(),
        answeredAt: new Date(),
        model: reply.model,
        upstreamRequestId: reply.upstreamRequestId,
      });
      telemetry.pairStored('answered');
    } catch (error) {
      const failure = describeFailure(error, pair.id, shutdown.signal.aborted);
      await relayed?.settle();
      // Should even this write fail, the client still gets the real error; the pair stays
      // pending and the next start-up marks it failed.
      const failed = await stores.pairs
        .complete(pair.id, {
          status: 'failed',
          errorCode: failure.code,
          errorMessage: failure.message,
          partialAnswer: partial === '' ? null : storable(partial),
          searchResults: storableDeep(searchResults),
          latencyMs: elapsed(),
          answeredAt: new Date(),
          model: settings.model ?? null,
          upstreamRequestId: null,
        })
        .catch(() => undefined);
      telemetry.pairStored('failed');
      relayed?.end(failed ? { kind: 'stored', pair: failed } : { kind: 'error', error: failure });
      throw failure;
    }
    // The chat was deleted while the chatbot was answering: the answer has nowhere to go.
    if (!completed) {
      relayed?.end({ kind: 'error', error: chatNotFound() });
      throw chatNotFound();
    }
    relayed?.end({ kind: 'stored', pair: completed });
    return { chatId: input.chatId, branchId, pair: completed };
  }

  /** Runs an ask in its chat's queue, refusing it when the queue is already long. */
  function inChatQueue<T>(chatId: string, work: () => Promise<T>): Promise<T> {
    if (chatLock.queuedFor(chatId) > MAX_QUEUED_ASKS_PER_CHAT) {
      throw new DomainError(
        'CHAT_BUSY',
        429,
        'Too many questions are waiting in this chat; ask again when they are answered',
        {
          retryAfterSeconds: 5,
        },
      );
    }
    return track(chatLock.run(chatId, work));
  }

  /** Tracks an ask so that shutdown can wait for it. */
  function track<T>(work: Promise<T>): Promise<T> {
    running.add(work);
    const forget = () => running.delete(work);
    work.then(forget, forget);
    return work;
  }

  const pairOfChat = (chatId: string, pairId: string) => findPairOfChat(stores, chatId, pairId);

  async function ownedChat(userId: string, chatId: string): Promise<ChatRow> {
    const chat = await stores.chats.findById(chatId);
    if (!chat || chat.userId !== userId) throw chatNotFound();
    return chat;
  }

  /**
   * The chat an ask names: the user's chat, or undefined for a new id the client chose.
   * Another user's chat, the id of a deleted chat (never used again) and a parent pair that
   * is not in the chat are 404s.
   */
  async function askTarget(
    userId: string,
    chatId: string,
    parentId: string | null | undefined,
  ): Promise<ChatRow | undefined> {
    const chat = await stores.chats.findById(chatId);
    if (chat ? chat.userId !== userId : await stores.chats.wasDeleted(chatId)) throw chatNotFound();
    if (typeof parentId === 'string') {
      if (!chat) throw qaPairNotFound();
      await pairOfChat(chatId, parentId);
    }
    return chat;
  }

  return {
    /**
     * Asks the chatbot a question in a chat, with the history of the branch it goes on.
     * Asks on one chat run one at a time, in arrival order, so each one sees the previous
     * answer in its history; asks on different chats run in parallel.
     */
    async ask(actor: Actor, input: AskInput, options: AskOptions = {}): Promise<AskResult> {
      // Who is asking comes first: another user's key learns nothing from input errors.
      await access.assertActsFor(actor, input.userId);
      const question = requireText('question', input.question, QUESTION_MAX_LENGTH);
      if (input.chatId === undefined && typeof input.parentId === 'string') {
        throw badRequest('VALIDATION_ERROR', 'parent_id names a pair of an existing chat: send its chat_id too');
      }
      const chatId = input.chatId ?? randomUUID();
      const target = (): Promise<ChatRow | undefined> =>
        input.chatId === undefined ? Promise.resolve(undefined) : askTarget(input.userId, chatId, input.parentId);
      // Every check that can reject runs before the ask joins the chat's queue: another
      // user's ask on this chat is a 404 at once, never waits behind its owner's asks nor
      // takes a place in their queue. The checks run again at the ask's turn.
      const before = await target();

      return inChatQueue(chatId, async () => {
        const existing = await target();
        // Deleted while this ask waited: it must not create the chat again.
        if (before && !existing) throw chatNotFound();
        const placement: AskPlacement =
          input.parentId === undefined
            ? { kind: 'active' }
            : { kind: 'after', parentId: input.parentId, newBranch: 'if-needed' };
        return answer({ chatId, userId: input.userId, question, placement, chat: existing }, options);
      });
    },

    /**
     * Asks a pair's question again with the same history; the new answer becomes a sibling
     * of the old one on a new, active branch.
     */
    async regenerate(actor: Actor, input: RegenerateInput, options: AskOptions = {}): Promise<AskResult> {
      await access.assertActsFor(actor, input.userId);
      // Checked before the queue (another user's request never waits in it) and at its turn.
      await pairOfChat((await ownedChat(input.userId, input.chatId)).id, input.pairId);
      return inChatQueue(input.chatId, async () => {
        const chat = await ownedChat(input.userId, input.chatId);
        const original = await pairOfChat(chat.id, input.pairId);
        return answer(
          {
            chatId: chat.id,
            userId: input.userId,
            question: original.question,
            placement: { kind: 'after', parentId: original.parentId, newBranch: 'always' },
            chat,
          },
          options,
        );
      });
    },

    /** Asks still running (streaming or not). */
    get inFlight(): number {
      return running.size;
    },

    /**
     * For shutdown: waits up to `graceMs` for running asks to finish, then cancels the rest,
     * which store what they have as failed with code INTERRUPTED.
     */
    async drain(graceMs: number): Promise<void> {
      if (running.size > 0)
        await Promise.race([Promise.allSettled([...running]), delay(graceMs, undefined, { ref: false })]);
      if (running.size === 0) return;
      shutdown.abort(new Error('server shutting down'));
      await Promise.allSettled([...running]);
    },
  };
}

export type ConversationService = ReturnType<typeof createConversationService>;
