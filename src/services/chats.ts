import { randomUUID } from 'node:crypto';
import type { ChatCursor, ChatRow, QaPairRow } from '../domain/types.js';
import { badRequest, chatNotFound, qaPairNotFound } from '../domain/errors.js';
import type { PairFragment, Storage } from '../repositories/contract.js';
import type { AccessService, Actor } from './access.js';
import { requireText } from '../domain/text.js';
import { isStorableDate } from '../domain/dates.js';
import { indexTree } from '../domain/tree.js';
import type { ChatView, RenderedPair } from '../domain/views.js';
import { pairJson } from '../domain/render.js';
import { DEFAULT_CHAT_TITLE, MAX_PAIRS_IN_VIEW, TITLE_MAX_LENGTH } from '../domain/limits.js';
import { applySettings, type SettingsChange } from '../domain/settings.js';

export interface ChatPage {
  chats: ChatRow[];
  nextCursor: string | null;
}

/** Cursors are opaque to clients: the sort key of the last chat of a page. */
export function encodeChatCursor(chat: Pick<ChatRow, 'updatedAt' | 'id'>): string {
  return Buffer.from(`${chat.updatedAt.getTime()}:${chat.id}`, 'utf8').toString('base64url');
}

export function decodeChatCursor(cursor: string): ChatCursor {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d{1,15}):([0-9a-f-]{36})$/.exec(decoded);
  // A forged cursor must not reach the database as a date it rejects.
  if (!match?.[1] || !match[2] || !isStorableDate(new Date(Number(match[1])))) {
    throw badRequest('INVALID_CURSOR', 'cursor is not one this server returned');
  }
  return { updatedAt: new Date(Number(match[1])), id: match[2] };
}

/** The chat if it belongs to `userId`; a chat of anyone else is indistinguishable from none. */
/** The stores the chat rules read. */
export type ChatStores = Pick<Storage, 'chats' | 'pairs' | 'branches'>;

export async function findOwnedChat(
  deps: { stores: Pick<Storage, 'chats'>; access: AccessService },
  actor: Actor,
  userId: string,
  chatId: string,
): Promise<ChatRow> {
  await deps.access.assertActsFor(actor, userId);
  const chat = await deps.stores.chats.findById(chatId);
  if (!chat || chat.userId !== userId) throw chatNotFound();
  return chat;
}

/** The pair, if it belongs to `chatId`; a pair of any other chat is a 404 like a missing one. */
export async function findPairOfChat(
  stores: Pick<Storage, 'pairs'>,
  chatId: string,
  pairId: string,
): Promise<QaPairRow> {
  const pair = await stores.pairs.find(pairId);
  if (!pair || pair.chatId !== chatId) throw qaPairNotFound();
  return pair;
}

/**
 * The JSON of each fragment: the stored rendering, or for a pair without one (still
 * running, or not backfilled yet) its row rendered live, by the same renderer.
 */
export async function renderFragments(
  stores: Pick<Storage, 'pairs'>,
  fragments: readonly PairFragment[],
  render: (pair: QaPairRow) => string,
): Promise<RenderedPair[]> {
  const rendered: RenderedPair[] = new Array<RenderedPair>(fragments.length);
  for (const [index, fragment] of fragments.entries()) {
    let json = fragment.json;
    if (json === null) {
      const row = await stores.pairs.find(fragment.id);
      // Deleted between the two reads (a branch deletion): left out, as a read after it would.
      if (!row) continue;
      json = render(row);
    }
    rendered[index] = { id: fragment.id, parentId: fragment.parentId, json };
  }
  return rendered.filter((pair) => pair !== undefined);
}

export function createChatService(deps: { stores: ChatStores; access: AccessService }) {
  const { stores, access } = deps;
  const ownedChat = (actor: Actor, userId: string, chatId: string) => findOwnedChat(deps, actor, userId, chatId);

  return {
    async createChat(
      actor: Actor,
      userId: string,
      input: { title?: string; settings?: SettingsChange },
    ): Promise<ChatRow> {
      await access.assertActsFor(actor, userId);
      const title =
        input.title === undefined ? DEFAULT_CHAT_TITLE : requireText('title', input.title, TITLE_MAX_LENGTH);
      const settings = applySettings({}, input.settings ?? {});
      const now = new Date();
      return stores.chats.create(
        { id: randomUUID(), userId, title, settings, createdAt: now, updatedAt: now },
        randomUUID(),
      );
    },

    async listChats(actor: Actor, userId: string, options: { limit: number; cursor?: string }): Promise<ChatPage> {
      await access.assertActsFor(actor, userId);
      const cursor = options.cursor === undefined ? undefined : decodeChatCursor(options.cursor);
      // One extra row tells whether another page exists without a count query.
      const rows = await stores.chats.listForUser(userId, options.limit + 1, cursor);
      const page = rows.slice(0, options.limit);
      const last = page.at(-1);
      return { chats: page, nextCursor: rows.length > options.limit && last ? encodeChatCursor(last) : null };
    },

    async getChat(actor: Actor, userId: string, chatId: string): Promise<ChatView> {
      return this.viewOf(await ownedChat(actor, userId, chatId));
    },

    /** The view of a chat already checked to be the actor's (the view service reads it first for its version). */
    async viewOf(chat: ChatRow): Promise<ChatView> {
      const branchRows = (await stores.branches.listOfChat(chat.id)).map((row) => row.branch);
      const active = branchRows.find((branch) => branch.id === chat.activeBranchId);
      const head = active?.headPairId ?? null;
      const [fragments, nodes] = await Promise.all([
        stores.pairs.listPathFragments(head, MAX_PAIRS_IN_VIEW),
        stores.pairs.listTree(chat.id),
      ]);
      const pairs = await renderFragments(stores, fragments, pairJson);
      const tree = indexTree(nodes, branchRows, chat.activeBranchId);
      const length = head === null ? 0 : tree.depthOf(head) + 1;
      return { chat, pairs, earlierPairs: Math.max(0, length - pairs.length), branches: branchRows, tree };
    },

    /** Renames a chat and/or changes its settings. */
    async updateChat(
      actor: Actor,
      userId: string,
      chatId: string,
      input: { title?: string; settings?: SettingsChange },
    ): Promise<ChatRow> {
      const chat = await ownedChat(actor, userId, chatId);
      if (input.title === undefined && input.settings === undefined) {
        throw badRequest('VALIDATION_ERROR', 'Send title, settings or both');
      }
      const title = input.title === undefined ? undefined : requireText('title', input.title, TITLE_MAX_LENGTH);
      const settings = input.settings === undefined ? undefined : applySettings(chat.settings, input.settings);
      const updated = await stores.chats.update(
        chat.id,
        { ...(title === undefined ? {} : { title }), ...(settings === undefined ? {} : { settings }) },
        new Date(),
      );
      if (!updated) throw chatNotFound();
      return updated;
    },

    async deleteChat(actor: Actor, userId: string, chatId: string): Promise<void> {
      const chat = await ownedChat(actor, userId, chatId);
      await stores.chats.delete(chat.id);
    },
  };
}

export type ChatService = ReturnType<typeof createChatService>;
