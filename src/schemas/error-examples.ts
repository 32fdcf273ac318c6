import { STATUS_CODES } from 'node:http';
import {
  branchNotFound,
  chatNotFound,
  forbidden,
  qaPairNotFound,
  signupDisabled,
  tooManyBranches,
  unauthorized,
  userNotFound,
  type DomainError,
} from '../domain/errors.js';
import type { ErrorResponse } from './common.js';

/**
 * One example error body per documented error response, so the explorer and Postman show
 * a real code and message rather than `"code": "string"`. Each is an error the server really
 * sends for that status on that route (tests/openapi-examples.test.ts checks every code
 * against the source). Only the document uses them.
 */

const fromDomain = (error: DomainError): ErrorResponse => ({
  statusCode: error.statusCode,
  code: error.code,
  error: STATUS_CODES[error.statusCode] ?? 'Error',
  message: error.message,
});

const plain = (statusCode: number, code: string, message: string): ErrorResponse => ({
  statusCode,
  code,
  error: statusCode === 499 ? 'Client Closed Request' : (STATUS_CODES[statusCode] ?? 'Error'),
  message,
});

const unknownField = {
  ...plain(400, 'VALIDATION_ERROR', 'body has an unknown field "colour": remove it (unknown fields are refused)'),
  details: [{ path: 'body', message: 'has an unknown field "colour": remove it (unknown fields are refused)' }],
};
const badParam = {
  ...plain(
    400,
    'VALIDATION_ERROR',
    'params/user_id must match pattern "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"',
  ),
  details: [
    {
      path: 'params/user_id',
      message: 'must match pattern "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"',
    },
  ],
};

/** The 404 of a route: the innermost resource its path (or, for an ask, its body) names. */
function notFound(url: string): ErrorResponse {
  if (url.includes(':branch_id')) return fromDomain(branchNotFound());
  if (url.includes(':qa_pair_id') || url === '/search' || url.endsWith('/fork') || url.endsWith('/branches'))
    return fromDomain(qaPairNotFound());
  if (url.includes(':chat_id')) return fromDomain(chatNotFound());
  return fromDomain(userNotFound());
}

function conflictOf(url: string, method: string): ErrorResponse {
  if (url === '/search') {
    return plain(
      409,
      'IDEMPOTENCY_IN_PROGRESS',
      'A request with this Idempotency-Key is still running; retry later with the same key',
    );
  }
  if (method === 'DELETE') {
    return plain(
      409,
      'ACTIVE_BRANCH',
      'This is the active branch: pass activate_branch_id to say which branch becomes active instead',
    );
  }
  if (method === 'POST') return fromDomain(tooManyBranches());
  return plain(409, 'BRANCH_NAME_TAKEN', 'This chat already has a branch named "food"');
}

/** The example body of the `status` error response of `method url` (a Fastify route url). */
export function errorExample(status: number, url: string, method: string): ErrorResponse {
  switch (status) {
    case 400:
      if (url === '/v1/users/me')
        return plain(
          400,
          'NOT_A_USER_KEY',
          'The admin key does not belong to a user; call the /v1/users/{user_id}/... routes instead',
        );
      return method === 'GET' || method === 'DELETE' ? badParam : unknownField;
    case 401:
      return fromDomain(unauthorized());
    case 403:
      return url === '/v1/users'
        ? fromDomain(signupDisabled())
        : fromDomain(forbidden('This API key can only act for its own user'));
    case 404:
      return notFound(url);
    case 409:
      return conflictOf(url, method);
    case 413:
      return plain(413, 'PAYLOAD_TOO_LARGE', 'Request body is too large');
    case 415:
      return plain(
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        'Unsupported Media Type: send the body as JSON, with the header "Content-Type: application/json"',
      );
    case 422:
      return plain(
        422,
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was used with a different request body: use a new key for a new request',
      );
    case 429:
      return plain(429, 'CHAT_BUSY', 'Too many questions are waiting in this chat; ask again when they are answered');
    case 499:
      return plain(499, 'CLIENT_CLOSED_REQUEST', 'The client closed the connection before the answer arrived');
    case 500:
      return plain(500, 'INTERNAL_ERROR', 'Internal server error');
    case 502:
      return { ...plain(502, 'UPSTREAM_ERROR', 'The chatbot failed to answer'), qa_pair_id: EXAMPLE_PAIR_ID };
    case 503:
      if (url === '/health') return plain(503, 'DATABASE_UNAVAILABLE', 'The database does not respond');
      if (url === '/ready') return plain(503, 'NOT_READY', 'The server is shutting down');
      return {
        ...plain(503, 'UPSTREAM_UNAVAILABLE', 'The chatbot is temporarily unavailable; try again later'),
        qa_pair_id: EXAMPLE_PAIR_ID,
      };
    case 504:
      return { ...plain(504, 'UPSTREAM_TIMEOUT', 'The chatbot did not answer in time'), qa_pair_id: EXAMPLE_PAIR_ID };
    default:
      return plain(status, 'BAD_REQUEST', STATUS_CODES[status] ?? 'Error');
  }
}

/** The pair a failed ask stored, in the examples. */
const EXAMPLE_PAIR_ID = '3f2a9c1e-7b4d-4e8a-9c6f-1d2e3f4a5b6c';
