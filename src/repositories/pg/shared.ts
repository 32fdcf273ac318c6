import { eq, getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { PgDb } from '../../db/pg/client.js';
import { branches, chats, deletedChats, qaPairs, users } from '../../db/pg/schema.js';
import { chatWithMainBranch, type NewChatFields } from '../../domain/rows.js';
import type { ChatRow, QaPairRow } from '../../domain/types.js';

/**
 * What several PostgreSQL stores share: the path walk and the rows more than one
 * aggregate writes (a chat with its main branch is written by chats, asks and forks).
 * Each helper takes the transaction (or the pool) it runs on.
 */

export type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0];
export type Runner = PgDb | Tx;

/** PostgreSQL integers are 32-bit: "no limit" is the largest of them. */
export const NO_LIMIT = 2_147_483_647;
export const clampLimit = (limit: number) => Math.min(limit, NO_LIMIT);

/**
 * The path from `headPairId` back towards the first pair as a table `path(pid, depth)`,
 * depth 0 being the head, at most `maxDepth` of them: each pair is then joined once by
 * its primary key, as SQLite does by rowid.
 */
export function pathWalk(headPairId: SQL, maxDepth: SQL): SQL {
  return sql`(WITH RECURSIVE walk(pid, parent, depth) AS (
      SELECT id, parent_id, 0 FROM ${qaPairs} WHERE id = ${headPairId}
      UNION ALL
      SELECT p.id, p.parent_id, walk.depth + 1 FROM walk JOIN ${qaPairs} p ON p.id = walk.parent
      WHERE walk.depth + 1 < ${maxDepth}
    ) SELECT pid, depth FROM walk) AS path`;
}
export const pairColumns = getTableColumns(qaPairs);
export const onPath = sql`${qaPairs.id} = path.pid`;
export const byDepth = sql`path.depth`;

/** Takes the chat's row lock: what orders asks, branch changes and deletions of one chat. */
export async function lockChat(tx: Tx, chatId: string): Promise<void> {
  await tx.select({ id: chats.id }).from(chats).where(eq(chats.id, chatId)).for('update');
}

export async function wasDeleted(runner: Runner, id: string): Promise<boolean> {
  const [row] = await runner.select({ id: deletedChats.id }).from(deletedChats).where(eq(deletedChats.id, id));
  return row !== undefined;
}

export async function countBranches(runner: Runner, chatId: string): Promise<number> {
  const [row] = await runner
    .select({ n: sql<number>`count(*)::int` })
    .from(branches)
    .where(eq(branches.chatId, chatId));
  return row?.n ?? 0;
}

/** The latest `limit` answered pairs on the path to `headPairId`, oldest first. */
export async function answeredHistory(
  runner: Runner,
  headPairId: string | null,
  limit: number,
): Promise<Pick<QaPairRow, 'question' | 'answer'>[]> {
  if (headPairId === null || limit === 0) return [];
  const rows = await runner
    .select({ question: qaPairs.question, answer: qaPairs.answer })
    .from(pathWalk(sql`${headPairId}::text`, sql`${NO_LIMIT}::int`))
    .innerJoin(qaPairs, onPath)
    .where(eq(qaPairs.status, 'answered'))
    .orderBy(byDepth)
    .limit(clampLimit(limit));
  return rows.reverse();
}

/**
 * Records a change visible in the chat's views: its version and its owner's chat-list
 * version go up, in one statement of the change's transaction (the chat's row before the
 * user's, the order every transaction here takes them in).
 */
export async function chatChanged(tx: Tx, chatId: string): Promise<void> {
  await tx.execute(sql`WITH changed AS (
      UPDATE ${chats} SET version = version + 1 WHERE id = ${chatId} RETURNING user_id
    ) UPDATE ${users} SET chats_version = chats_version + 1 WHERE id IN (SELECT user_id FROM changed)`);
}

/** Records a change of the user's chat list that no remaining chat carries (a creation, a deletion). */
export async function chatListChanged(tx: Tx, userId: string): Promise<void> {
  await tx
    .update(users)
    .set({ chatsVersion: sql`${users.chatsVersion} + 1` })
    .where(eq(users.id, userId));
}

/** Inserts a chat and its `main` branch, active and empty; the caller holds the transaction. */
export async function insertChatWithMainBranch(tx: Tx, chat: NewChatFields, mainBranchId: string): Promise<ChatRow> {
  const rows = chatWithMainBranch(chat, mainBranchId);
  const [row] = await tx.insert(chats).values(rows.chat).returning();
  if (!row) throw new Error(`chat ${chat.id} was not inserted`);
  await tx.insert(branches).values(rows.branch);
  await chatListChanged(tx, chat.userId);
  return row;
}

/** Inserts rows in batches of 500, in order (parents before their children). */
export async function insertInBatches<T>(rows: readonly T[], insert: (batch: T[]) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < rows.length; start += 500) await insert(rows.slice(start, start + 500));
}
