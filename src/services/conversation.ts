import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ChatbotError, type ChatbotErrorKind, type ChatbotProvider, type ConversationTurn } from '../chatbot/index.js';
import type { QaPairRow } from '../db/schema.js';
import { DomainError, chatNotFound } from '../errors.js';
import type { ChatRepository } from '../repositories/chats.js';
import type { AccessService, Actor } from './access.js';
import type { KeyedLock } from './keyed-lock.js';
import { QUESTION_MAX_LENGTH, requireText, titleFromQuestion } from './text.js';

export interface AskInput {
  userId: string;
  /** An existing chat of the user, or a new id the client chose; omitted to start a chat. */
  chatId?: string;
  question: string;
}

export interface AskResult {
  chatId: string;
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

  return {
    /**
     * Asks the chatbot a question in a chat, with the chat's answered history.
     *
     * The question is stored as a `pending` pair before the upstream call and the outcome
     * after it, in two short transactions; a failure is stored on the pair (never lost) and
     * thrown as a `DomainError` carrying the pair's id. Asks on one chat run one at a time,
     * in arrival order, so each one sees the previous answer in its history.
     */
    async ask(actor: Actor, input: AskInput, signal?: AbortSignal): Promise<AskResult> {
      const question = requireText('question', input.question, QUESTION_MAX_LENGTH);
      await access.assertActsFor(actor, input.userId);
      const chatId = input.chatId ?? randomUUID();

      return chatLock.run(chatId, async () => {
        const existing = input.chatId === undefined ? undefined : await chats.findById(chatId);
        if (existing && existing.userId !== input.userId) throw chatNotFound();

        const { pair, history } = await chats.beginAsk({
          chatId,
          userId: input.userId,
          ...(existing ? {} : { newChatTitle: titleFromQuestion(question) }),
          pairId: randomUUID(),
          question,
          provider: chatbot.name,
          historyLimit: deps.historyMaxTurns,
          now: new Date(),
        });
        const turns: ConversationTurn[] = history.flatMap((turn) =>
          turn.answer === null ? [] : [{ question: turn.question, answer: turn.answer }],
        );

        const startedAt = performance.now();
        const elapsed = () => Math.round(performance.now() - startedAt);
        try {
          const answer = await chatbot.ask({ history: turns, question, ...(signal ? { signal } : {}) });
          const answered = await chats.completePair(pair.id, {
            status: 'answered',
            answer: answer.answer,
            searchResults: answer.searchResults,
            latencyMs: elapsed(),
            answeredAt: new Date(),
          });
          return { chatId, pair: answered };
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
