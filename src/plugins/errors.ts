import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError } from '../domain/errors.js';
import { logRequestLine, recordSocketAnswer } from './request-log.js';
import { domainErrorBody, errorBody, internalErrorBody, reasonPhrase, type ErrorResponse } from '../schemas/common.js';

declare module 'fastify' {
  interface FastifyReply {
    /** Our `code` when this reply is an error, for the request's log line (see request-log.ts). */
    errorCode: string | null;
  }
}

/** The longest path parameter the router takes (ids are 36-character UUIDs); longer is a 414. */
export const MAX_PARAM_LENGTH = 100;

/**
 * Stable codes (and, where Fastify's own message does not say what to do, a message) for
 * every 4xx Fastify itself can send a client (node_modules/fastify/lib/errors.js): no
 * FST_ERR_* code ever reaches a client. FST_ERR_VALIDATION is VALIDATION_ERROR (below).
 */
const FRAMEWORK_ERRORS: Record<string, { code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'Unsupported Media Type: send the body as JSON, with the header "Content-Type: application/json"',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'BAD_REQUEST' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'INVALID_JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'INVALID_JSON' },
  FST_ERR_BAD_URL: {
    code: 'INVALID_URL',
    message: 'The URL is not valid: a "%" must start a percent-encoded byte, such as %20 for a space',
  },
  FST_ERR_MAX_PARAM_LENGTH: {
    code: 'URI_TOO_LONG',
    message: `A path parameter is over ${MAX_PARAM_LENGTH} characters: ids are lower-case UUIDs`,
  },
  FST_ERR_NOT_FOUND: { code: 'NOT_FOUND' },
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: { code: 'BAD_REQUEST' },
  FST_ERR_ROUTE_MISSING_CONTENT: { code: 'BAD_REQUEST' },
};

const CODES_BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && 'code' in error;
}

export interface ErrorReply {
  body: ErrorResponse;
  retryAfterSeconds?: number;
  /** How loudly to log it: unexpected errors in full, upstream failures as warnings. */
  log: 'error' | 'warn' | 'none';
}

/** What a log line needs to say about why something failed (never a key: errors carry none). */
export function describeCause(cause: unknown, depth = 0): Record<string, unknown> | undefined {
  if (cause === undefined || cause === null) return undefined;
  if (!(cause instanceof Error)) return { value: String(cause) };
  const fields: Record<string, unknown> = { type: cause.name, message: cause.message };
  for (const key of ['kind', 'code', 'details'] as const) {
    if (key in cause) fields[key] = (cause as unknown as Record<string, unknown>)[key];
  }
  if (depth < 3) {
    const inner = describeCause(cause.cause, depth + 1);
    if (inner) fields.cause = inner;
  }
  return fields;
}

/** Logs a failed request at the level its reply asks for. */
export function logFailure(log: FastifyBaseLogger, error: unknown, reply: ErrorReply, message: string): void {
  if (reply.log === 'error') log.error({ err: error }, message);
  else if (reply.log === 'warn')
    log.warn(
      {
        code: reply.body.code,
        reason: reply.body.message,
        cause: describeCause(error instanceof Error ? error.cause : undefined),
      },
      message,
    );
}

type ValidationIssue = NonNullable<FastifyError['validation']>[number];

/** ajv's message, except where it does not say what to change: an unknown field is named. */
function issueMessage(issue: ValidationIssue): string {
  const field: unknown = issue.keyword === 'additionalProperties' ? issue.params.additionalProperty : undefined;
  if (typeof field === 'string') return `has an unknown field "${field}": remove it (unknown fields are refused)`;
  return issue.message ?? 'is invalid';
}

/**
 * The one error shape for anything thrown while handling a request. Domain errors keep
 * their code and message; request validation becomes VALIDATION_ERROR with the rejected
 * fields; any other 5xx gets a generic message so no internals leak. Streaming routes use
 * it for their `error` event too.
 */
export function toErrorReply(error: unknown): ErrorReply {
  if (error instanceof DomainError) {
    return {
      body: domainErrorBody(error),
      ...(error.extra.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.extra.retryAfterSeconds }),
      log: error.statusCode >= 500 ? 'warn' : 'none',
    };
  }
  if (isFastifyError(error) && error.validation) {
    const details = error.validation.map((issue) => ({
      path: `${error.validationContext ?? 'request'}${issue.instancePath}`,
      message: issueMessage(issue),
    }));
    const message = details.map((detail) => `${detail.path} ${detail.message}`).join(', ');
    return { body: errorBody(400, 'VALIDATION_ERROR', message, { details }), log: 'none' };
  }
  const status = isFastifyError(error) && error.statusCode !== undefined ? error.statusCode : 500;
  if (status < 500) {
    const known = isFastifyError(error) ? FRAMEWORK_ERRORS[error.code] : undefined;
    const code = known?.code ?? CODES_BY_STATUS[status] ?? 'BAD_REQUEST';
    const message = known?.message ?? (error instanceof Error ? error.message : reasonPhrase(status));
    return { body: errorBody(status, code, message), log: 'none' };
  }
  return { body: internalErrorBody(), log: 'error' };
}

/**
 * Fastify's `frameworkErrors` option: what the router refuses before any route or hook runs
 * (a malformed percent-encoding, a path parameter over MAX_PARAM_LENGTH).
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const result = toErrorReply(error);
  logFailure(request.log, error, result, 'request failed');
  reply.errorCode = result.body.code;
  reply.code(result.body.statusCode).header('x-request-id', request.id).send(result.body);
  logRequestLine(request, reply);
  return reply;
}

/** What the HTTP parser refuses (no request exists yet), by Node's error code. */
function clientErrorBody(error: Error & { code?: string }): ErrorResponse {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return errorBody(408, 'REQUEST_TIMEOUT', 'The request was not received in time');
    case 'HPE_HEADER_OVERFLOW':
      return errorBody(431, 'HEADERS_TOO_LARGE', 'The request line and headers are too large: at most 16 KiB together');
    default: {
      // llhttp's messages are fixed texts ("Parse Error: Transfer-Encoding can't be present
      // with Content-Length"): they say what is wrong and carry nothing of the server.
      const detail = error.code?.startsWith('HPE_') ? error.message.replace(/^Parse Error: /, '') : '';
      return errorBody(400, 'MALFORMED_REQUEST', `The request is not valid HTTP/1.1${detail ? `: ${detail}` : ''}`);
    }
  }
}

/**
 * Fastify's `clientErrorHandler` option: the HTTP parser's errors, and Node's timeouts of a
 * request that did not arrive within REQUEST_TIMEOUT_MS, which arrive on the bare socket. The answer is written by hand, in the one error shape, and the connection closed
 * (its stream can no longer be trusted to be at a request boundary).
 */
export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const payload = clientErrorBody(error);
  this.log.debug({ code: error.code, status: payload.statusCode }, 'client error');
  // A response already under way (a reply sent before the body came in full) cannot be
  // followed by another: the connection is only closed. Node's own handler checks the same.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  recordSocketAnswer(socket, payload.statusCode, payload.code);
  const json = JSON.stringify(payload);
  socket.end(
    `HTTP/1.1 ${payload.statusCode} ${payload.error}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(json)}\r\n` +
      'Connection: close\r\n\r\n' +
      json,
    () => socket.destroy(),
  );
}

/** Every failure, and every unknown route, answered in the one error shape. */
export default fp(
  async (fastify) => {
    fastify.decorateReply('errorCode', null);

    fastify.setErrorHandler((error: unknown, request, reply) => {
      const result = toErrorReply(error);
      logFailure(request.log, error, result, result.log === 'error' ? 'unexpected error' : 'request failed');
      reply.errorCode = result.body.code;
      if (result.retryAfterSeconds !== undefined) reply.header('retry-after', String(result.retryAfterSeconds));
      return reply.code(result.body.statusCode).send(result.body);
    });

    fastify.setNotFoundHandler((request, reply) => {
      reply.errorCode = 'NOT_FOUND';
      return reply
        .code(404)
        .send(errorBody(404, 'NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0]} not found`));
    });
  },
  { name: 'error-handler' },
);
