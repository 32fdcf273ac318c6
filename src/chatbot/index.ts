import type { AppConfig } from '../config.js';
import type { UpstreamHttpOptions } from './http.js';
import type { ChatbotProvider } from './types.js';

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

/**
 * Builds the provider the config names. Adding a provider means one file plus a case here.
 * Only that provider's module is loaded: the offline one needs no HTTP client (undici).
 */
export async function createChatbotProvider(
  config: AppConfig['chatbot'],
  hooks: { onRetry?: UpstreamHttpOptions['onRetry'] } = {},
): Promise<ChatbotProvider> {
  const http = {
    timeoutMs: config.timeoutMs,
    streamMaxMs: config.streamMaxMs,
    maxAttempts: config.maxAttempts,
    retryBaseMs: config.retryBaseMs,
    ...(hooks.onRetry ? { onRetry: hooks.onRetry } : {}),
  };
  switch (config.provider) {
    case 'you': {
      if (!config.youApiKey) throw new Error('The you provider needs YOU_API_KEY');
      const { createYouProvider } = await import('./you.js');
      return createYouProvider({ url: config.youApiUrl, apiKey: config.youApiKey, ...http });
    }
    case 'openai': {
      const { createOpenAiProvider } = await import('./openai.js');
      return createOpenAiProvider({
        baseUrl: config.openAiBaseUrl,
        apiKey: config.openAiApiKey,
        defaultModel: config.openAiModel,
        ...http,
      });
    }
    case 'offline': {
      const { createOfflineProvider } = await import('./offline.js');
      return createOfflineProvider();
    }
  }
}
