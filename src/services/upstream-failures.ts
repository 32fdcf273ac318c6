import { ChatbotError, type ChatbotErrorKind } from '../chatbot/index.js';
import { DomainError } from '../domain/errors.js';

/** How each upstream failure is reported to the client and stored on the failed pair. */
export const UPSTREAM_FAILURES: Record<ChatbotErrorKind, { code: string; status: number; message: string }> = {
  auth: {
    code: 'UPSTREAM_AUTH',
    status: 502,
    message: "The chatbot rejected this service's API key: the service is misconfigured, tell its operator",
  },
  rate_limited: {
    code: 'UPSTREAM_RATE_LIMITED',
    status: 503,
    message: 'The chatbot is rate limiting this service; try again later',
  },
  unavailable: {
    code: 'UPSTREAM_UNAVAILABLE',
    status: 503,
    message: 'The chatbot is temporarily unavailable; try again later',
  },
  upstream_error: { code: 'UPSTREAM_ERROR', status: 502, message: 'The chatbot failed to answer' },
  bad_response: {
    code: 'UPSTREAM_BAD_RESPONSE',
    status: 502,
    message: 'The chatbot sent an answer that cannot be used',
  },
  timeout: { code: 'UPSTREAM_TIMEOUT', status: 504, message: 'The chatbot did not answer in time' },
  unreachable: { code: 'UPSTREAM_UNREACHABLE', status: 502, message: 'The chatbot could not be reached' },
  cancelled: {
    code: 'CLIENT_CLOSED_REQUEST',
    status: 499,
    message: 'The client closed the connection before the answer arrived',
  },
};

const INTERRUPTED = {
  code: 'INTERRUPTED',
  status: 503,
  message: 'The server shut down before the answer was complete',
};

/** Turns whatever the upstream call threw into the client-facing error stored on the pair. */
export function describeFailure(error: unknown, qaPairId: string, shuttingDown: boolean): DomainError {
  if (error instanceof ChatbotError) {
    const failure = error.kind === 'cancelled' && shuttingDown ? INTERRUPTED : UPSTREAM_FAILURES[error.kind];
    const { upstreamStatus, retryAfterSeconds } = error.details;
    const message =
      upstreamStatus === undefined ? failure.message : `${failure.message} (upstream HTTP ${upstreamStatus})`;
    const domainError = new DomainError(failure.code, failure.status, message, {
      qaPairId,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    });
    // Kept for the log: which kind of failure, the upstream status, the socket error.
    domainError.cause = error;
    return domainError;
  }
  const internal = new DomainError(
    'INTERNAL_ERROR',
    500,
    'The answer could not be produced because of an internal error',
    {
      qaPairId,
    },
  );
  internal.cause = error;
  return internal;
}

/** The HTTP status an error code stored on a failed pair is told with (its ask's status). */
export function failureStatus(code: string): number {
  if (code === INTERRUPTED.code) return INTERRUPTED.status;
  if (code === 'INTERNAL_ERROR') return 500;
  return Object.values(UPSTREAM_FAILURES).find((failure) => failure.code === code)?.status ?? 502;
}
