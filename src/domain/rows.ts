import { MAIN_BRANCH_NAME } from './limits.js';
import type { BranchRow, ChatRow, ChatSettings, IdempotencyRow, QaPairRow } from './types.js';

/**
 * The rows the stores write, built once here so that both engines insert exactly the same
 * values: what differs between them is only how a statement is sent.
 */

export interface NewChatFields {
  id: string;
  userId: string;
  title: string;
  createdAt: Date;
  updatedAt: Date;
  settings?: ChatSettings;
  forkedFromChatId?: string | null;
  forkedFromPairId?: string | null;
}

/** A new chat and its `main` branch, empty and active. */
export function chatWithMainBranch(
  chat: NewChatFields,
  mainBranchId: string,
): {
  chat: Pick<
    ChatRow,
    | 'id'
    | 'userId'
    | 'title'
    | 'createdAt'
    | 'updatedAt'
    | 'settings'
    | 'forkedFromChatId'
    | 'forkedFromPairId'
    | 'activeBranchId'
  >;
  branch: BranchRow;
} {
  return {
    chat: {
      id: chat.id,
      userId: chat.userId,
      title: chat.title,
      createdAt: chat.createdAt,
      updatedAt: chat.updatedAt,
      settings: chat.settings ?? {},
      forkedFromChatId: chat.forkedFromChatId ?? null,
      forkedFromPairId: chat.forkedFromPairId ?? null,
      activeBranchId: mainBranchId,
    },
    branch: {
      id: mainBranchId,
      chatId: chat.id,
      userId: chat.userId,
      name: MAIN_BRANCH_NAME,
      forkPairId: null,
      headPairId: null,
      createdAt: chat.createdAt,
      updatedAt: chat.updatedAt,
    },
  };
}

/** The question of an ask as it is first stored: no answer yet. */
export function askedPair(input: {
  pairId: string;
  chatId: string;
  userId: string;
  parentId: string | null;
  seq: number;
  question: string;
  status: 'pending' | 'streaming';
  provider: string;
  historyTurns: number;
  now: Date;
}): Pick<
  QaPairRow,
  'id' | 'chatId' | 'userId' | 'parentId' | 'seq' | 'question' | 'status' | 'provider' | 'historyTurns' | 'createdAt'
> {
  return {
    id: input.pairId,
    chatId: input.chatId,
    userId: input.userId,
    parentId: input.parentId,
    seq: input.seq,
    question: input.question,
    status: input.status,
    provider: input.provider,
    historyTurns: input.historyTurns,
    createdAt: input.now,
  };
}

/** The unnamed branch an ask starts when it extends none: from its parent to the new pair. */
export function branchOfAsk(input: {
  branchId: string;
  chatId: string;
  userId: string;
  parentId: string | null;
  pairId: string;
  now: Date;
}): BranchRow {
  return {
    id: input.branchId,
    chatId: input.chatId,
    userId: input.userId,
    name: null,
    forkPairId: input.parentId,
    headPairId: input.pairId,
    createdAt: input.now,
    updatedAt: input.now,
  };
}

/** An idempotency key claimed by a request that is still running. */
export function runningKey(input: {
  userId: string;
  key: string;
  requestHash: string;
  now: Date;
  expiresAt: Date;
}): IdempotencyRow {
  return {
    userId: input.userId,
    key: input.key,
    requestHash: input.requestHash,
    state: 'running',
    statusCode: null,
    response: null,
    createdAt: input.now,
    expiresAt: input.expiresAt,
  };
}
