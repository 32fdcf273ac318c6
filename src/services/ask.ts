import type { SearchResult } from '../chatbot/index.js';
import { DomainError } from '../domain/errors.js';
import { toAskResponse, type AskResponse } from '../schemas/chats.js';
import { domainErrorBody, internalErrorBody, type ErrorResponse } from '../schemas/common.js';
import type { Actor } from './access.js';
import type { AskInput, ConversationService, StreamObserver } from './conversation.js';
import type { IdempotencyService, RecordedResponse } from './idempotency.js';

/** One ask as the client sent it, already out of HTTP. */
export interface AskRequest {
  input: AskInput;
  /** The body's `stream` field: when present it decides, whatever the Accept header says. */
  stream: boolean | undefined;
  /** Whether the client's Accept header names text/event-stream. */
  acceptsEventStream: boolean;
  /** The Idempotency-Key and the request body it is bound to (a repeat must send the same body). */
  idempotency?: { key: string; body: unknown };
  /** Fires when the client goes away. Only a plain ask without a key is cancelled by it. */
  signal?: AbortSignal;
}

/** An event of a streaming ask, as the client receives it: the SSE event name and its data. */
export type AskEvent =
  | { event: 'start'; data: { chat_id: string; branch_id: string; qa_pair_id: string; parent_id: string | null } }
  | { event: 'search_results'; data: { search_results: SearchResult[] } }
  | { event: 'token'; data: { text: string } }
  | { event: 'done'; data: AskResponse }
  | { event: 'error'; data: ErrorResponse };

/** Where a streaming ask's events go, in order (for the route: Server-Sent Events). */
export interface AskEventSink {
  /** Must not throw: a client that went away does not stop the ask. */
  send(event: AskEvent): void;
  /** The ask failed after its stream had started: its error event follows. For the log. */
  failed(error: unknown): void;
  /** Resolves once every event sent is written, or the client has gone. */
  flush(): Promise<void>;
}

/**
 * Opens the stream of events; `replayed` says its one event repeats a recorded answer.
 * Called only once the ask is known to stream, and at most once.
 */
export type OpenAskStream = (replayed: boolean) => AskEventSink;

/** How an ask ended for the client. */
export type AskOutcome =
  /** One JSON body to send with this status. */
  | {
      kind: 'json';
      statusCode: number;
      body: AskResponse | ErrorResponse;
      /** The body repeats a recorded answer to the same Idempotency-Key. */
      replayed: boolean;
      retryAfterSeconds?: number;
    }
  /** Everything went to the stream opened with `OpenAskStream`. */
  | { kind: 'streamed' };

// A recorded response comes back from the idempotency store as parsed JSON. This service
// recorded it: an ask answer for 200, an error body otherwise.
const recordedBody = (response: RecordedResponse) => response.body as AskResponse | ErrorResponse;
const recordedEvent = (response: RecordedResponse): AskEvent =>
  response.statusCode === 200
    ? { event: 'done', data: response.body as AskResponse }
    : { event: 'error', data: response.body as ErrorResponse };

/**
 * The decisions around an ask that are not the conversation's own: JSON or a stream, the
 * Idempotency-Key (claim, replay, what is recorded), and a failure after the stream has
 * started, which can only be told as an `error` event. The route translates HTTP to a
 * call and relays the outcome.
 */
export function createAskService(deps: {
  conversation: Pick<ConversationService, 'ask'>;
  idempotency: Pick<IdempotencyService, 'run'>;
}) {
  const { conversation, idempotency } = deps;

  /**
   * Runs a streaming ask into `sink` and returns what it ended with (the `done` or `error`
   * data), for a replay to repeat. A failure before the question is stored has streamed
   * nothing: it is thrown, for a plain JSON error.
   */
  async function streamInto(actor: Actor, input: AskInput, sink: AskEventSink): Promise<RecordedResponse> {
    let started = false;
    const observer: StreamObserver = {
      onStart({ chatId, branchId, pair }) {
        started = true;
        sink.send({
          event: 'start',
          data: { chat_id: chatId, branch_id: branchId, qa_pair_id: pair.id, parent_id: pair.parentId },
        });
      },
      onEvent(event) {
        if (event.type === 'token') sink.send({ event: 'token', data: { text: event.text } });
        else sink.send({ event: 'search_results', data: { search_results: event.searchResults } });
      },
    };
    let outcome: RecordedResponse;
    try {
      const body = toAskResponse(await conversation.ask(actor, input, { stream: observer }));
      outcome = { statusCode: 200, body };
      sink.send({ event: 'done', data: body });
    } catch (error) {
      if (!started) throw error;
      sink.failed(error);
      // After start the conversation fails only with domain errors; anything else is told
      // as the error handler tells an unexpected failure.
      const body = error instanceof DomainError ? domainErrorBody(error) : internalErrorBody();
      outcome = { statusCode: body.statusCode, body };
      sink.send({ event: 'error', data: body });
    }
    await sink.flush();
    return outcome;
  }

  /**
   * Runs a plain ask for its Idempotency-Key. A failure stored on its pair is an answer like
   * any other, recorded for a retry to get the same pair; any other failure is thrown, which
   * releases the key, so a retry runs again.
   */
  async function recordedAsk(actor: Actor, input: AskInput): Promise<RecordedResponse> {
    try {
      return { statusCode: 200, body: toAskResponse(await conversation.ask(actor, input)) };
    } catch (error) {
      if (!(error instanceof DomainError) || error.extra.qaPairId === undefined) throw error;
      const { retryAfterSeconds } = error.extra;
      return {
        statusCode: error.statusCode,
        body: domainErrorBody(error),
        ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
      };
    }
  }

  return {
    /**
     * Answers one ask, as JSON or as a stream of events. Errors found before anything was
     * streamed (validation, ownership, a reused or running key, an ask refused before its
     * question was stored) are thrown.
     */
    async respond(actor: Actor, request: AskRequest, openStream: OpenAskStream): Promise<AskOutcome> {
      const { input } = request;
      const streaming = request.stream ?? request.acceptsEventStream;

      if (request.idempotency === undefined) {
        if (streaming) {
          // A stream ignores the client leaving: its answer is completed and stored.
          await streamInto(actor, input, openStream(false));
          return { kind: 'streamed' };
        }
        const body = toAskResponse(await conversation.ask(actor, input, { signal: request.signal }));
        return { kind: 'json', statusCode: 200, body, replayed: false };
      }

      // With a key the ask runs to the end even if the client goes away (no signal), so
      // that its retry with the same key finds the answer instead of a cancellation.
      const claim = { userId: input.userId, key: request.idempotency.key, body: request.idempotency.body };
      if (!streaming) {
        const { response, replayed } = await idempotency.run(actor, claim, () => recordedAsk(actor, input));
        return {
          kind: 'json',
          statusCode: response.statusCode,
          body: recordedBody(response),
          replayed,
          ...(response.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: response.retryAfterSeconds }),
        };
      }
      const { response, replayed } = await idempotency.run(actor, claim, () =>
        streamInto(actor, input, openStream(false)),
      );
      if (replayed) {
        // The first request streamed it all; a repeat gets how it ended, as one event.
        const sink = openStream(true);
        sink.send(recordedEvent(response));
        await sink.flush();
      }
      return { kind: 'streamed' };
    },
  };
}

export type AskService = ReturnType<typeof createAskService>;
