import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ChatbotError, type ChatbotErrorKind, type ChatbotProvider, type ConversationTurn } from '../chatbot/index.js';
import type { QaPairRow } from '../db/schema.js';
import { DomainError, badRequest, chatNotFound, qaPairNotFound } from '../errors.js';
import type { AskPlacement, ChatRepository } from '../repositories/chats.js';
import type { AccessService, Actor } from './access.js';
import type { KeyedLock } from './keyed-lock.js';
import { QUESTION_MAX_LENGTH, requireText, titleFromQuestion } from './text.js';

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

/** How each upstream failure is reported to the client and stored on the failed pair. */
const UPSTREAM_FAILURES: Record<ChatbotErrorKind, { code: string; status: number; message: string }> = {
  auth: {
    code: 'UPSTREAM_AUTH',
    status: 502,
    message: "The chatbot rejected this service's API key: the service is misconfigured, tell its operator",
  },
  rate_limited: {
    code: 'UPSTREAM_RATE_LIMITED',
    status: 503,
    message: 'The chatbot is rate limiting this service; try again later',
  },
  upstream_error: { code: 'UPSTREAM_ERROR', status: 502, message: 'The chatbot failed to answer' },
  bad_response: { code: 'UPSTREAM_BAD_RESPONSE', status: 502, message: 'The chatbot sent an answer that cannot be used' },
  timeout: { code: 'UPSTREAM_TIMEOUT', status: 504, message: 'The chatbot did not answer in time' },
  unreachable: { code: 'UPSTREAM_UNREACHABLE', status: 502, message: 'The chatbot could not be reached' },
  cancelled: {
    code: 'CLIENT_CLOSED_REQUEST',
    status: 499,
    message: 'The client closed the connection before the answer arrived',
  },
};

export function createConversationService(deps: {
  chats: ChatRepository;
  access: AccessService;
  chatbot: ChatbotProvider;
  chatLock: KeyedLock;
  historyMaxTurns: number;
}) {
  const { chats, access, chatbot, chatLock } = deps;

  /**
   * Stores the question as a `pending` pair, calls the chatbot outside any transaction,
   * then stores the outcome. A failure is stored on the pair (never lost) and thrown as a
   * `DomainError` carrying the pair's id. Runs under the chat's lock.
   */
  async function answer(
    input: { chatId: string; userId: string; question: string; placement: AskPlacement; newChatTitle?: string },
    signal: AbortSignal | undefined,
  ): Promise<AskResult> {
    const { pair, history, branchId } = await chats.beginAsk({
      chatId: input.chatId,
      userId: input.userId,
      ...(input.newChatTitle === undefined ? {} : { newChat: { title: input.newChatTitle, mainBranchId: randomUUID() } }),
      placement: input.placement,
      newBranchId: randomUUID(),
      pairId: randomUUID(),
      question: input.question,
      provider: chatbot.name,
      historyLimit: deps.historyMaxTurns,
      now: new Date(),
    });
    const turns: ConversationTurn[] = history.flatMap((turn) =>
      turn.answer === null ? [] : [{ question: turn.question, answer: turn.answer }],
    );

    const startedAt = performance.now();
    const elapsed = () => Math.round(performance.now() - startedAt);
    let completed: QaPairRow | undefined;
    try {
      const reply = await chatbot.ask({ history: turns, question: input.question, ...(signal ? { signal } : {}) });
      completed = await chats.completePair(pair.id, {
        status: 'answered',
        answer: reply.answer,
        searchResults: reply.searchResults,
        latencyMs: elapsed(),
        answeredAt: new Date(),
      });
    } catch (error) {
      const failure = describeFailure(error, pair.id);
      await chats.completePair(pair.id, {
        status: 'failed',
        errorCode: failure.code,
        errorMessage: failure.message,
        latencyMs: elapsed(),
        answeredAt: new Date(),
      });
      throw failure;
    }
    // The chat was deleted while the chatbot was answering: the answer has nowhere to go.
    if (!completed) throw chatNotFound();
    return { chatId: input.chatId, branchId, pair: completed };
  }

  /** The pair, if it belongs to `chatId`; a pair of any other chat is a 404 like a missing one. */
  async function pairOfChat(chatId: string, pairId: string): Promise<QaPairRow> {
    const pair = await chats.findPair(pairId);
    if (!pair || pair.chatId !== chatId) throw qaPairNotFound();
    return pair;
  }

  return {
    /**
     * Asks the chatbot a question in a chat, with the history of the branch it goes on.
     * Asks on one chat run one at a time, in arrival order, so each one sees the previous
     * answer in its history; asks on different chats run in parallel.
     */
    async ask(actor: Actor, input: AskInput, signal?: AbortSignal): Promise<AskResult> {
      const question = requireText('question', input.question, QUESTION_MAX_LENGTH);
      await access.assertActsFor(actor, input.userId);
      if (input.chatId === undefined && typeof input.parentId === 'string') {
        throw badRequest('VALIDATION_ERROR', 'parent_id names a pair of an existing chat: send its chat_id too');
      }
      const chatId = input.chatId ?? randomUUID();

      return chatLock.run(chatId, async () => {
        const existing = input.chatId === undefined ? undefined : await chats.findById(chatId);
        if (existing && existing.userId !== input.userId) throw chatNotFound();
        if (typeof input.parentId === 'string') {
          if (!existing) throw qaPairNotFound();
          await pairOfChat(chatId, input.parentId);
        }
        const placement: AskPlacement =
          input.parentId === undefined
            ? { kind: 'active' }
            : { kind: 'after', parentId: input.parentId, newBranch: 'if-needed' };
        return answer(
          {
            chatId,
            userId: input.userId,
            question,
            placement,
            ...(existing ? {} : { newChatTitle: titleFromQuestion(question) }),
          },
          signal,
        );
      });
    },

    /**
     * Asks a pair's question again with the same history; the new answer becomes a sibling
     * of the old one on a new, active branch.
     */
    async regenerate(actor: Actor, input: RegenerateInput, signal?: AbortSignal): Promise<AskResult> {
      await access.assertActsFor(actor, input.userId);
      return chatLock.run(input.chatId, async () => {
        const chat = await chats.findById(input.chatId);
        if (!chat || chat.userId !== input.userId) throw chatNotFound();
        const original = await pairOfChat(chat.id, input.pairId);
        return answer(
          {
            chatId: chat.id,
            userId: input.userId,
            question: original.question,
            placement: { kind: 'after', parentId: original.parentId, newBranch: 'always' },
          },
          signal,
        );
      });
    },
  };
}

/** Turns whatever the upstream call threw into the client-facing error stored on the pair. */
function describeFailure(error: unknown, qaPairId: string): DomainError {
  if (error instanceof ChatbotError) {
    const failure = UPSTREAM_FAILURES[error.kind];
    const { upstreamStatus, retryAfterSeconds } = error.details;
    const message = upstreamStatus === undefined ? failure.message : `${failure.message} (upstream HTTP ${upstreamStatus})`;
    return new DomainError(failure.code, failure.status, message, {
      qaPairId,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    });
  }
  const internal = new DomainError('INTERNAL_ERROR', 500, 'The answer could not be produced because of an internal error', {
    qaPairId,
  });
  internal.cause = error;
  return internal;
}

export type ConversationService = ReturnType<typeof createConversationService>;
