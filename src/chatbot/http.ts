import { StringDecoder } from 'node:string_decoder';
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { ChatbotError, parseRetryAfter } from './errors.js';

export interface UpstreamHttpOptions {
  /** Whole-call budget: connect, headers and body together. */
  timeoutMs: number;
  /** Larger bodies are rejected as unusable instead of being buffered. */
  maxResponseBytes: number;
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
    call: { url: string; headers: Record<string, string>; body: string; signal?: AbortSignal | undefined },
    consume: (response: UpstreamResponse) => Promise<T>,
  ): Promise<T> {
    const timeoutSignal = AbortSignal.timeout(options.timeoutMs);
    const combined = call.signal ? AbortSignal.any([call.signal, timeoutSignal]) : timeoutSignal;
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
        return new ChatbotError('timeout', `The chatbot did not answer within ${options.timeoutMs} ms`);
      return undefined;
    };

    let raw: Dispatcher.ResponseData;
    try {
      raw = await request(call.url, {
        method: 'POST',
        dispatcher: agent,
        signal: combined,
        headers: { 'content-type': 'application/json', ...call.headers },
        body: call.body,
      });
    } catch (error) {
      throw abortReason() ?? toTransportError(error, options.timeoutMs);
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
        let size = 0;
        for await (const chunk of body) {
          size += (chunk as Buffer).length;
          if (size > ERROR_BODY_READ_BYTES) break;
        }
        body.destroy();
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
  if (status === 401 || status === 402 || status === 403) {
    throw new ChatbotError('auth', `The chatbot rejected the configured API key (HTTP ${status})`, {
      upstreamStatus: status,
    });
  }
  if (status === 429) {
    const retryAfterSeconds = parseRetryAfter(response.headers['retry-after']);
    throw new ChatbotError('rate_limited', 'The chatbot is rate limiting this service', {
      upstreamStatus: status,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    });
  }
  throw new ChatbotError('upstream_error', `The chatbot answered with HTTP ${status}`, { upstreamStatus: status });
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
