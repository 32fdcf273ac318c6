import { randomUUID } from 'node:crypto';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Options as AjvOptions } from 'ajv';
import { fastifySSE } from '@fastify/sse';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyServerOptions } from 'fastify';
import pinoPretty from 'pino-pretty';
import type { ChatbotProvider } from './chatbot/index.js';
import type { AppConfig } from './config.js';
import type { RuntimeFiles } from './embedded.js';
import authPlugin from './plugins/auth.js';
import chatbotPlugin from './plugins/chatbot.js';
import databasePlugin from './plugins/database.js';
import lifecyclePlugin from './plugins/lifecycle.js';
import searchIndexerPlugin from './plugins/search-indexer.js';
import eventLogPlugin from './plugins/event-log.js';
import webhookDeliveryPlugin from './plugins/webhook-delivery.js';
import errorsPlugin, { clientErrorHandler, frameworkErrorHandler, MAX_PARAM_LENGTH } from './plugins/errors.js';
import metricsPlugin from './plugins/metrics.js';
import requestLogPlugin from './plugins/request-log.js';
import securityPlugin from './plugins/security.js';
import servicesPlugin from './plugins/services.js';
import swaggerPlugin from './plugins/swagger.js';
import webPlugin from './plugins/web.js';
import askRoutes from './routes/ask.js';
import branchRoutes from './routes/branches.js';
import chatRoutes from './routes/chats.js';
import healthRoutes from './routes/health.js';
import portabilityRoutes from './routes/portability.js';
import eventRoutes from './routes/events.js';
import webhookRoutes from './routes/webhooks.js';
import searchRoutes from './routes/search.js';
import serverRoutes from './routes/server.js';
import userRoutes from './routes/users.js';
import { ErrorResponse } from './schemas/common.js';
import { createAjv } from './validation.js';

export interface BuildAppOptions {
  config: AppConfig;
  /** Replaces the configured chatbot provider (tests). */
  chatbot?: ChatbotProvider;
  logger?: FastifyServerOptions['logger'];
  /** Where migrations, the SQLite addon, the explorer's and the web client's files are (the single executable's copies). */
  files?: RuntimeFiles | undefined;
  /** The built web client's folder, instead of dist/web (tests). */
  webDir?: string;
}

/** Largest request body accepted (a question is at most 16,000 characters). */
const BODY_LIMIT_BYTES = 256 * 1024;

/**
 * Bodies are validated strictly (no type coercion: `"question": 42` is an error, not "42");
 * params and query strings arrive as text, so they are coerced. Unknown fields are
 * rejected everywhere rather than silently dropped.
 */
function createValidators() {
  const common: AjvOptions = { removeAdditional: false, useDefaults: true, allErrors: false };
  const strict = createAjv({ ...common, coerceTypes: false });
  const coercing = createAjv({ ...common, coerceTypes: true });
  return { body: strict, params: coercing, querystring: coercing, headers: coercing };
}

/**
 * Fastify's own serializer compiler (fast-json-stringify), but one serializer per schema
 * object. Every route answers its errors with the one shared ErrorResponse reference and
 * every GET has a HEAD twin, so the default compiled the same few schemas again and again
 * at start-up (194 compilations of 21 schemas: tens of milliseconds and megabytes). A
 * compiler is built per set of shared schemas, so the cache never mixes two sets.
 */
function serializerPerSchema(): SerializerSelector.SerializerFactory {
  const buildCompiler = SerializerSelector();
  return (externalSchemas, options) => {
    const compile = buildCompiler(externalSchemas, options);
    const compiled = new WeakMap<object, SerializerSelector.Serializer>();
    return (route) => {
      const { schema } = route;
      if (typeof schema !== 'object' || schema === null) return compile(route);
      let serializer = compiled.get(schema);
      if (!serializer) {
        serializer = compile(route);
        compiled.set(schema, serializer);
      }
      return serializer;
    };
  };
}

/**
 * Lines for a person at a terminal: time, level, message (which says it all) and the
 * request id; the fields a request line repeats as JSON are left out. Written synchronously,
 * so nothing is lost when close-with-grace exits the process.
 */
function prettyStream(destination: NodeJS.WritableStream | undefined) {
  return pinoPretty({
    ...(destination ? { destination } : {}),
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,reqId,request',
    messageFormat: '{msg}{if reqId} [{reqId}]{end}',
    sync: true,
  });
}

/**
 * Pino options: the level from config, and credentials redacted should a header ever be
 * logged. JSON, one object per line, unless `pretty` (stdout is a terminal); to stdout
 * unless `destination`.
 */
export function loggerOptions(
  level: string,
  options: { pretty?: boolean | undefined; /** Instead of stdout (tests). */ destination?: NodeJS.WritableStream } = {},
) {
  return {
    level,
    redact: {
      // Headers logged at the top level or one object down (req, upstream, ...).
      paths: ['headers.authorization', 'headers["x-api-key"]', '*.headers.authorization', '*.headers["x-api-key"]'],
      censor: '[redacted]',
    },
    ...(options.pretty
      ? { stream: prettyStream(options.destination) }
      : options.destination
        ? { stream: options.destination }
        : {}),
  };
}

/**
 * Node's HTTP server options for REQUEST_TIMEOUT_MS: a request (headers and body) must
 * arrive within it, or it is answered 408 and its connection closed (clientErrorHandler).
 * The headers' own limit must not exceed it: Node swaps the two if it does, and a stalled
 * body would then be cut only after the headers' 60 s. Connections are checked often enough
 * for the limit to hold within a second.
 */
function requestTimeouts(requestTimeoutMs: number) {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(60_000, requestTimeoutMs),
    connectionsCheckingInterval: Math.min(1000, Math.floor(requestTimeoutMs / 2)),
  };
}

/** Builds the whole app, ready for `inject` or `listen`; it never listens by itself. */
export async function buildApp(options: BuildAppOptions) {
  const { config } = options;
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config.logLevel),
    bodyLimit: BODY_LIMIT_BYTES,
    // Fastify's default is no limit at all: a stalled upload would hold its connection forever.
    requestTimeout: config.requestTimeoutMs,
    http: requestTimeouts(config.requestTimeoutMs),
    // Idle keep-alive connections close at once on shutdown; those with a response in flight
    // finish it (the lifecycle plugin drains asks and streams, and cuts uploads still arriving).
    forceCloseConnections: 'idle',
    genReqId: () => randomUUID(),
    // Fastify's two lines per request off: the request-log plugin writes one instead.
    logController: new LogController({ disableRequestLogging: true }),
    // What the router and the HTTP parser refuse is answered in the one error shape too.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    schemaController: { compilersFactory: { buildSerializer: serializerPerSchema() } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const validators = createValidators();
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const ajv = validators[(httpPart ?? 'body') as keyof typeof validators] ?? validators.body;
    return ajv.compile(schema);
  });
  // JSON only: anything else (text/plain included, which Fastify parses by default) is a 415.
  app.removeContentTypeParser('text/plain');
  app.addSchema(ErrorResponse);
  // Set up front so that streamed (SSE) responses carry it too.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(errorsPlugin);
  await app.register(requestLogPlugin);
  await app.register(securityPlugin, {
    rateLimitMax: config.rateLimit.max,
    rateLimitWindowMs: config.rateLimit.windowMs,
    corsOrigins: config.corsOrigins,
  });
  await app.register(metricsPlugin, { token: config.metricsToken });
  // Heartbeats keep idle streams open through proxies (ask streams and event streams alike).
  await app.register(fastifySSE, { heartbeatInterval: config.events.heartbeatMs });
  // Clients only listen on a WebSocket: a frame of theirs is never more than a few bytes.
  // Every WebSocket is an event stream: the event-log plugin closes them at shutdown, with
  // 1012 (service restart) once running asks are drained, instead of the plugin's code-less close.
  await app.register(fastifyWebsocket, { options: { maxPayload: 4096 }, preClose: async () => undefined });
  await app.register(swaggerPlugin, { staticDir: options.files?.swaggerUiDir });
  await app.register(databasePlugin, {
    config: config.database,
    migrationsFolder: options.files?.migrationsFolder,
    pgMigrationsFolder: options.files?.pgMigrationsFolder,
    nativeBinding: options.files?.nativeBinding,
  });
  await app.register(chatbotPlugin, {
    config: config.chatbot,
    ...(options.chatbot ? { provider: options.chatbot } : {}),
  });
  await app.register(servicesPlugin, {
    adminApiKey: config.adminApiKey,
    allowSignup: config.allowSignup,
    historyMaxTurns: config.historyMaxTurns,
    viewCacheBytes: config.viewCacheBytes,
    events: config.events,
    webhooks: { allowPrivate: config.webhooks.allowPrivate },
    idempotencyTtlHours: config.idempotencyTtlHours,
    ...(config.database.engine === 'pg'
      ? { instances: { heartbeatMs: config.database.heartbeatMs, staleAfterMs: config.database.staleAfterMs } }
      : {}),
  });
  await app.register(lifecyclePlugin, { shutdownGraceMs: config.shutdownGraceMs });
  await app.register(searchIndexerPlugin);
  await app.register(eventLogPlugin);
  await app.register(webhookDeliveryPlugin, { pollMs: config.webhooks.pollMs });
  await app.register(authPlugin);

  await app.register(healthRoutes);
  await app.register(serverRoutes, { allowSignup: config.allowSignup });
  await app.register(userRoutes);
  await app.register(chatRoutes);
  await app.register(askRoutes);
  await app.register(branchRoutes);
  await app.register(searchRoutes);
  await app.register(portabilityRoutes);
  await app.register(eventRoutes, { heartbeatMs: config.events.heartbeatMs });
  await app.register(webhookRoutes);
  await app.register(webPlugin, { dir: options.webDir ?? options.files?.webDir });

  await app.ready();
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
