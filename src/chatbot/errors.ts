/**
 * Why an upstream call failed, independent of HTTP: the service layer maps each kind to
 * a response status and stores it on the failed pair.
 */
export type ChatbotErrorKind =
  /** The upstream rejected our credentials (401/402/403): the service is misconfigured. */
  | 'auth'
  /** The upstream asked us to slow down (429). */
  | 'rate_limited'
  /** Any other non-2xx status. */
  | 'upstream_error'
  /** A 2xx whose body is not a usable answer (HTML, wrong JSON shape, too large). */
  | 'bad_response'
  /** No complete answer within the configured timeout. */
  | 'timeout'
  /** The connection could not be made or broke before the answer was complete. */
  | 'unreachable'
  /** Our caller aborted (client disconnected). */
  | 'cancelled';

export class ChatbotError extends Error {
  override name = 'ChatbotError';

  constructor(
    readonly kind: ChatbotErrorKind,
    message: string,
    readonly details: { upstreamStatus?: number; retryAfterSeconds?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Parses a `Retry-After` header (delta-seconds or an HTTP date) into whole seconds. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  const trimmed = raw.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}
