import { createHash } from 'node:crypto';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError } from '../errors.js';

export interface SecurityOptions {
  /** Requests per window per API key (per IP without one); 0 turns rate limiting off. */
  rateLimitMax: number;
  rateLimitWindowMs: number;
  /** Origins allowed to call from a browser; empty: CORS stays off. */
  corsOrigins: string[];
}

/** Rate limits count per key: a hash of the bearer token, never the token itself. */
function rateLimitKey(request: FastifyRequest): string {
  const authorization = request.headers.authorization;
  if (authorization) return `key:${createHash('sha256').update(authorization).digest('hex').slice(0, 32)}`;
  return `ip:${request.ip}`;
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
    }
  },
  { name: 'security' },
);
