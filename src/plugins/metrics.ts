import type { FastifyReply, FastifyRequest } from 'fastify';
import fastifyMetricsModule from 'fastify-metrics';
import fp from 'fastify-plugin';
import client from 'prom-client';
import { DomainError } from '../domain/errors.js';
import { keysMatch } from '../services/access.js';
import type { Telemetry } from '../services/telemetry.js';

declare module 'fastify' {
  interface FastifyInstance {
    telemetry: Telemetry;
  }
}

/**
 * Prometheus metrics at /metrics (fastify-metrics: request duration by route and status,
 * plus Node's defaults) and the service's own: upstream calls by provider and outcome,
 * retries, pairs answered and failed, streams in flight. With `token` set, /metrics needs
 * `Authorization: Bearer <token>`.
 */
export default fp<{ token: string | undefined }>(
  async (fastify, options) => {
    const requireToken = async (request: FastifyRequest, _reply: FastifyReply) => {
      const presented = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
      if (options.token !== undefined && (presented === undefined || !keysMatch(presented, options.token))) {
        throw new DomainError(
          'UNAUTHORIZED',
          401,
          'The metrics token is required: send "Authorization: Bearer <token>"',
        );
      }
    };
    // A CommonJS module whose plugin is its `default` export.
    await fastify.register(fastifyMetricsModule.default, {
      // One app per process in production; tests build several, each starting clean.
      clearRegisterOnInit: true,
      endpoint: {
        url: '/metrics',
        method: 'GET',
        logLevel: 'warn',
        onRequest: requireToken,
        schema: { hide: true },
        handler: () => undefined,
      },
      routeMetrics: { enabled: true, routeBlacklist: ['/metrics', '/health', '/ready'] },
    });

    const upstreamSeconds = new client.Histogram({
      name: 'chat_upstream_call_duration_seconds',
      help: 'Upstream chatbot calls by provider and outcome',
      labelNames: ['provider', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    });
    const retries = new client.Counter({
      name: 'chat_upstream_retries_total',
      help: 'Upstream attempts retried, by provider and reason',
      labelNames: ['provider', 'reason'],
    });
    const pairs = new client.Counter({
      name: 'chat_qa_pairs_total',
      help: 'Question/answer pairs that reached a final status',
      labelNames: ['status'],
    });
    const streams = new client.Gauge({ name: 'chat_streams_in_flight', help: 'Streamed answers running now' });
    const viewReads = new client.Counter({
      name: 'chat_view_reads_total',
      help: 'Reads of chat views and chat lists: answered 304 (not_modified), from the view cache, or built',
      labelNames: ['view', 'outcome'],
    });
    const viewCacheBytes = new client.Gauge({
      name: 'chat_view_cache_bytes',
      help: 'Bytes of rendered views held by the view cache (bounded by VIEW_CACHE_MB)',
    });

    fastify.decorate('telemetry', {
      upstreamCall: (provider, outcome, seconds) => upstreamSeconds.observe({ provider, outcome }, seconds),
      upstreamRetry: (provider, reason) => retries.inc({ provider, reason }),
      pairStored: (status) => pairs.inc({ status }),
      streamsInFlight: (delta) => streams.inc(delta),
      viewRead: (view, outcome, cacheBytes) => {
        viewReads.inc({ view, outcome });
        viewCacheBytes.set(cacheBytes);
      },
    } satisfies Telemetry);
  },
  { name: 'metrics' },
);
