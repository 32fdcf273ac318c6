import { characterCount, firstCharacters } from '../domain/text.js';
import { ChatbotError } from './errors.js';
import {
  toMessages,
  type ChatbotAnswer,
  type ChatbotProvider,
  type ChatbotRequest,
  type Conversation,
} from './types.js';

const QUOTE_MAX = 80;

function quote(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return characterCount(oneLine) > QUOTE_MAX ? `${firstCharacters(oneLine, QUOTE_MAX - 1)}…` : oneLine;
}

function answerFor({ history, question, settings }: ChatbotRequest): string {
  const first = history[0];
  const context =
    first === undefined
      ? 'This is the first question of the chat.'
      : `I saw ${history.length} earlier turn${history.length === 1 ? '' : 's'} of this chat; the first question was "${quote(first.question)}".`;
  const instructions =
    settings.systemPrompt === undefined ? '' : ` My instructions: "${quote(settings.systemPrompt)}".`;
  return `[offline] ${context}${instructions} You asked: "${quote(question)}". Set YOU_API_KEY to get real answers.`;
}

function checkNotAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ChatbotError('cancelled', 'The request was cancelled', {}, { cause: signal.reason });
}

/**
 * A deterministic provider for local use without an upstream key. Its answer visibly
 * depends on the history (and system prompt) it was given, so the history plumbing can
 * be seen working; it streams word by word.
 */
export function createOfflineProvider(): ChatbotProvider {
  return {
    name: 'offline',
    requestBody: (conversation: Conversation, question?: string) => ({
      messages: toMessages(conversation.history, question),
      ...(conversation.settings.systemPrompt === undefined ? {} : { instructions: conversation.settings.systemPrompt }),
    }),
    async ask(request): Promise<ChatbotAnswer> {
      checkNotAborted(request.signal);
      return { answer: answerFor(request), searchResults: [], model: null, upstreamRequestId: null };
    },
    async stream(request, onEvent): Promise<ChatbotAnswer> {
      const answer = answerFor(request);
      for (const word of answer.match(/\S+\s*/g) ?? []) {
        checkNotAborted(request.signal);
        onEvent({ type: 'token', text: word });
        // Yield between words, as a real stream would, so the client sees them arrive.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return { answer, searchResults: [], model: null, upstreamRequestId: null };
    },
    async close() {},
  };
}
