import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { actorOf } from '../plugins/auth.js';
import { logFailure, toErrorReply } from '../plugins/errors.js';
import { AskBody, AskResponse } from '../schemas/chats.js';
import { toQaPair } from '../schemas/pairs.js';
import { errorResponses } from '../schemas/common.js';
import type { AskResult, StreamObserver } from '../services/conversation.js';
import type { RecordedResponse } from '../services/idempotency.js';
import { DomainError } from '../domain/errors.js';
import type { ErrorResponse } from '../schemas/common.js';
import { clientDisconnectSignal } from './client-signal.js';

export const STREAM_EVENTS_DESCRIPTION = `
**Streaming.** With \`"stream": true\` in the body, or \`Accept: text/event-stream\`, the answer comes as
Server-Sent Events (errors found before the question is stored are still plain JSON errors):

| event | data |
| --- | --- |
| \`start\` | \`{chat_id, branch_id, qa_pair_id, parent_id}\`: the question is stored, with status \`streaming\` |
| \`search_results\` | \`{search_results: [{url, name, snippet}]}\`, when the chatbot sends them (before its tokens) |
| \`token\` | \`{text}\`: the next piece of the answer, as the chatbot writes it |
| \`done\` | \`{chat_id, branch_id, qa_pair}\`: the stored pair, as the JSON answer would give it |
| \`error\` | the error body (\`{statusCode, code, error, message, qa_pair_id}\`), codes as for the JSON answer |

A client that disconnects does not stop the answer: it is completed and stored, and GET of the chat shows it.`;

/** Relays a streaming ask as SSE events, in order, never letting a gone client break the ask. */
function sseObserver(reply: FastifyReply) {
  let queue: Promise<void> = Promise.resolve();
  // @fastify/sse waits for 'drain' under backpressure, which never comes once the client
  // is gone: the connection closing also ends the wait.
  const closed = new Promise<void>((resolve) => reply.raw.once('close', resolve));
  const push = (event: string, data: unknown) => {
    queue = queue
      .then(() => reply.sse.send({ event, data }))
      .catch(() => {
        // The client went away: the ask goes on and stores its answer regardless.
      });
  };
  const observer = {
    started: false,
    onStart({ chatId, branchId, pair }: Parameters<StreamObserver['onStart']>[0]) {
      observer.started = true;
      push('start', { chat_id: chatId, branch_id: branchId, qa_pair_id: pair.id, parent_id: pair.parentId });
    },
    onEvent(event: Parameters<StreamObserver['onEvent']>[0]) {
      if (event.type === 'token') push('token', { text: event.text });
      else push('search_results', { search_results: event.searchResults });
    },
    push,
    /** Resolves once every event is written, or the client has gone. */
    flush: () => Promise.race([queue, closed]),
  };
  return observer;
}

const ASK_ERROR_STATUSES = [400, 401, 403, 404, 409, 415, 422, 429, 499, 500, 502, 503, 504] as const;
const isAskErrorStatus = (status: number): status is (typeof ASK_ERROR_STATUSES)[number] =>
  (ASK_ERROR_STATUSES as readonly number[]).includes(status);

const toAskResponse = (result: AskResult) => ({
  chat_id: result.chatId,
  branch_id: result.branchId,
  qa_pair: toQaPair(result.pair),
});

const askRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post(
    '/search',
    {
      onRequest: fastify.requireActor,
      // The handler decides per request whether to answer as JSON or as SSE.
      sse: { kind: 'manual' },
      schema: {
        tags: ['ask'],
        operationId: 'ask',
        summary: 'Ask a question in a chat; the chatbot receives the chat history',
        description:
          'Without chat_id a new chat is started, titled after the question. A chat_id the user does not have yet ' +
          'creates that chat with that id. The question goes on the active branch unless parent_id says otherwise, ' +
          'and the chatbot receives exactly the path from the first question to its parent. ' +
          'The question is stored before the chatbot is called: when the chatbot ' +
          'fails, the error response carries qa_pair_id and the chat shows the pair with status "failed".\n' +
          STREAM_EVENTS_DESCRIPTION,
        body: AskBody,
        headers: Type.Object({
          'idempotency-key': Type.Optional(
            Type.String({
              description:
                'Makes the ask safe to retry: the same key and body within 24 hours return the first response ' +
                '(header Idempotent-Replayed: true) without asking the chatbot again',
            }),
          ),
        }),
        response: {
          200: AskResponse,
          ...errorResponses(...ASK_ERROR_STATUSES),
        },
      },
    },
    async (request, reply) => {
      const { user_id: userId, chat_id: chatId, parent_id: parentId, question, stream } = request.body;
      const input = {
        userId,
        question,
        ...(chatId === undefined ? {} : { chatId }),
        ...(parentId === undefined ? {} : { parentId }),
      };
      const actor = actorOf(request);
      const wantsStream = stream ?? (request.headers.accept ?? '').includes('text/event-stream');
      const conversation = fastify.services.conversation;
      const idempotencyKey = request.headers['idempotency-key'];

      if (typeof idempotencyKey !== 'string') {
        if (!wantsStream) {
          return toAskResponse(await conversation.ask(actor, input, { signal: clientDisconnectSignal(reply) }));
        }
        await streamAsk(reply, (observer) => conversation.ask(actor, input, { stream: observer }));
        // Returning nothing (not `reply`, which is thenable) lets @fastify/sse end the stream.
        return;
      }

      // With an Idempotency-Key the ask is completed even if the client goes away, so that
      // its retry with the same key finds the answer instead of a cancellation.
      if (!wantsStream) {
        const { response, replayed } = await fastify.services.idempotency.run(
          actor,
          { userId, key: idempotencyKey, body: request.body },
          async () => recorded(() => conversation.ask(actor, input)),
        );
        if (replayed) reply.header('idempotent-replayed', 'true');
        if (response.retryAfterSeconds !== undefined) reply.header('retry-after', String(response.retryAfterSeconds));
        // A recorded response is one this route produced: an ask answer or an error body.
        const status = response.statusCode === 200 || isAskErrorStatus(response.statusCode) ? response.statusCode : 500;
        return reply.code(status).send(response.body as Static<typeof AskResponse> | ErrorResponse);
      }
      let streamed = false;
      const { response, replayed } = await fastify.services.idempotency.run(
        actor,
        { userId, key: idempotencyKey, body: request.body },
        async () => {
          streamed = true;
          return streamAsk(reply, (observer) => conversation.ask(actor, input, { stream: observer }));
        },
      );
      if (replayed || !streamed) {
        reply.header('idempotent-replayed', 'true');
        await reply.sse.send({ event: response.statusCode === 200 ? 'done' : 'error', data: response.body });
      }
    },
  );

  /**
   * Runs a streaming ask, relaying it as SSE events, and returns what it ended with (the
   * `done` or `error` payload). A failure before the question is stored is thrown, to be
   * answered as a plain JSON error.
   */
  async function streamAsk(
    reply: FastifyReply,
    run: (observer: StreamObserver) => Promise<AskResult>,
  ): Promise<RecordedResponse> {
    const observer = sseObserver(reply);
    let outcome: RecordedResponse;
    try {
      const result = await run(observer);
      outcome = { statusCode: 200, body: toAskResponse(result) };
      observer.push('done', outcome.body);
    } catch (error) {
      if (!observer.started) throw error;
      const failure = toErrorReply(error);
      logFailure(reply.log, error, failure, 'streaming ask failed');
      outcome = { statusCode: failure.body.statusCode, body: failure.body };
      observer.push('error', failure.body);
    }
    await observer.flush();
    return outcome;
  }

  /** Runs an ask and turns a stored failure (an error with its qa_pair_id) into a response to record. */
  async function recorded(run: () => Promise<AskResult>): Promise<RecordedResponse> {
    try {
      return { statusCode: 200, body: toAskResponse(await run()) };
    } catch (error) {
      if (!(error instanceof DomainError) || error.extra.qaPairId === undefined) throw error;
      const failure = toErrorReply(error);
      return {
        statusCode: failure.body.statusCode,
        body: failure.body,
        ...(failure.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: failure.retryAfterSeconds }),
      };
    }
  }
};

export default askRoutes;
