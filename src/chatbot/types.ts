import { MAX_SEARCH_RESULTS } from '../domain/limits.js';
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

/** Per-chat settings a provider applies (each provider uses what it understands). */
export interface ConversationSettings {
  systemPrompt?: string;
  model?: string;
}

/** What the upstream is asked about: the history, the settings and (except for a preview) the question. */
export interface Conversation {
  /** Earlier answered turns, oldest first, already capped by the caller. */
  history: readonly ConversationTurn[];
  settings: ConversationSettings;
}

export interface ChatbotRequest extends Conversation {
  question: string;
  /** Aborts the upstream call (client disconnected, server shutting down). */
  signal?: AbortSignal;
}

export interface ChatbotAnswer {
  answer: string;
  searchResults: SearchResult[];
  /** The model that answered, when the provider names one. */
  model: string | null;
  /** The upstream's id for the call, when it sends one. */
  upstreamRequestId: string | null;
}

/** What a streaming call reports as it goes. */
export type ChatbotStreamEvent =
  { type: 'search_results'; searchResults: SearchResult[] } | { type: 'token'; text: string };

export interface ChatbotProvider {
  readonly name: string;
  /**
   * The exact JSON body `ask` would send for this conversation; with a question it is the
   * body of that ask, without one the body up to (not including) the next question.
   */
  requestBody(conversation: Conversation, question?: string): Record<string, unknown>;
  ask(request: ChatbotRequest): Promise<ChatbotAnswer>;
  /**
   * Like `ask`, but reports search results and answer text through `onEvent` as the
   * upstream sends them. Resolves with the whole answer once the upstream is done.
   */
  stream(request: ChatbotRequest, onEvent: (event: ChatbotStreamEvent) => void): Promise<ChatbotAnswer>;
  /** Releases pooled connections; called once when the app closes. */
  close(): Promise<void>;
}

/** Upstream message shape shared by chat APIs (You.com, OpenAI-compatible servers). */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Turns stored history (plus the new question, when given) into role-tagged messages. */
export function toMessages(history: readonly ConversationTurn[], question?: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (const turn of history) {
    messages.push({ role: 'user', content: turn.question }, { role: 'assistant', content: turn.answer });
  }
  if (question !== undefined) messages.push({ role: 'user', content: question });
  return messages;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads search results tolerantly: entries without a URL are skipped, missing texts are empty. */
export function parseSearchResults(value: unknown): SearchResult[] {
  if (!Array.isArray(value)) return [];
  const results: SearchResult[] = [];
  for (const item of value) {
    if (results.length === MAX_SEARCH_RESULTS) break;
    if (!isRecord(item) || typeof item.url !== 'string' || item.url === '') continue;
    results.push({
      url: item.url,
      name: typeof item.name === 'string' ? item.name : '',
      snippet: typeof item.snippet === 'string' ? item.snippet : '',
    });
  }
  return results;
}
