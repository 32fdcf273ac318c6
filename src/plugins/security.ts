import { createHash } from 'node:crypto';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError, badRequest } from '../domain/errors.js';
import { bearerToken } from './auth.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Counts a failed authentication against the client's address; past the rate limit it
     * throws the 429 instead. A no-op when rate limiting is off.
     */
    limitFailedAuthentication: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
}

export interface SecurityOptions {
  /** Requests per window per API key (per IP without one); 0 turns rate limiting off. */
  rateLimitMax: number;
  rateLimitWindowMs: number;
  /** Origins allowed to call from a browser; empty: CORS stays off. */
  corsOrigins: string[];
}

/**
 * Rate limits count per authenticated key: a hash of the token as authentication read it
 * (so `bearer K`, `BEARER  K` and `Bearer<TAB>K` are one key), never the token itself.
 * The limit runs after the route's authentication hook; a request without an
 * authenticated key counts for its client address.
 */
function rateLimitKey(request: FastifyRequest): string {
  const token = request.actor ? bearerToken(request.headers.authorization) : undefined;
  if (token !== undefined) return `key:${createHash('sha256').update(token).digest('hex').slice(0, 32)}`;
  return `ip:${request.ip}`;
}

/** How many `Authorization` headers the client sent (Node keeps only the first in `headers`). */
function authorizationHeaders(request: FastifyRequest): number {
  const raw = request.raw.rawHeaders;
  let count = 0;
  for (let index = 0; index < raw.length; index += 2) {
    if (raw[index]?.toLowerCase() === 'authorization') count += 1;
  }
  return count;
}

/**
 * HTTP hardening: security headers (helmet), CORS when origins are configured, and a
 * per-key rate limit answered in the usual error shape with Retry-After.
 */
export default fp<SecurityOptions>(
  async (fastify, options) => {
    // A JSON API: no page to protect with a content security policy, and the explorer at
    // /docs needs inline scripts. Every other helmet header applies.
    await fastify.register(helmet, { contentSecurityPolicy: false });
    // Two keys in one request are ambiguous (Node would silently keep the first): refused.
    fastify.addHook('onRequest', async (request) => {
      if (authorizationHeaders(request) > 1) {
        throw badRequest('DUPLICATE_AUTHORIZATION', 'Send one Authorization header, not several');
      }
    });
    if (options.corsOrigins.length > 0) {
      await fastify.register(cors, {
        origin: options.corsOrigins,
        methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
        allowedHeaders: ['authorization', 'content-type', 'accept', 'idempotency-key'],
        exposedHeaders: ['x-request-id', 'retry-after'],
      });
    }
    if (options.rateLimitMax > 0) {
      await fastify.register(rateLimit, {
        max: options.rateLimitMax,
        timeWindow: options.rateLimitWindowMs,
        keyGenerator: rateLimitKey,
        // Probes and scrapes are not users.
        allowList: (request) => ['/health', '/ready', '/metrics'].includes(request.url.split('?')[0] ?? ''),
        errorResponseBuilder: (_request, context) =>
          new DomainError('RATE_LIMITED', 429, `Too many requests: at most ${context.max} per ${context.after}`, {
            retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
          }),
      });
      // Refused keys never reach the limit above (authentication runs first and stops
      // them), so they get their own count, per client address.
      const failedAuthentications = fastify.rateLimit({ keyGenerator: (request) => `auth-failed:${request.ip}` });
      fastify.decorate('limitFailedAuthentication', async function (request: FastifyRequest, reply: FastifyReply) {
        await failedAuthentications.call(this, request, reply);
      });
    } else {
      fastify.decorate('limitFailedAuthentication', async () => undefined);
    }
  },
  { name: 'security' },
);
