import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { actorOf } from '../plugins/auth.js';
import { logFailure, toErrorReply } from '../plugins/errors.js';
import { AskBody, AskResponse } from '../schemas/chats.js';
import { errorResponses } from '../schemas/common.js';
import type { AskEventSink } from '../services/ask.js';
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
export function sseSink(reply: FastifyReply, replayed: boolean): AskEventSink {
  if (replayed) reply.header('idempotent-replayed', 'true');
  let queue: Promise<void> = Promise.resolve();
  // @fastify/sse waits for 'drain' under backpressure, which never comes once the client
  // is gone: the connection closing also ends the wait.
  const closed = new Promise<void>((resolve) => reply.raw.once('close', resolve));
  return {
    send({ event, data }) {
      queue = queue
        .then(() => reply.sse.send({ event, data }))
        .catch(() => {
          // The client went away: the ask goes on and stores its answer regardless.
        });
    },
    failed: (error) => logFailure(reply.log, error, toErrorReply(error), 'streaming ask failed'),
    flush: () => Promise.race([queue, closed]),
  };
}

const ASK_ERROR_STATUSES = [400, 401, 403, 404, 409, 415, 422, 429, 499, 500, 502, 503, 504] as const;
const isAskErrorStatus = (status: number): status is (typeof ASK_ERROR_STATUSES)[number] =>
  (ASK_ERROR_STATUSES as readonly number[]).includes(status);

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
      const idempotencyKey = request.headers['idempotency-key'];
      const outcome = await fastify.services.ask.respond(
        actorOf(request),
        {
          input: {
            userId,
            question,
            ...(chatId === undefined ? {} : { chatId }),
            ...(parentId === undefined ? {} : { parentId }),
          },
          stream,
          acceptsEventStream: (request.headers.accept ?? '').includes('text/event-stream'),
          ...(typeof idempotencyKey === 'string' ? { idempotency: { key: idempotencyKey, body: request.body } } : {}),
          signal: clientDisconnectSignal(reply),
        },
        (replayed) => sseSink(reply, replayed),
      );
      // Returning nothing (not `reply`, which is thenable) lets @fastify/sse end the stream.
      if (outcome.kind === 'streamed') return;
      if (outcome.replayed) reply.header('idempotent-replayed', 'true');
      if (outcome.retryAfterSeconds !== undefined) reply.header('retry-after', String(outcome.retryAfterSeconds));
      // Every body the service answers with is an ask answer or an error of this route.
      const status = outcome.statusCode === 200 || isAskErrorStatus(outcome.statusCode) ? outcome.statusCode : 500;
      return reply.code(status).send(outcome.body);
    },
  );
};

export default askRoutes;
