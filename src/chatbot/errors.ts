/**
 * Why an upstream call failed, independent of HTTP: the service layer maps each kind to
 * a response status and stores it on the failed pair.
 */
export type ChatbotErrorKind =
  /** The upstream rejected our credentials (401/402/403): the service is misconfigured. */
  | 'auth'
  /** The upstream asked us to slow down (429). */
  | 'rate_limited'
  /** The upstream is down for now (503). */
  | 'unavailable'
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

/** The longest wait we pass on: an upstream asking for more is not taken literally. */
export const MAX_RETRY_AFTER_SECONDS = 3600;

/**
 * Parses a `Retry-After` header (delta-seconds or an HTTP date) into whole seconds,
 * within 0..MAX_RETRY_AFTER_SECONDS.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  const trimmed = raw.trim();
  let seconds: number;
  if (/^\d+$/.test(trimmed)) seconds = Number(trimmed);
  else {
    const date = Date.parse(trimmed);
    if (Number.isNaN(date)) return undefined;
    seconds = Math.ceil((date - now) / 1000);
  }
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(0, seconds));
}
