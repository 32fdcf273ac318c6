import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Conditional } from '../services/views.js';

/**
 * preValidation hook for routes whose body fields are all optional: a request without a
 * body means "all defaults" and is validated as `{}`, while a body that is sent (even
 * `null`) is still checked.
 */
export async function defaultToEmptyBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined) request.body = {};
}

/**
 * Sets a conditional read's validators on the reply: the ETag, and `private, no-cache` (the
 * view is the user's; any cache must revalidate it, which costs one indexed read). A current
 * If-None-Match makes the reply a 304, which the route then sends without a body.
 */
export function applyValidators(reply: FastifyReply, result: Conditional<unknown>): void {
  void reply.header('etag', result.etag).header('cache-control', 'private, no-cache');
  if (result.notModified) void reply.code(304);
}

/** Sends the 304 of a conditional read: no body at all (not even `null`). */
export function sendNotModified(reply: FastifyReply): FastifyReply {
  return reply.send();
}

/** The If-None-Match header of a request, if it sent one. */
export const ifNoneMatchOf = (request: FastifyRequest): string | undefined => request.headers['if-none-match'];

/**
 * Sends a view that is already JSON (a rendered chat or tree, whose fragments were serialised
 * once when their pairs were answered): Fastify sends a string with a JSON type as it is.
 */
export function sendJsonText(reply: FastifyReply, json: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}
