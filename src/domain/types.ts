/**
 * The rows and values both engines return. They are written here, once, and each engine's
 * Drizzle schema is checked against them at compile time (src/db/*\/schema.ts), so a column
 * added to one engine and not to the domain fails the typecheck.
 */

export interface StoredSearchResult {
  url: string;
  name: string;
  snippet: string;
}

/** Per-chat interaction settings; absent fields fall back to the service's configuration. */
export interface ChatSettings {
  systemPrompt?: string;
  model?: string;
  historyMaxTurns?: number;
}

export interface UserRow {
  id: string;
  name: string;
  createdAt: Date;
  /**
   * Bumped in the transaction of every change to one of the user's chat rows (created,
   * renamed, asked in, deleted...): the validator of the chat list.
   */
  chatsVersion: number;
  /**
   * The id of the user's latest event (0 before the first): bumped in the transaction that
   * records an event, which also takes the user's row, so ids follow commit order.
   */
  lastEventId: number;
}

/** Only a SHA-256 of the key is stored; `prefix` tells keys apart without revealing them. */
export interface ApiKeyRow {
  id: string;
  userId: string;
  keyHash: string;
  prefix: string;
  createdAt: Date;
}

export interface ChatRow {
  id: string;
  userId: string;
  title: string;
  createdAt: Date;
  updatedAt: Date;
  qaCount: number;
  lastQuestion: string | null;
  /** The `seq` of the chat's latest pair: the next one gets `lastSeq + 1`. */
  lastSeq: number;
  activeBranchId: string | null;
  forkedFromChatId: string | null;
  forkedFromPairId: string | null;
  settings: ChatSettings;
  /** For an imported chat: where it came from ("chatgpt:<id>", "export:<id>"), so a second import skips it. */
  importSource: string | null;
  /**
   * Bumped in the transaction of every change visible in any view of the chat (its row,
   * its pairs, its branches): the validator of the chat's views, and their cache key.
   */
  version: number;
}

export type QaPairStatus = 'pending' | 'streaming' | 'answered' | 'failed';

export interface QaPairRow {
  id: string;
  chatId: string;
  userId: string;
  /** The pair this one follows; null for a first question. */
  parentId: string | null;
  /** Asking order within the chat: parents always come before their children. */
  seq: number;
  question: string;
  answer: string | null;
  searchResults: StoredSearchResult[];
  status: QaPairStatus;
  errorCode: string | null;
  errorMessage: string | null;
  provider: string;
  model: string | null;
  upstreamRequestId: string | null;
  /** How many earlier turns were sent upstream with the question. */
  historyTurns: number;
  latencyMs: number | null;
  createdAt: Date;
  answeredAt: Date | null;
  /**
   * Once the pair is final (answered or failed): its public JSON, exactly as every view
   * writes it (src/domain/render.ts), so reads concatenate it instead of rebuilding it.
   * Null while pending or streaming (rendered live), and for pairs not rendered yet.
   */
  rendered: string | null;
  /** The same for its node in the chat's tree (the answer cut to a preview). */
  renderedNode: string | null;
}

export interface BranchRow {
  id: string;
  chatId: string;
  userId: string;
  /** Null for an unnamed branch (names are unique per chat). */
  name: string | null;
  /** The pair the branch leaves its parent path at; null when it starts at the root. */
  forkPairId: string | null;
  /** The branch's last pair; null while it is empty. */
  headPairId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface IdempotencyRow {
  userId: string;
  key: string;
  requestHash: string;
  state: 'running' | 'done';
  statusCode: number | null;
  response: string | null;
  createdAt: Date;
  expiresAt: Date;
}

/** A pair's place in the tree, without its content. */
export interface TreeNode {
  id: string;
  parentId: string | null;
}

export interface BranchWithHead {
  branch: BranchRow;
  headQuestion: string | null;
}

/** Where a page of a user's chats starts: after this (updatedAt, id), newest first. */
export interface ChatCursor {
  updatedAt: Date;
  id: string;
}
