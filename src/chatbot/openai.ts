import { MODEL_MAX_LENGTH } from '../domain/limits.js';
import { firstCharacters } from '../domain/text.js';
import { ChatbotError } from './errors.js';
import {
  createUpstreamHttp,
  DEFAULT_MAX_RESPONSE_BYTES,
  rejectUnlessOk,
  requestIdOf,
  type UpstreamHttpOptions,
} from './http.js';
import { readEventStream } from './sse.js';
import { isRecord, toMessages, type ChatbotProvider, type ChatMessage, type Conversation } from './types.js';

export interface OpenAiProviderOptions {
  /** e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1 (Ollama). */
  baseUrl: string;
  /** Optional: local servers usually need none. */
  apiKey: string | undefined;
  /** Used when the chat's settings name no model. */
  defaultModel: string;
  timeoutMs: number;
  maxResponseBytes?: number;
  streamMaxMs?: number;
  maxAttempts?: number;
  retryBaseMs?: number;
  onRetry?: UpstreamHttpOptions['onRetry'];
}

/**
 * Any OpenAI-compatible chat completions server (OpenAI, Ollama, vLLM, llama.cpp server):
 * the system prompt is the first message, the model comes from the chat's settings or the
 * configured default.
 */
export function createOpenAiProvider(options: OpenAiProviderOptions): ChatbotProvider {
  const http = createUpstreamHttp({
    ...options,
    maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  });
  const url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const headers: Record<string, string> = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};

  function requestBody(conversation: Conversation, question?: string): { model: string; messages: ChatMessage[] } {
    const system: ChatMessage[] =
      conversation.settings.systemPrompt === undefined
        ? []
        : [{ role: 'system', content: conversation.settings.systemPrompt }];
    return {
      model: conversation.settings.model ?? options.defaultModel,
      messages: [...system, ...toMessages(conversation.history, question)],
    };
  }

  // Bounded like every stored identifier (exports re-import only what they can validate).
  const modelOf = (body: unknown, fallback: unknown): string | null =>
    isRecord(body) && typeof body.model === 'string'
      ? firstCharacters(body.model, MODEL_MAX_LENGTH)
      : typeof fallback === 'string'
        ? fallback
        : null;

  return {
    name: 'openai',
    requestBody,

    async ask(request) {
      const payload = requestBody(request, request.question);
      return http.post(
        {
          url,
          headers: { ...headers, accept: 'application/json' },
          body: JSON.stringify(payload),
          signal: request.signal,
        },
        async (response) => {
          await rejectUnlessOk(response);
          const text = await response.text();
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            throw new ChatbotError('bad_response', 'The chatbot answered with something that is not JSON');
          }
          const choice = isRecord(body) && Array.isArray(body.choices) ? body.choices[0] : undefined;
          const content = isRecord(choice) && isRecord(choice.message) ? choice.message.content : undefined;
          if (typeof content !== 'string' || content.trim() === '') {
            throw new ChatbotError('bad_response', 'The chatbot answered without an answer text');
          }
          return {
            answer: content,
            searchResults: [],
            model: modelOf(body, payload.model),
            upstreamRequestId:
              requestIdOf(response.headers) ??
              (isRecord(body) && typeof body.id === 'string' ? body.id.slice(0, 200) : null),
          };
        },
      );
    },

    async stream(request, onEvent) {
      const payload = { ...requestBody(request, request.question), stream: true };
      return http.post(
        {
          url,
          headers: { ...headers, accept: 'text/event-stream' },
          streaming: true,
          body: JSON.stringify(payload),
          signal: request.signal,
        },
        async (response) => {
          await rejectUnlessOk(response);
          let answer = '';
          let model: string | null = null;
          let completionId: string | null = null;
          await readEventStream(response, (message) => {
            if (message.data.trim() === '[DONE]') return 'stop';
            let chunk: unknown;
            try {
              chunk = JSON.parse(message.data);
            } catch {
              throw new ChatbotError('bad_response', 'The chatbot sent a stream chunk that is not JSON');
            }
            if (!isRecord(chunk))
              throw new ChatbotError('bad_response', 'The chatbot sent a stream chunk of the wrong shape');
            if (chunk.error !== undefined)
              throw new ChatbotError('upstream_error', 'The chatbot reported an error while answering');
            model ??= modelOf(chunk, null);
            if (typeof chunk.id === 'string') completionId ??= chunk.id.slice(0, 200);
            const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
            const delta = isRecord(choice) && isRecord(choice.delta) ? choice.delta.content : undefined;
            if (typeof delta === 'string' && delta !== '') {
              answer += delta;
              onEvent({ type: 'token', text: delta });
            }
            return 'continue';
          });
          if (answer.trim() === '')
            throw new ChatbotError('bad_response', 'The chatbot finished without an answer text');
          return {
            answer,
            searchResults: [],
            model: model ?? payload.model,
            upstreamRequestId: requestIdOf(response.headers) ?? completionId,
          };
        },
      );
    },

    close: () => http.close(),
  };
}
