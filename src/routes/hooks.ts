import type { FastifyRequest } from 'fastify';

/**
 * preValidation hook for routes whose body fields are all optional: a request without a
 * body means "all defaults" and is validated as `{}`, while a body that is sent (even
 * `null`) is still checked.
 */
export async function defaultToEmptyBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined) request.body = {};
}
