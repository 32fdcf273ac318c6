import { STATUS_CODES } from 'node:http';
import type { FastifyBaseLogger, FastifyError } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError } from '../errors.js';
import type { ErrorResponse } from '../schemas/common.js';

/** Stable codes for the errors Fastify itself raises before a handler runs. */
const FRAMEWORK_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
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

const reason = (status: number) => STATUS_CODES[status] ?? (status === 499 ? 'Client Closed Request' : 'Error');

function body(statusCode: number, code: string, message: string, extra: Partial<ErrorResponse> = {}): ErrorResponse {
  return { statusCode, code, error: reason(statusCode), message, ...extra };
}

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

/**
 * The one error shape for anything thrown while handling a request. Domain errors keep
 * their code and message; request validation becomes VALIDATION_ERROR with the rejected
 * fields; any other 5xx gets a generic message so no internals leak. Streaming routes use
 * it for their `error` event too.
 */
export function toErrorReply(error: unknown): ErrorReply {
  if (error instanceof DomainError) {
    return {
      body: body(
        error.statusCode,
        error.code,
        error.message,
        error.extra.qaPairId ? { qa_pair_id: error.extra.qaPairId } : {},
      ),
      ...(error.extra.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.extra.retryAfterSeconds }),
      log: error.statusCode >= 500 ? 'warn' : 'none',
    };
  }
  if (isFastifyError(error) && error.validation) {
    const details = error.validation.map((issue) => ({
      path: `${error.validationContext ?? 'request'}${issue.instancePath}`,
      message: issue.message ?? 'is invalid',
    }));
    return { body: body(400, 'VALIDATION_ERROR', error.message, { details }), log: 'none' };
  }
  const status = isFastifyError(error) && error.statusCode !== undefined ? error.statusCode : 500;
  if (status < 500) {
    const code = (isFastifyError(error) && FRAMEWORK_CODES[error.code]) || CODES_BY_STATUS[status] || 'BAD_REQUEST';
    return { body: body(status, code, error instanceof Error ? error.message : reason(status)), log: 'none' };
  }
  return { body: body(500, 'INTERNAL_ERROR', 'Internal server error'), log: 'error' };
}

/** Every failure, and every unknown route, answered in the one error shape. */
export default fp(
  async (fastify) => {
    fastify.setErrorHandler((error: unknown, request, reply) => {
      const result = toErrorReply(error);
      logFailure(request.log, error, result, result.log === 'error' ? 'unexpected error' : 'request failed');
      if (result.retryAfterSeconds !== undefined) reply.header('retry-after', String(result.retryAfterSeconds));
      return reply.code(result.body.statusCode).send(result.body);
    });

    fastify.setNotFoundHandler((request, reply) => {
      return reply
        .code(404)
        .send(body(404, 'NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0]} not found`));
    });
  },
  { name: 'error-handler' },
);
