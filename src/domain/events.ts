import { publicChat, publicPair, type PublicChat, type PublicPair } from './render.js';
import type { BranchRow, ChatRow, QaPairRow, StoredSearchResult } from './types.js';

/**
 * A user's events: what changed in their chats, as every listener (SSE, WebSocket, a
 * webhook) receives it. Events are written by the stores in the transaction of the change
 * they tell of, so a listener that resumes from an id misses nothing and a webhook is never
 * lost to a crash; `id` counts per user (1, 2, 3...) in commit order.
 */

export const RETAINED_EVENT_TYPES = [
  'chat.created',
  'chat.updated',
  'chat.deleted',
  'pair.started',
  'pair.search_results',
  'pair.completed',
  'branch.created',
  'branch.updated',
  'branch.deleted',
  'branch.activated',
] as const;

/**
 * Events kept in the log (and deliverable by webhooks). `pair.token` is not: an answer's
 * tokens are only relayed live, and the reattach route gives a late listener the text so far.
 */
export type RetainedEventType = (typeof RETAINED_EVENT_TYPES)[number];
export type EventType = RetainedEventType | 'pair.token';
export const EVENT_TYPES: readonly EventType[] = [...RETAINED_EVENT_TYPES, 'pair.token'];

/** A branch as events carry it: its row, without what needs the tree (length, active). */
export interface PublicBranchRef {
  id: string;
  name: string | null;
  fork_qa_pair_id: string | null;
  head_qa_pair_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface EventDataByType {
  'chat.created': { chat: PublicChat };
  'chat.updated': { chat: PublicChat };
  'chat.deleted': Record<string, never>;
  'pair.started': { branch_id: string; qa_pair: PublicPair };
  'pair.search_results': { qa_pair_id: string; search_results: StoredSearchResult[] };
  'pair.token': { qa_pair_id: string; text: string };
  'pair.completed': { qa_pair: PublicPair };
  'branch.created': { branch: PublicBranchRef };
  'branch.updated': { branch: PublicBranchRef };
  'branch.deleted': { branch_id: string; deleted_qa_pairs: number };
  'branch.activated': { branch_id: string };
}

/** An event as a store records it: everything but its id, which the store assigns. */
export type EventDraft = {
  [T in EventType]: { type: T; userId: string; chatId: string; at: Date; data: EventDataByType[T] };
}[EventType];

export type RetainedEventDraft = Extract<EventDraft, { type: RetainedEventType }>;

/** A recorded event, as the log returns it; `data` is its JSON text, written once. */
export interface StoredEvent {
  id: number;
  userId: string;
  chatId: string;
  type: RetainedEventType;
  at: Date;
  data: string;
}

export function publicBranchRef(branch: BranchRow): PublicBranchRef {
  return {
    id: branch.id,
    name: branch.name,
    fork_qa_pair_id: branch.forkPairId,
    head_qa_pair_id: branch.headPairId,
    created_at: branch.createdAt.toISOString(),
    updated_at: branch.updatedAt.toISOString(),
  };
}

/** The drafts the stores record, one builder per kind of change. */
export const eventOf = {
  chatCreated: (chat: ChatRow, at: Date): RetainedEventDraft => ({
    type: 'chat.created',
    userId: chat.userId,
    chatId: chat.id,
    at,
    data: { chat: publicChat(chat) },
  }),
  chatUpdated: (chat: ChatRow, at: Date): RetainedEventDraft => ({
    type: 'chat.updated',
    userId: chat.userId,
    chatId: chat.id,
    at,
    data: { chat: publicChat(chat) },
  }),
  chatDeleted: (chat: { id: string; userId: string }, at: Date): RetainedEventDraft => ({
    type: 'chat.deleted',
    userId: chat.userId,
    chatId: chat.id,
    at,
    data: {},
  }),
  pairStarted: (pair: QaPairRow, branchId: string, at: Date): RetainedEventDraft => ({
    type: 'pair.started',
    userId: pair.userId,
    chatId: pair.chatId,
    at,
    data: { branch_id: branchId, qa_pair: publicPair(pair) },
  }),
  searchResults: (
    pair: Pick<QaPairRow, 'id' | 'userId' | 'chatId'>,
    results: StoredSearchResult[],
    at: Date,
  ): RetainedEventDraft => ({
    type: 'pair.search_results',
    userId: pair.userId,
    chatId: pair.chatId,
    at,
    data: {
      qa_pair_id: pair.id,
      search_results: results.map(({ url, name, snippet }) => ({ url, name, snippet })),
    },
  }),
  pairCompleted: (pair: QaPairRow, at: Date): RetainedEventDraft => ({
    type: 'pair.completed',
    userId: pair.userId,
    chatId: pair.chatId,
    at,
    data: { qa_pair: publicPair(pair) },
  }),
  branchCreated: (branch: BranchRow, at: Date): RetainedEventDraft => ({
    type: 'branch.created',
    userId: branch.userId,
    chatId: branch.chatId,
    at,
    data: { branch: publicBranchRef(branch) },
  }),
  branchUpdated: (branch: BranchRow, at: Date): RetainedEventDraft => ({
    type: 'branch.updated',
    userId: branch.userId,
    chatId: branch.chatId,
    at,
    data: { branch: publicBranchRef(branch) },
  }),
  branchDeleted: (
    branch: Pick<BranchRow, 'id' | 'userId' | 'chatId'>,
    deletedPairs: number,
    at: Date,
  ): RetainedEventDraft => ({
    type: 'branch.deleted',
    userId: branch.userId,
    chatId: branch.chatId,
    at,
    data: { branch_id: branch.id, deleted_qa_pairs: deletedPairs },
  }),
  branchActivated: (chat: { id: string; userId: string }, branchId: string, at: Date): RetainedEventDraft => ({
    type: 'branch.activated',
    userId: chat.userId,
    chatId: chat.id,
    at,
    data: { branch_id: branchId },
  }),
};

/** How long, and how many, events each user's log keeps at least: whichever keeps more. */
export const EVENT_LOG_MIN_COUNT = 1_000;
export const EVENT_LOG_MIN_AGE_MS = 24 * 3_600_000;

/**
 * An event as every listener receives it (a stream's frame, a webhook's body):
 * `{ id, type, chat_id, at, data }`, its stored data written in as is.
 */
export function eventJson(event: Pick<StoredEvent, 'id' | 'chatId' | 'at' | 'data'> & { type: EventType }): string {
  return `{"id":${event.id}${eventJsonAfterId(event)}`;
}

/** `eventJson` after its id, for a statement that learns the id itself (PostgreSQL's outbox). */
export function eventJsonAfterId(event: Pick<StoredEvent, 'chatId' | 'at' | 'data'> & { type: EventType }): string {
  return `,"type":${JSON.stringify(event.type)},"chat_id":${JSON.stringify(event.chatId)},"at":"${event.at.toISOString()}","data":${event.data}}`;
}
