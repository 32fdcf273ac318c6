import type { AppConfig } from '../config.js';
import { createOfflineProvider } from './offline.js';
import { createOpenAiProvider } from './openai.js';
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
export function createChatbotProvider(config: AppConfig['chatbot']): ChatbotProvider {
  switch (config.provider) {
    case 'you':
      if (!config.youApiKey) throw new Error('The you provider needs YOU_API_KEY');
      return createYouProvider({ url: config.youApiUrl, apiKey: config.youApiKey, timeoutMs: config.timeoutMs });
    case 'openai':
      return createOpenAiProvider({
        baseUrl: config.openAiBaseUrl,
        apiKey: config.openAiApiKey,
        defaultModel: config.openAiModel,
        timeoutMs: config.timeoutMs,
      });
    case 'offline':
      return createOfflineProvider();
  }
}
