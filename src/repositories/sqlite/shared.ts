import { eq, getTableColumns, sql, type Placeholder, type SQL } from 'drizzle-orm';
import type { SqliteDb } from '../../db/sqlite/client.js';
import { branches, chats, deletedChats, qaPairs, users } from '../../db/sqlite/schema.js';
import { chatWithMainBranch, type NewChatFields } from '../../domain/rows.js';
import type { ChatRow, QaPairRow } from '../../domain/types.js';
import type { PairFragment } from '../contract.js';
import type { SqliteEventLog } from './events.js';

/**
 * What several SQLite stores share: the path walk and the statements of rows that more
 * than one aggregate writes (a chat with its main branch is written by chats, asks and
 * forks). Statements are prepared once per database: building and preparing them per
 * call cost more than running them.
 */

/**
 * A placeholder for an UPDATE's SET. Drizzle binds it through the column's encoder (Dates
 * to milliseconds, JSON to text) as it does in INSERT values, but its types only accept
 * literal values there, hence the cast to the column's value type.
 */
export function setTo<T>(name: string): T {
  return sql.placeholder(name) as unknown as T;
}

/**
 * The path from `headPairId` back towards the first pair as a table `path(rid, depth)`:
 * the pairs' rowids, depth 0 being the head, at most `maxDepth` of them. Walking by rowid
 * and stopping at `maxDepth` lets the caller join each pair once, straight from the table,
 * instead of matching ids against a list and sorting the whole path.
 */
function pathWalk(headPairId: Placeholder | string, maxDepth: Placeholder | number): SQL {
  return sql`(WITH RECURSIVE walk(rid, parent, depth) AS (
      SELECT rowid, parent_id, 0 FROM ${qaPairs} WHERE id = ${headPairId}
      UNION ALL
      SELECT p.rowid, p.parent_id, walk.depth + 1 FROM walk JOIN ${qaPairs} p ON p.id = walk.parent
      WHERE walk.depth + 1 < ${maxDepth}
    ) SELECT rid, depth FROM walk) AS path`;
}
const onPath = sql`${qaPairs}.rowid = path.rid`;
const byDepth = sql`path.depth`;

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export function createSharedStatements(db: SqliteDb, log: SqliteEventLog) {
  const p = sql.placeholder;
  const findChat = db
    .select()
    .from(chats)
    .where(eq(chats.id, p('id')))
    .prepare();
  const findBranch = db
    .select()
    .from(branches)
    .where(eq(branches.id, p('id')))
    .prepare();
  const wasDeleted = db
    .select({ id: deletedChats.id })
    .from(deletedChats)
    .where(eq(deletedChats.id, p('id')))
    .prepare();
  // The latest `limit` pairs of a path, newest first.
  const path = db
    .select(getTableColumns(qaPairs))
    .from(pathWalk(p('headPairId'), p('limit')))
    .innerJoin(qaPairs, onPath)
    .orderBy(byDepth)
    .prepare();
  const pathFragments = db
    .select({ id: qaPairs.id, parentId: qaPairs.parentId, json: qaPairs.rendered })
    .from(pathWalk(p('headPairId'), p('limit')))
    .innerJoin(qaPairs, onPath)
    .orderBy(byDepth)
    .prepare();
  // The latest `limit` answered pairs of a path, newest first: what is sent upstream as history.
  const history = db
    .select({ question: qaPairs.question, answer: qaPairs.answer })
    .from(pathWalk(p('headPairId'), Number.MAX_SAFE_INTEGER))
    .innerJoin(qaPairs, onPath)
    .where(eq(qaPairs.status, 'answered'))
    .orderBy(byDepth)
    .limit(p('limit'))
    .prepare();
  const countBranches = db
    .select({ n: sql<number>`count(*)` })
    .from(branches)
    .where(eq(branches.chatId, p('chatId')))
    .prepare();
  const insertChat = db
    .insert(chats)
    .values({
      id: p('id'),
      userId: p('userId'),
      title: p('title'),
      createdAt: p('createdAt'),
      updatedAt: p('updatedAt'),
      settings: p('settings'),
      forkedFromChatId: p('forkedFromChatId'),
      forkedFromPairId: p('forkedFromPairId'),
      activeBranchId: p('activeBranchId'),
    })
    .returning()
    .prepare();
  const insertBranch = db
    .insert(branches)
    .values({
      id: p('id'),
      chatId: p('chatId'),
      userId: p('userId'),
      name: p('name'),
      forkPairId: p('forkPairId'),
      headPairId: p('headPairId'),
      createdAt: p('createdAt'),
      updatedAt: p('updatedAt'),
    })
    .prepare();

  const bumpChat = db
    .update(chats)
    .set({ version: sql`${chats.version} + 1` })
    .where(eq(chats.id, p('id')))
    .returning({ userId: chats.userId })
    .prepare();
  const bumpUser = db
    .update(users)
    .set({ chatsVersion: sql`${users.chatsVersion} + 1` })
    .where(eq(users.id, p('id')))
    .prepare();

  return {
    findChat,
    findBranch,
    /** Records an event in the caller's transaction (see ./events.ts). */
    recordEvent: log.record,
    /**
     * Records a change visible in the chat's views: its version and its owner's chat-list
     * version go up. Called inside the transaction of the change.
     */
    chatChanged(chatId: string): void {
      const chat = bumpChat.get({ id: chatId });
      if (chat) bumpUser.run({ id: chat.userId });
    },
    /** Records a change of the user's chat list that no remaining chat carries (a deletion). */
    chatListChanged(userId: string): void {
      bumpUser.run({ id: userId });
    },
    insertBranch,
    wasDeleted: (id: string) => wasDeleted.get({ id }) !== undefined,
    countBranches: (chatId: string) => countBranches.get({ chatId })?.n ?? 0,

    /** The pairs from the first one to `headPairId`, first first (the latest `limit` of them). */
    listPath(headPairId: string | null, limit = Number.MAX_SAFE_INTEGER): QaPairRow[] {
      return headPairId === null ? [] : path.all({ headPairId, limit }).reverse();
    },

    /** `listPath` as stored renderings. */
    listPathFragments(headPairId: string | null, limit: number): PairFragment[] {
      return headPairId === null ? [] : pathFragments.all({ headPairId, limit }).reverse();
    },

    /** The latest `limit` answered pairs on the path to `headPairId`, oldest first. */
    answeredHistory(headPairId: string | null, limit: number): Pick<QaPairRow, 'question' | 'answer'>[] {
      if (headPairId === null || limit === 0) return [];
      return history.all({ headPairId, limit }).reverse();
    },

    /** Inserts a chat and its `main` branch, active and empty; the caller holds the transaction. */
    insertChatWithMainBranch(chat: NewChatFields, mainBranchId: string): ChatRow {
      const rows = chatWithMainBranch(chat, mainBranchId);
      const row = insertChat.get(rows.chat);
      if (!row) throw new Error(`chat ${chat.id} was not inserted`);
      insertBranch.run({ ...rows.branch });
      bumpUser.run({ id: chat.userId });
      return row;
    },
  };
}

export type SharedStatements = ReturnType<typeof createSharedStatements>;
