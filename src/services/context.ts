import type { ChatbotProvider, ConversationSettings, ConversationTurn } from '../chatbot/index.js';
import type { ChatRow, ChatSettings, QaPairRow } from '../domain/types.js';
import type { AccessService, Actor } from './access.js';
import { findOwnedChat, findPairOfChat, type ChatStores } from './chats.js';

/** What of a chat's settings the chatbot receives. */
export const providerSettings = (settings: ChatSettings): ConversationSettings => ({
  ...(settings.systemPrompt === undefined ? {} : { systemPrompt: settings.systemPrompt }),
  ...(settings.model === undefined ? {} : { model: settings.model }),
});

/** How many earlier answered pairs go upstream: the chat's own setting, else the service's. */
export const historyLimitOf = (chat: ChatRow | undefined, historyMaxTurns: number): number =>
  chat?.settings.historyMaxTurns ?? historyMaxTurns;

/** Stored history as the chatbot's turns (a pair without an answer is never sent). */
export const toTurns = (history: Pick<QaPairRow, 'question' | 'answer'>[]): ConversationTurn[] =>
  history.flatMap((turn) => (turn.answer === null ? [] : [{ question: turn.question, answer: turn.answer }]));

export interface ContextPreview {
  provider: string;
  historyTurns: number;
  body: Record<string, unknown>;
}

/** "What will be sent": the upstream request of a chat's next question, built as an ask builds it. */
export function createContextService(deps: {
  stores: ChatStores;
  access: AccessService;
  chatbot: ChatbotProvider;
  historyMaxTurns: number;
}) {
  const { stores, chatbot } = deps;
  return {
    /**
     * The exact request body the next question would send upstream (without that question),
     * for the active branch or after `parentId` (null: a new first question).
     */
    async preview(
      actor: Actor,
      input: { userId: string; chatId: string; parentId?: string | null },
    ): Promise<ContextPreview> {
      const chat = await findOwnedChat(deps, actor, input.userId, input.chatId);
      return this.previewOf(chat, input.parentId);
    },

    /** The preview of a chat already checked to be the actor's. */
    async previewOf(chat: ChatRow, parentId?: string | null): Promise<ContextPreview> {
      let head: string | null;
      if (parentId === undefined) {
        const active = chat.activeBranchId ? await stores.branches.find(chat.activeBranchId) : undefined;
        head = active?.headPairId ?? null;
      } else {
        head = parentId === null ? null : (await findPairOfChat(stores, chat.id, parentId)).id;
      }
      const history = toTurns(await stores.pairs.listHistory(head, historyLimitOf(chat, deps.historyMaxTurns)));
      return {
        provider: chatbot.name,
        historyTurns: history.length,
        body: chatbot.requestBody({ history, settings: providerSettings(chat.settings) }),
      };
    },

    /**
     * What the preview depends on besides the chat: the provider and the service's defaults
     * (an empty conversation's request body carries the default model and the like). A restart
     * with another provider or HISTORY_MAX_TURNS changes it, and so every context's ETag.
     */
    fingerprint: JSON.stringify([
      chatbot.name,
      deps.historyMaxTurns,
      chatbot.requestBody({ history: [], settings: {} }),
    ]),
  };
}

export type ContextService = ReturnType<typeof createContextService>;
