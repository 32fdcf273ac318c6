/** What every chatbot provider receives and returns. No Fastify or database types here. */

export interface SearchResult {
  url: string;
  name: string;
  snippet: string;
}

/** One earlier answered question of the conversation, oldest first in a history. */
export interface ConversationTurn {
  question: string;
  answer: string;
}

export interface ChatbotRequest {
  /** Earlier answered turns, oldest first, already capped by the caller. */
  history: readonly ConversationTurn[];
  question: string;
  /** Aborts the upstream call, e.g. when the client disconnects. */
  signal?: AbortSignal;
}

export interface ChatbotAnswer {
  answer: string;
  searchResults: SearchResult[];
}

export interface ChatbotProvider {
  readonly name: string;
  ask(request: ChatbotRequest): Promise<ChatbotAnswer>;
  /** Releases pooled connections; called once when the app closes. */
  close(): Promise<void>;
}

/** Upstream message shape shared by chat APIs (You.com, OpenAI-compatible servers). */
export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

/** Turns stored history plus the new question into the upstream `messages` array. */
export function toMessages(history: readonly ConversationTurn[], question: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (const turn of history) {
    messages.push({ role: 'user', content: turn.question }, { role: 'assistant', content: turn.answer });
  }
  messages.push({ role: 'user', content: question });
  return messages;
}
