import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { ChatbotError, parseRetryAfter } from './errors.js';

export interface UpstreamHttpOptions {
  /**
   * Whole-call budget for a plain answer (connect, headers and body together); for a
   * stream, the longest silence allowed between two chunks.
   */
  timeoutMs: number;
  /** Whole-call cap for a stream, which may run long while it keeps sending. */
  streamMaxMs?: number;
  /** Larger bodies are rejected as unusable instead of being buffered. */
  maxResponseBytes: number;
  /** Tries per call (1: no retries). Only failures before the upstream answers are retried. */
  maxAttempts?: number;
  /** The first backoff; each retry doubles it, with full jitter. */
  retryBaseMs?: number;
  /** Told about each retry (metrics). */
  onRetry?: (reason: 'connection' | 'status', status?: number) => void;
}

/** Connection failures that happen before any byte of an answer: safe to try again. */
const RETRYABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

function isRetryableConnectionError(error: unknown): boolean {
  if (error instanceof undiciErrors.SocketError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_SOCKET_CODES.has(code);
}

export interface UpstreamResponse {
  status: number;
  headers: Dispatcher.ResponseData['headers'];
  /** The body as UTF-8 text chunks, as they arrive, capped at `maxResponseBytes`. */
  chunks(): AsyncGenerator<string>;
  /** The whole body as text, capped at `maxResponseBytes`. */
  text(): Promise<string>;
  /** Reads at most a little of an error body and drops the rest (the status says enough). */
  discard(): Promise<void>;
}

const ERROR_BODY_READ_BYTES = 64 * 1024;

export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * The HTTP plumbing every networked provider shares: a keep-alive pool, one timeout for
 * the whole call, the caller's abort signal, a size cap, and every failure turned into a
 * `ChatbotError` of the right kind. Providers only build bodies and read answers.
 */
export function createUpstreamHttp(options: UpstreamHttpOptions) {
  const agent = new Agent({
    keepAliveTimeout: 30_000,
    connectTimeout: Math.min(options.timeoutMs, 10_000),
    // The whole-call timeout bounds a call; these stop a silent socket early.
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });

  /**
   * POSTs `body` and hands the response to `consume`, within the timeout: whatever
   * `consume` reads is bounded by the same budget and abort signal.
   */
  async function post<T>(
    call: {
      url: string;
      headers: Record<string, string>;
      body: string;
      signal?: AbortSignal | undefined;
      /** A streamed answer: bounded by silence between chunks, and by `streamMaxMs` overall. */
      streaming?: boolean;
    },
    consume: (response: UpstreamResponse) => Promise<T>,
  ): Promise<T> {
    const budgetMs = call.streaming
      ? Math.max(options.streamMaxMs ?? options.timeoutMs, options.timeoutMs)
      : options.timeoutMs;
    // A timer of our own, cleared when the call ends (AbortSignal.timeout would linger for
    // the whole budget after every call), and one controller for it and the caller.
    const timeout = new AbortController();
    const timeoutSignal = timeout.signal;
    const timer = setTimeout(() => timeout.abort(), budgetMs);
    const combined = new AbortController();
    const abortCombined = () => combined.abort();
    timeoutSignal.addEventListener('abort', abortCombined, { once: true });
    call.signal?.addEventListener('abort', abortCombined, { once: true });
    if (call.signal?.aborted) combined.abort();
    const cleanUp = () => {
      clearTimeout(timer);
      timeoutSignal.removeEventListener('abort', abortCombined);
      call.signal?.removeEventListener('abort', abortCombined);
    };
    try {
      return await send();
    } finally {
      cleanUp();
    }

    async function send(): Promise<T> {
      const abortReason = (): ChatbotError | undefined => {
        if (call.signal?.aborted) {
          return new ChatbotError(
            'cancelled',
            'The request was cancelled before the chatbot answered',
            {},
            { cause: call.signal.reason },
          );
        }
        if (timeoutSignal.aborted)
          return new ChatbotError('timeout', `The chatbot did not answer within ${budgetMs} ms`);
        return undefined;
      };

      const maxAttempts = Math.max(1, options.maxAttempts ?? 1);
      const retryBaseMs = options.retryBaseMs ?? 250;
      const deadline = Date.now() + budgetMs;
      /** Waits before another try, if the budget allows; false means give up now. */
      const backoff = async (attempt: number, retryAfterSeconds: number | undefined): Promise<boolean> => {
        if (attempt >= maxAttempts) return false;
        const jittered = Math.random() * retryBaseMs * 2 ** (attempt - 1);
        const wait = retryAfterSeconds === undefined ? jittered : Math.max(retryAfterSeconds * 1000, jittered);
        if (Date.now() + wait >= deadline) return false;
        await sleep(wait, undefined, { signal: combined.signal });
        return true;
      };

      let raw: Dispatcher.ResponseData;
      for (let attempt = 1; ; attempt += 1) {
        try {
          raw = await request(call.url, {
            method: 'POST',
            dispatcher: agent,
            signal: combined.signal,
            headers: { 'content-type': 'application/json', ...call.headers },
            body: call.body,
          });
        } catch (error) {
          const aborted = abortReason();
          if (aborted) throw aborted;
          if (isRetryableConnectionError(error)) {
            const retry = await backoff(attempt, undefined).catch(() => false);
            if (retry) {
              options.onRetry?.('connection');
              continue;
            }
          }
          throw abortReason() ?? toTransportError(error, options.timeoutMs);
        }
        // 429 and 503 say "not now": nothing was answered, so asking again is safe.
        if (raw.statusCode === 429 || raw.statusCode === 503) {
          const retryAfterSeconds = parseRetryAfter(raw.headers['retry-after']);
          let retry = false;
          if (attempt < maxAttempts) {
            await raw.body.dump({ limit: ERROR_BODY_READ_BYTES }).catch(() => undefined);
            retry = await backoff(attempt, retryAfterSeconds).catch(() => false);
            if (!retry) {
              const aborted = abortReason();
              if (aborted) throw aborted;
              throw statusError(raw.statusCode, retryAfterSeconds);
            }
          }
          if (retry) {
            options.onRetry?.('status', raw.statusCode);
            continue;
          }
        }
        break;
      }

      const body = raw.body;
      async function* chunks(): AsyncGenerator<string> {
        const decoder = new StringDecoder('utf8');
        let size = 0;
        for await (const chunk of body) {
          const buffer = chunk as Buffer;
          size += buffer.length;
          if (size > options.maxResponseBytes) {
            body.destroy();
            throw new ChatbotError(
              'bad_response',
              `The chatbot's answer is larger than ${options.maxResponseBytes} bytes`,
            );
          }
          const text = decoder.write(buffer);
          if (text) yield text;
        }
        const rest = decoder.end();
        if (rest) yield rest;
      }
      const response: UpstreamResponse = {
        status: raw.statusCode,
        headers: raw.headers,
        chunks,
        async text() {
          let text = '';
          for await (const chunk of chunks()) text += chunk;
          return text;
        },
        async discard() {
          await body.dump({ limit: ERROR_BODY_READ_BYTES }).catch(() => undefined);
        },
      };

      try {
        return await consume(response);
      } catch (error) {
        if (error instanceof ChatbotError) throw error;
        throw abortReason() ?? toTransportError(error, options.timeoutMs);
      } finally {
        // Whatever `consume` left unread must not hold the socket.
        if (!body.destroyed && !body.readableEnded) body.destroy();
      }
    }
  }

  return { post, close: () => agent.close() };
}

export type UpstreamHttp = ReturnType<typeof createUpstreamHttp>;

/** For a non-2xx response: drops its body and throws the `ChatbotError` its status means. */
export async function rejectUnlessOk(response: UpstreamResponse): Promise<void> {
  if (response.status >= 200 && response.status < 300) return;
  await response.discard();
  assertOk(response);
}

/** Throws the `ChatbotError` a non-2xx status means; returns for a 2xx. */
function assertOk(response: Pick<UpstreamResponse, 'status' | 'headers'>): void {
  const status = response.status;
  if (status >= 200 && status < 300) return;
  throw statusError(status, parseRetryAfter(response.headers['retry-after']));
}

function statusError(status: number, retryAfterSeconds: number | undefined): ChatbotError {
  if (status === 401 || status === 402 || status === 403) {
    return new ChatbotError('auth', `The chatbot rejected the configured API key (HTTP ${status})`, {
      upstreamStatus: status,
    });
  }
  const details = { upstreamStatus: status, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) };
  if (status === 429) return new ChatbotError('rate_limited', 'The chatbot is rate limiting this service', details);
  if (status === 503) return new ChatbotError('unavailable', 'The chatbot is temporarily unavailable', details);
  return new ChatbotError('upstream_error', `The chatbot answered with HTTP ${status}`, details);
}

/** The upstream's request id header, if it sent one. */
export function requestIdOf(headers: UpstreamResponse['headers']): string | null {
  const value = headers['x-request-id'] ?? headers['request-id'];
  const id = Array.isArray(value) ? value[0] : value;
  return typeof id === 'string' && id !== '' ? id.slice(0, 200) : null;
}

function toTransportError(error: unknown, timeoutMs: number): ChatbotError {
  if (error instanceof undiciErrors.ConnectTimeoutError) {
    return new ChatbotError('timeout', 'The connection to the chatbot could not be made in time', {}, { cause: error });
  }
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new ChatbotError('timeout', `The chatbot did not answer within ${timeoutMs} ms`, {}, { cause: error });
  }
  return new ChatbotError(
    'unreachable',
    'The chatbot could not be reached or the connection broke',
    {},
    { cause: error },
  );
}
