import type { AppConfig } from '../config.js';
import { createOfflineProvider } from './offline.js';
import { createOpenAiProvider } from './openai.js';
import type { UpstreamHttpOptions } from './http.js';
import type { ChatbotProvider } from './types.js';
import { createYouProvider } from './you.js';

export type {
  ChatbotAnswer,
  ChatbotProvider,
  ChatbotRequest,
  ChatbotStreamEvent,
  Conversation,
  ConversationSettings,
  ConversationTurn,
  SearchResult,
} from './types.js';
export { ChatbotError, type ChatbotErrorKind } from './errors.js';

/** Builds the provider the config names. Adding a provider means one file plus a case here. */
export function createChatbotProvider(
  config: AppConfig['chatbot'],
  hooks: { onRetry?: UpstreamHttpOptions['onRetry'] } = {},
): ChatbotProvider {
  const http = {
    timeoutMs: config.timeoutMs,
    streamMaxMs: config.streamMaxMs,
    maxAttempts: config.maxAttempts,
    retryBaseMs: config.retryBaseMs,
    ...(hooks.onRetry ? { onRetry: hooks.onRetry } : {}),
  };
  switch (config.provider) {
    case 'you':
      if (!config.youApiKey) throw new Error('The you provider needs YOU_API_KEY');
      return createYouProvider({ url: config.youApiUrl, apiKey: config.youApiKey, ...http });
    case 'openai':
      return createOpenAiProvider({
        baseUrl: config.openAiBaseUrl,
        apiKey: config.openAiApiKey,
        defaultModel: config.openAiModel,
        ...http,
      });
    case 'offline':
      return createOfflineProvider();
  }
}
