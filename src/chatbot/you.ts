import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { ChatbotError, parseRetryAfter } from './errors.js';
import { toMessages, type ChatbotAnswer, type ChatbotProvider, type ChatbotRequest, type SearchResult } from './types.js';

export interface YouProviderOptions {
  url: string;
  apiKey: string;
  /** Whole-call budget: connect, headers and body together. */
  timeoutMs: number;
  /** Larger bodies are rejected as unusable instead of being buffered. */
  maxResponseBytes?: number;
}

const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** The request body You.com's chat API takes: the conversation as role-tagged messages. */
export function buildYouRequestBody(request: Pick<ChatbotRequest, 'history' | 'question'>) {
  return { messages: toMessages(request.history, request.question) };
}

/**
 * You.com chat API client: `POST {url}` with `X-API-Key`, over a keep-alive pool.
 * Every failure becomes a `ChatbotError`; the key never appears in an error or log.
 */
export function createYouProvider(options: YouProviderOptions): ChatbotProvider {
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const agent = new Agent({
    keepAliveTimeout: 30_000,
    connectTimeout: Math.min(options.timeoutMs, 10_000),
    // The whole-call timeout below is what bounds a call; these stop a silent socket early.
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });

  async function ask({ history, question, signal }: ChatbotRequest): Promise<ChatbotAnswer> {
    const timeoutSignal = AbortSignal.timeout(options.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeoutSignal]) : timeoutSignal;
    const abortReason = (): ChatbotError | undefined => {
      if (signal?.aborted) return new ChatbotError('cancelled', 'The request was cancelled before the chatbot answered');
      if (timeoutSignal.aborted)
        return new ChatbotError('timeout', `The chatbot did not answer within ${options.timeoutMs} ms`);
      return undefined;
    };

    let response: Dispatcher.ResponseData;
    try {
      response = await request(options.url, {
        method: 'POST',
        dispatcher: agent,
        signal: combined,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'x-api-key': options.apiKey,
        },
        body: JSON.stringify(buildYouRequestBody({ history, question })),
      });
    } catch (error) {
      throw abortReason() ?? toTransportError(error, options.timeoutMs);
    }

    let text: string;
    try {
      text = await readCapped(response.body, maxResponseBytes);
    } catch (error) {
      if (error instanceof ChatbotError) throw error;
      throw abortReason() ?? toTransportError(error, options.timeoutMs);
    }

    const status = response.statusCode;
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
    if (status < 200 || status >= 300) {
      throw new ChatbotError('upstream_error', `The chatbot answered with HTTP ${status}`, { upstreamStatus: status });
    }
    return parseAnswer(text);
  }

  return {
    name: 'you',
    ask,
    close: () => agent.close(),
  };
}

async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) {
      body.destroy();
      throw new ChatbotError('bad_response', `The chatbot's answer is larger than ${maxBytes} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function toTransportError(error: unknown, timeoutMs: number): ChatbotError {
  if (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new ChatbotError('timeout', `The chatbot did not answer within ${timeoutMs} ms`, {}, { cause: error });
  }
  return new ChatbotError('unreachable', 'The chatbot could not be reached or the connection broke', {}, { cause: error });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads `answer` and `search_results` tolerantly: unknown fields are ignored, search
 * results without a URL are skipped, but a body without a non-empty `answer` is unusable.
 */
export function parseAnswer(text: string): ChatbotAnswer {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ChatbotError('bad_response', 'The chatbot answered with something that is not JSON');
  }
  if (!isRecord(body) || typeof body.answer !== 'string' || body.answer.trim() === '') {
    throw new ChatbotError('bad_response', 'The chatbot answered without an answer text');
  }
  const searchResults: SearchResult[] = [];
  if (Array.isArray(body.search_results)) {
    for (const item of body.search_results) {
      if (!isRecord(item) || typeof item.url !== 'string' || item.url === '') continue;
      searchResults.push({
        url: item.url,
        name: typeof item.name === 'string' ? item.name : '',
        snippet: typeof item.snippet === 'string' ? item.snippet : '',
      });
    }
  }
  return { answer: body.answer, searchResults };
}
