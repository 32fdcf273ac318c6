import { ChatbotError } from './errors.js';
import {
  createUpstreamHttp,
  DEFAULT_MAX_RESPONSE_BYTES,
  rejectUnlessOk,
  requestIdOf,
  type UpstreamHttpOptions,
} from './http.js';
import { readEventStream, textOf } from './sse.js';
import {
  isRecord,
  parseSearchResults,
  toMessages,
  type ChatbotAnswer,
  type ChatbotProvider,
  type ChatbotStreamEvent,
  type Conversation,
  type SearchResult,
} from './types.js';

export interface YouProviderOptions {
  url: string;
  apiKey: string;
  timeoutMs: number;
  maxResponseBytes?: number;
  streamMaxMs?: number;
  maxAttempts?: number;
  retryBaseMs?: number;
  onRetry?: UpstreamHttpOptions['onRetry'];
}

/**
 * The body You.com's chat API takes: the conversation as role-tagged messages, and the
 * chat's system prompt, when it has one, as `instructions`.
 */
export function buildYouRequestBody(conversation: Conversation, question?: string): Record<string, unknown> {
  return {
    messages: toMessages(conversation.history, question),
    ...(conversation.settings.systemPrompt === undefined ? {} : { instructions: conversation.settings.systemPrompt }),
  };
}

/**
 * Reads `answer` and `search_results` tolerantly: unknown fields are ignored, search
 * results without a URL are skipped, but a body without a non-empty `answer` is unusable.
 */
export function parseAnswer(text: string): Pick<ChatbotAnswer, 'answer' | 'searchResults'> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ChatbotError('bad_response', 'The chatbot answered with something that is not JSON');
  }
  if (!isRecord(body) || typeof body.answer !== 'string' || body.answer.trim() === '') {
    throw new ChatbotError('bad_response', 'The chatbot answered without an answer text');
  }
  return { answer: body.answer, searchResults: parseSearchResults(body.search_results) };
}

/** You.com chat API client: `POST {url}` with `X-API-Key`; `"stream": true` for SSE answers. */
export function createYouProvider(options: YouProviderOptions): ChatbotProvider {
  const http = createUpstreamHttp({
    ...options,
    maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  });
  const headers = { 'x-api-key': options.apiKey };

  return {
    name: 'you',
    requestBody: buildYouRequestBody,

    async ask(request) {
      const body = JSON.stringify(buildYouRequestBody(request, request.question));
      return http.post(
        { url: options.url, headers: { ...headers, accept: 'application/json' }, body, signal: request.signal },
        async (response) => {
          await rejectUnlessOk(response);
          const text = await response.text();
          return { ...parseAnswer(text), model: null, upstreamRequestId: requestIdOf(response.headers) };
        },
      );
    },

    async stream(request, onEvent: (event: ChatbotStreamEvent) => void) {
      const body = JSON.stringify({ ...buildYouRequestBody(request, request.question), stream: true });
      return http.post(
        {
          url: options.url,
          headers: { ...headers, accept: 'text/event-stream' },
          streaming: true,
          body,
          signal: request.signal,
        },
        async (response) => {
          const upstreamRequestId = requestIdOf(response.headers);
          await rejectUnlessOk(response);
          const contentType = String(response.headers['content-type'] ?? '');
          if (!contentType.includes('text/event-stream')) {
            // An upstream that ignored `stream` and answered in one piece is still an answer.
            const whole = parseAnswer(await response.text());
            if (whole.searchResults.length > 0) onEvent({ type: 'search_results', searchResults: whole.searchResults });
            onEvent({ type: 'token', text: whole.answer });
            return { ...whole, model: null, upstreamRequestId };
          }

          let answer = '';
          let searchResults: SearchResult[] = [];
          await readEventStream(response, (message) => {
            switch (message.event) {
              case 'search_results': {
                let parsed: unknown;
                try {
                  parsed = JSON.parse(message.data);
                } catch {
                  throw new ChatbotError('bad_response', 'The chatbot sent search results that are not JSON');
                }
                searchResults = parseSearchResults(isRecord(parsed) ? parsed.search_results : parsed);
                onEvent({ type: 'search_results', searchResults });
                return 'continue';
              }
              case 'token': {
                const text = textOf(message.data);
                answer += text;
                onEvent({ type: 'token', text });
                return 'continue';
              }
              case 'done':
                return 'stop';
              case 'error':
                throw new ChatbotError('upstream_error', 'The chatbot reported an error while answering');
              default:
                return 'continue';
            }
          });
          if (answer.trim() === '')
            throw new ChatbotError('bad_response', 'The chatbot finished without an answer text');
          return { answer, searchResults, model: null, upstreamRequestId };
        },
      );
    },

    close: () => http.close(),
  };
}
