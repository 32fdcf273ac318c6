import { STATUS_CODES } from 'node:http';
import type { FastifyError } from 'fastify';
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

/**
 * One error shape for every failure. Domain errors keep their code and message; request
 * validation becomes VALIDATION_ERROR with the rejected fields; any other 5xx is logged
 * in full and answered with a generic message so no internals leak.
 */
export default fp(
  async (fastify) => {
    fastify.setErrorHandler((error: unknown, request, reply) => {
      if (error instanceof DomainError) {
        if (error.statusCode >= 500) request.log.warn({ err: error, cause: error.cause }, 'request failed');
        if (error.extra.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.extra.retryAfterSeconds));
        return reply
          .code(error.statusCode)
          .send(
            body(error.statusCode, error.code, error.message, error.extra.qaPairId ? { qa_pair_id: error.extra.qaPairId } : {}),
          );
      }

      if (isFastifyError(error) && error.validation) {
        const details = error.validation.map((issue) => ({
          path: `${error.validationContext ?? 'request'}${issue.instancePath}`,
          message: issue.message ?? 'is invalid',
        }));
        return reply.code(400).send(body(400, 'VALIDATION_ERROR', error.message, { details }));
      }

      const status = isFastifyError(error) && error.statusCode !== undefined ? error.statusCode : 500;
      if (status < 500) {
        const code = (isFastifyError(error) && FRAMEWORK_CODES[error.code]) || CODES_BY_STATUS[status] || 'BAD_REQUEST';
        const message = error instanceof Error ? error.message : reason(status);
        return reply.code(status).send(body(status, code, message));
      }

      request.log.error({ err: error }, 'unexpected error');
      return reply.code(500).send(body(500, 'INTERNAL_ERROR', 'Internal server error'));
    });

    fastify.setNotFoundHandler((request, reply) => {
      return reply.code(404).send(body(404, 'NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0]} not found`));
    });
  },
  { name: 'error-handler' },
);
