import type { ChatbotAnswer, ChatbotProvider, ChatbotRequest } from './types.js';
import { ChatbotError } from './errors.js';

const QUOTE_MAX = 80;

function quote(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > QUOTE_MAX ? `${oneLine.slice(0, QUOTE_MAX - 1)}…` : oneLine;
}

/**
 * A deterministic provider for local use without an upstream key. Its answer visibly
 * depends on the history it was given, so the history plumbing can be seen working.
 */
export function createOfflineProvider(): ChatbotProvider {
  return {
    name: 'offline',
    async ask({ history, question, signal }: ChatbotRequest): Promise<ChatbotAnswer> {
      if (signal?.aborted) throw new ChatbotError('cancelled', 'The request was cancelled');
      const first = history[0];
      const context =
        first === undefined
          ? 'This is the first question of the chat.'
          : `I saw ${history.length} earlier turn${history.length === 1 ? '' : 's'} of this chat; the first question was "${quote(first.question)}".`;
      return {
        answer: `[offline] ${context} You asked: "${quote(question)}". Set YOU_API_KEY to get real answers.`,
        searchResults: [],
      };
    },
    async close() {},
  };
}
