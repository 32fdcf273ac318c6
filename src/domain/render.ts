import { firstCharacters } from './text.js';
import type { ChatRow, ChatSettings, QaPairRow, StoredSearchResult } from './types.js';

/**
 * A pair's public fields, rendered once. Every view of a pair (an ask's answer, the chat
 * view, the export) writes exactly this object, in this key order; the tree writes
 * `PublicTreeNode`. Once a pair is final its JSON is stored with the row (QaPairRow
 * .rendered) and views concatenate the stored text. The API's TypeBox schemas
 * (src/schemas/pairs.ts, branches.ts) are checked against these types at compile time, and
 * tests/render.test.ts checks that the text equals what the response serialiser writes.
 */
export interface PublicPair {
  id: string;
  parent_id: string | null;
  question: string;
  answer: string | null;
  search_results: StoredSearchResult[];
  status: QaPairRow['status'];
  error: { code: string; message: string } | null;
  created_at: string;
  answered_at: string | null;
  provider: string;
  model: string | null;
  upstream_request_id: string | null;
  latency_ms: number | null;
  history_turns: number;
}

export interface PublicTreeNode {
  id: string;
  parent_id: string | null;
  question: string;
  answer_preview: string | null;
  status: QaPairRow['status'];
  created_at: string;
}

/** How much of an answer a tree node shows. */
export const ANSWER_PREVIEW_LENGTH = 200;

/**
 * The generation of every public JSON shape (pairs, nodes, chat views). It is part of each
 * ETag, so a release that changes a shape changes every validator clients hold. Such a
 * release also clears the stored renderings in a migration (`rendered = null`): the start-up
 * backfill renders them again and reads render the missing ones live meanwhile.
 */
export const RENDERING = 1;

type PairFields = Omit<QaPairRow, 'rendered' | 'renderedNode'>;

export function publicPair(pair: PairFields): PublicPair {
  return {
    id: pair.id,
    parent_id: pair.parentId,
    question: pair.question,
    answer: pair.answer,
    // Only the schema's fields, in its order, whatever the stored objects carry (jsonb
    // reorders keys).
    search_results: pair.searchResults.map((result) => ({
      url: result.url,
      name: result.name,
      snippet: result.snippet,
    })),
    status: pair.status,
    error: pair.errorCode === null ? null : { code: pair.errorCode, message: pair.errorMessage ?? '' },
    created_at: pair.createdAt.toISOString(),
    answered_at: pair.answeredAt === null ? null : pair.answeredAt.toISOString(),
    provider: pair.provider,
    model: pair.model,
    upstream_request_id: pair.upstreamRequestId,
    latency_ms: pair.latencyMs,
    history_turns: pair.historyTurns,
  };
}

export function publicTreeNode(pair: PairFields): PublicTreeNode {
  return {
    id: pair.id,
    parent_id: pair.parentId,
    question: pair.question,
    answer_preview: pair.answer === null ? null : firstCharacters(pair.answer, ANSWER_PREVIEW_LENGTH),
    status: pair.status,
    created_at: pair.createdAt.toISOString(),
  };
}

/** Whether a pair will not change any more: only then is its rendering stored. */
export function isFinal(status: QaPairRow['status']): boolean {
  return status === 'answered' || status === 'failed';
}

/** The stored renderings of a pair: set for a final pair, null while it may still change. */
export function renderingsOf(pair: PairFields): Pick<QaPairRow, 'rendered' | 'renderedNode'> {
  if (!isFinal(pair.status)) return { rendered: null, renderedNode: null };
  return { rendered: JSON.stringify(publicPair(pair)), renderedNode: JSON.stringify(publicTreeNode(pair)) };
}

/** The pair with its renderings (replacing any it carried, as a copy under a new id must). */
export function withRenderings(pair: PairFields): QaPairRow {
  return { ...pair, ...renderingsOf(pair) };
}

/** The pair's JSON: the stored text when there is one, rendered live otherwise. */
export function pairJson(pair: QaPairRow): string {
  return pair.rendered ?? JSON.stringify(publicPair(pair));
}

export function treeNodeJson(pair: QaPairRow): string {
  return pair.renderedNode ?? JSON.stringify(publicTreeNode(pair));
}

/** A chat's public fields: the API's chat (src/schemas/chats.ts is checked against it), as lists and events write it. */
export interface PublicChat {
  id: string;
  user_id: string;
  title: string;
  created_at: string;
  updated_at: string;
  qa_count: number;
  last_question: string | null;
  active_branch_id: string | null;
  settings: { system_prompt: string | null; model: string | null; history_max_turns: number | null };
  forked_from: { chat_id: string; qa_pair_id: string } | null;
}

export function publicSettings(settings: ChatSettings): PublicChat['settings'] {
  return {
    system_prompt: settings.systemPrompt ?? null,
    model: settings.model ?? null,
    history_max_turns: settings.historyMaxTurns ?? null,
  };
}

/** Where a forked chat's history was copied from (the chat view and the export both say it). */
export function publicForkedFrom(chat: ChatRow): PublicChat['forked_from'] {
  return chat.forkedFromChatId !== null && chat.forkedFromPairId !== null
    ? { chat_id: chat.forkedFromChatId, qa_pair_id: chat.forkedFromPairId }
    : null;
}

export function publicChat(chat: ChatRow): PublicChat {
  return {
    id: chat.id,
    user_id: chat.userId,
    title: chat.title,
    created_at: chat.createdAt.toISOString(),
    updated_at: chat.updatedAt.toISOString(),
    qa_count: chat.qaCount,
    last_question: chat.lastQuestion,
    active_branch_id: chat.activeBranchId,
    settings: publicSettings(chat.settings),
    forked_from: publicForkedFrom(chat),
  };
}
