import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { unauthorized } from '../domain/errors.js';
import { actorOf } from '../plugins/auth.js';
import { logFailure, toErrorReply } from '../plugins/errors.js';
import { PairParams } from '../schemas/branches.js';
import { UserParams } from '../schemas/chats.js';
import { errorResponses } from '../schemas/common.js';
import { EVENTS_DESCRIPTION, EventStreamHeaders, EventStreamQuery, EventTicket } from '../schemas/events.js';
import type { ListenerSink, LiveEvent } from '../services/event-hub.js';
import { STREAM_EVENTS_DESCRIPTION, sseSink } from './ask.js';
import { clientDisconnectSignal } from './client-signal.js';

/** WebSocket close codes: 1012 is the standard "service restart"; 4008 is ours. */
export const CLOSE_CODES = { shutdown: 1012, slow_consumer: 4008, error: 1011 } as const;

const EVENT_STREAM = { 'text/event-stream': { schema: Type.String({ description: 'Server-Sent Events' }) } };

/** Frames that carry the id a client resumes from (a token carries none: it is not kept). */
const carriesId = (event: LiveEvent) => event.retained || event.type === 'resync' || event.type === 'ready';

/**
 * A user's live events (SSE or WebSocket), the tickets that open them from a browser, and
 * reattaching to an answer still being written.
 */
export interface EventRoutesOptions {
  /** How often an idle WebSocket is pinged (and dropped when the previous ping got no pong). */
  heartbeatMs: number;
}

const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (fastify, options) => {
  const { events } = fastify.services;

  /** A key in the Authorization header, or a ticket in the URL (single use, for browsers). */
  async function keyOrTicket(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { ticket } = request.query as { ticket?: unknown };
    if (typeof ticket !== 'string') return fastify.requireActor(request, reply);
    const actor = await events.redeemTicket(ticket);
    if (!actor) {
      await fastify.limitFailedAuthentication(request, reply);
      throw unauthorized();
    }
    request.actor = actor;
  }

  fastify.post(
    '/v1/users/:user_id/events/tickets',
    {
      onRequest: fastify.requireActor,
      schema: {
        tags: ['events'],
        operationId: 'createEventTicket',
        summary: 'Get a single-use ticket that opens the event stream without a key (valid 60 s)',
        description:
          'Browsers cannot set an Authorization header on a WebSocket (nor on an EventSource): send the ticket as ' +
          '?ticket= instead. It works once, within a minute, and is never logged.',
        params: UserParams,
        response: { 201: EventTicket, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { ticket, expiresAt } = await events.createTicket(actorOf(request), request.params.user_id);
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({ ticket, expires_at: expiresAt.toISOString() });
    },
  );

  fastify.route({
    method: 'GET',
    url: '/v1/users/:user_id/events',
    onRequest: keyOrTicket,
    // Before any upgrade: a refused WebSocket gets the HTTP error, like SSE.
    preHandler: async (request) => events.assertCanListen(actorOf(request), request.params.user_id),
    sse: { kind: 'only' },
    schema: {
      tags: ['events'],
      operationId: 'streamUserEvents',
      summary: "Stream the user's events (SSE, or WebSocket with an upgrade)",
      description: EVENTS_DESCRIPTION,
      params: UserParams,
      querystring: EventStreamQuery,
      headers: EventStreamHeaders,
      response: {
        200: { description: 'Server-Sent Events until the client leaves', content: EVENT_STREAM },
        ...errorResponses(400, 401, 403, 404, 406, 429, 503),
      },
    },
    // Server-Sent Events.
    handler: async (request, reply) => {
      const lastEventId = request.headers['last-event-id'];
      const after = lastEventId === undefined ? request.query.after : Number(lastEventId);
      const raw = reply.raw;
      // Frames go straight to the response, never waiting for 'drain' (the hub bounds what a
      // connection may queue): @fastify/sse's send would add a drain listener per frame.
      const sink: ListenerSink = {
        write(event) {
          if (raw.writableEnded || raw.destroyed) return;
          reply.sse.sendHeaders();
          raw.write(`${carriesId(event) ? `id: ${event.id}\n` : ''}event: ${event.type}\ndata: ${event.json}\n\n`);
        },
        bufferedBytes: () => raw.writableLength,
        // A client too slow to read is cut off (ending would wait for it to read what is
        // queued); at shutdown the response just ends.
        close: (reason) => (reason === 'slow_consumer' ? raw.destroy() : raw.end()),
      };
      // Listened for before the stream is opened: a client that leaves meanwhile is let go too.
      const left = new Promise<void>((resolve) => raw.once('close', resolve));
      const detach = await events.listen(actorOf(request), request.params.user_id, after, sink);
      void left.then(detach);
      reply.sse.keepAlive();
    },
    // WebSocket: the same events as JSON text frames.
    wsHandler: async (socket: WebSocket, request) => {
      const { after } = request.query;
      const sink: ListenerSink = {
        write(event) {
          if (socket.readyState === socket.OPEN) socket.send(event.bytes, { binary: false });
        },
        bufferedBytes: () => socket.bufferedAmount,
        close: (reason) => socket.close(CLOSE_CODES[reason], reason),
      };
      let alive = true;
      socket.on('pong', () => {
        alive = true;
      });
      const heartbeat = setInterval(() => {
        // No pong since the last ping: the peer (or a proxy) is gone.
        if (!alive) socket.terminate();
        alive = false;
        socket.ping();
      }, options.heartbeatMs);
      heartbeat.unref();
      let detach: (() => void) | undefined;
      socket.once('close', () => {
        clearInterval(heartbeat);
        detach?.();
      });
      try {
        detach = await events.listen(actorOf(request), request.params.user_id, after, sink);
        if (socket.readyState !== socket.OPEN) detach();
      } catch (error) {
        const failure = toErrorReply(error);
        if (failure.body.statusCode >= 500) logFailure(request.log, error, failure, 'could not open an event stream');
        // 4000 + the HTTP status: 4429 too many streams, 4403 not yours, 4404 no such user.
        socket.close(4000 + failure.body.statusCode, failure.body.code);
      }
    },
  });

  fastify.get(
    '/v1/users/:user_id/chats/:chat_id/qa_pairs/:qa_pair_id/stream',
    {
      onRequest: fastify.requireActor,
      sse: { kind: 'only' },
      schema: {
        tags: ['events'],
        operationId: 'reattachToPair',
        summary: 'Follow an answer being written, from any instance (SSE)',
        description:
          'For a pair still being answered: `start`, the text so far as one `token`, then every later token and ' +
          '`done` (or `error`), as its ask stream ends; for a final pair, its `done` (or `error`) at once. The ' +
          'tokens add up to the stored answer.\n' +
          STREAM_EVENTS_DESCRIPTION,
        params: PairParams,
        response: {
          200: { description: 'Server-Sent Events until the answer is stored', content: EVENT_STREAM },
          ...errorResponses(400, 401, 403, 404, 406),
        },
      },
    },
    async (request, reply) => {
      const { user_id: userId, chat_id: chatId, qa_pair_id: pairId } = request.params;
      const sink = sseSink(reply, false);
      await events.reattach(actorOf(request), { userId, chatId, pairId }, sink.send, clientDisconnectSignal(reply));
      await sink.flush();
    },
  );
};

export default eventRoutes;
