import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { unauthorized } from '../domain/errors.js';
import type { Actor } from '../services/access.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request, once an auth hook has run; null without a key. */
    actor: Actor | null;
  }
  interface FastifyInstance {
    /** onRequest hook: a valid key is required (401 otherwise). */
    requireActor: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** onRequest hook: a key is optional, but one that is sent must be valid. */
    identifyActor: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The key in an `Authorization: Bearer <key>` header, as authentication reads it (any case, any blanks). */
export function bearerToken(header: string | undefined): string | undefined {
  return header === undefined ? undefined : BEARER.exec(header)?.[1];
}

/** The actor of a request that went through `requireActor`. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw unauthorized();
  return request.actor;
}

/**
 * Bearer-key authentication. It runs as an onRequest hook, so a request without a valid
 * key is rejected before its body is even read.
 */
export default fp(
  async (fastify) => {
    fastify.decorateRequest('actor', null);

    async function resolve(request: FastifyRequest, reply: FastifyReply, required: boolean): Promise<void> {
      const header = request.headers.authorization;
      if (header === undefined && !required) return;
      const key = bearerToken(header);
      const actor = key === undefined ? undefined : await fastify.services.access.authenticate(key);
      if (!actor) {
        // Failures count per client address: a stream of made-up keys reaches 429 too.
        await fastify.limitFailedAuthentication(request, reply);
        throw unauthorized();
      }
      request.actor = actor;
    }

    fastify.decorate('requireActor', (request: FastifyRequest, reply: FastifyReply) => resolve(request, reply, true));
    fastify.decorate('identifyActor', (request: FastifyRequest, reply: FastifyReply) => resolve(request, reply, false));
  },
  { name: 'auth', dependencies: ['services', 'security'] },
);
