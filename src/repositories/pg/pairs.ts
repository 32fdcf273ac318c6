import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { PgDb } from '../../db/pg/client.js';
import { branches, chats, pairProgress, pendingPairs, qaPairs } from '../../db/pg/schema.js';
import { eventOf } from '../../domain/events.js';
import { notifyProgress, recordEvent } from './events.js';
import { askLookup, completionColumns, landAsk, type PairOutcome } from '../../domain/asks.js';
import { MAX_BRANCHES_PER_CHAT } from '../../domain/limits.js';
import { askedPair, branchOfAsk } from '../../domain/rows.js';
import type { ChatRow, QaPairRow, TreeNode } from '../../domain/types.js';
import type { BeginAskInput, BeginAskResult, PairFragment, PairStore } from '../contract.js';
import { renderingsOf } from '../../domain/render.js';
import {
  chatChanged,
  answeredHistory,
  byDepth,
  clampLimit,
  countBranches,
  insertChatWithMainBranch,
  lockChat,
  NO_LIMIT,
  onPath,
  pairColumns,
  pathWalk,
  wasDeleted,
  type Tx,
} from './shared.js';

/**
 * Question/answer pairs on PostgreSQL. Unfinished pairs are owned by the instance that
 * began them (`pending_pairs`), so that recovery fails only the pairs of instances that
 * stopped (./liveness.ts).
 */
export function createPgPairStore(db: PgDb, options: { instanceId: string }): PairStore {
  const p = sql.placeholder;
  const find = db
    .select()
    .from(qaPairs)
    .where(eq(qaPairs.id, p('id')))
    .prepare('pairs_find_by_id');
  const path = db
    .select(pairColumns)
    .from(pathWalk(sql`${p('headPairId')}::text`, sql`${p('limit')}::int`))
    .innerJoin(qaPairs, onPath)
    .orderBy(byDepth)
    .prepare('pairs_path');
  const listOfChat = db
    .select()
    .from(qaPairs)
    .where(eq(qaPairs.chatId, p('chatId')))
    .orderBy(asc(qaPairs.seq))
    .limit(p('limit'))
    .prepare('pairs_of_chat');
  const skeleton = db
    .select({ id: qaPairs.id, parentId: qaPairs.parentId })
    .from(qaPairs)
    .where(eq(qaPairs.chatId, p('chatId')))
    .orderBy(asc(qaPairs.seq))
    .prepare('pairs_tree');

  const pathFragments = db
    .select({ id: qaPairs.id, parentId: qaPairs.parentId, json: qaPairs.rendered })
    .from(pathWalk(sql`${p('headPairId')}::text`, sql`${p('limit')}::int`))
    .innerJoin(qaPairs, onPath)
    .orderBy(byDepth)
    .prepare('pairs_path_fragments');
  const treeFragments = db
    .select({ id: qaPairs.id, parentId: qaPairs.parentId, json: qaPairs.renderedNode })
    .from(qaPairs)
    .where(eq(qaPairs.chatId, p('chatId')))
    .orderBy(asc(qaPairs.seq))
    .limit(p('limit'))
    .prepare('pairs_tree_fragments');

  async function beginAsk(tx: Tx, input: BeginAskInput): Promise<BeginAskResult> {
    let created: ChatRow | undefined;
    if (input.newChat) {
      // A deleted chat's id is never used again: its tombstone was committed with the
      // deletion, so an ask that no longer finds the chat finds the tombstone.
      if (await wasDeleted(tx, input.chatId)) return { status: 'chat_gone' };
      created = await insertChatWithMainBranch(
        tx,
        {
          id: input.chatId,
          userId: input.userId,
          title: input.newChat.title,
          createdAt: input.now,
          updatedAt: input.now,
        },
        input.newChat.mainBranchId,
      );
    }
    // The row lock makes `last_seq + 1` and the branch choice safe even without the
    // chat's advisory lock (which already orders asks across instances).
    const [chat] = await tx.select().from(chats).where(eq(chats.id, input.chatId)).for('update');
    if (!chat) return { status: 'chat_gone' };
    if (!chat.activeBranchId) throw new Error(`chat ${input.chatId} has no active branch`);

    const lookup = askLookup(input.placement);
    const { parentId, extendBranchId } = landAsk(lookup, {
      activeBranchId: chat.activeBranchId,
      ...(lookup.kind === 'active-branch'
        ? { activeBranch: (await tx.select().from(branches).where(eq(branches.id, chat.activeBranchId)))[0] }
        : {}),
      ...(lookup.kind === 'branches-ending-at'
        ? {
            branchesEndingAt: await tx
              .select({ id: branches.id, updatedAt: branches.updatedAt })
              .from(branches)
              .where(
                and(
                  eq(branches.chatId, input.chatId),
                  lookup.parentId === null ? isNull(branches.headPairId) : eq(branches.headPairId, lookup.parentId),
                ),
              ),
          }
        : {}),
    });
    if (!extendBranchId && (await countBranches(tx, input.chatId)) >= MAX_BRANCHES_PER_CHAT) {
      return { status: 'too_many_branches' };
    }

    const history = await answeredHistory(tx, parentId, input.historyLimit);
    const seq = chat.lastSeq + 1;
    const [pair] = await tx
      .insert(qaPairs)
      .values(askedPair({ ...input, parentId, seq, historyTurns: history.length }))
      .returning();
    if (!pair) throw new Error(`pair ${input.pairId} was not inserted`);
    await tx
      .insert(pendingPairs)
      .values({ qaPairId: pair.id, userId: input.userId, instanceId: options.instanceId, createdAt: input.now });

    const branchId = extendBranchId ?? input.newBranchId;
    const newBranch = extendBranchId ? undefined : branchOfAsk({ ...input, branchId: input.newBranchId, parentId });
    if (extendBranchId) {
      await tx
        .update(branches)
        .set({ headPairId: pair.id, updatedAt: input.now })
        .where(eq(branches.id, extendBranchId));
    } else if (newBranch) {
      await tx.insert(branches).values(newBranch);
    }
    await tx
      .update(chats)
      .set({
        lastSeq: seq,
        qaCount: sql`${chats.qaCount} + 1`,
        lastQuestion: input.question,
        updatedAt: input.now,
        activeBranchId: branchId,
      })
      .where(eq(chats.id, input.chatId));
    await chatChanged(tx, input.chatId);
    if (created) await recordEvent(tx, eventOf.chatCreated(created, input.now));
    if (newBranch) await recordEvent(tx, eventOf.branchCreated(newBranch, input.now));
    if (branchId !== chat.activeBranchId) await recordEvent(tx, eventOf.branchActivated(chat, branchId, input.now));
    await recordEvent(tx, eventOf.pairStarted(pair, branchId, input.now));
    return { status: 'begun', pair, history, branchId };
  }

  return {
    async find(id: string): Promise<QaPairRow | undefined> {
      return (await find.execute({ id }))[0];
    },

    async listPath(headPairId: string | null, limit = NO_LIMIT): Promise<QaPairRow[]> {
      if (headPairId === null) return [];
      return (await path.execute({ headPairId, limit: clampLimit(limit) })).reverse();
    },

    async listHistory(headPairId: string | null, limit: number) {
      return answeredHistory(db, headPairId, limit);
    },

    async listOfChat(chatId: string, limit: number): Promise<QaPairRow[]> {
      return listOfChat.execute({ chatId, limit: clampLimit(limit) });
    },

    async listTree(chatId: string): Promise<TreeNode[]> {
      return skeleton.execute({ chatId });
    },

    async listPathFragments(headPairId: string | null, limit: number): Promise<PairFragment[]> {
      if (headPairId === null) return [];
      return (await pathFragments.execute({ headPairId, limit: clampLimit(limit) })).reverse();
    },

    async listTreeFragments(chatId: string, limit: number): Promise<PairFragment[]> {
      return treeFragments.execute({ chatId, limit: clampLimit(limit) });
    },

    async renderMissing(limit: number): Promise<number> {
      const rows = await db
        .select()
        .from(qaPairs)
        .where(sql`${qaPairs.rendered} is null and ${qaPairs.status} in ('answered', 'failed')`)
        .limit(clampLimit(limit));
      if (rows.length === 0) return 0;
      const renderings = rows.map((row) => ({ id: row.id, ...renderingsOf(row) }));
      // One statement for the batch (each list one array parameter); another instance backfilling the same rows at the same
      // time writes the same text.
      await db.execute(sql`
        UPDATE ${qaPairs} SET rendered = batch.rendered, rendered_node = batch.rendered_node
        FROM unnest(
          ${sql.param(renderings.map((row) => row.id))}::text[],
          ${sql.param(renderings.map((row) => row.rendered))}::text[],
          ${sql.param(renderings.map((row) => row.renderedNode))}::text[]
        ) AS batch(id, rendered, rendered_node)
        WHERE ${qaPairs.id} = batch.id AND ${qaPairs.rendered} IS NULL`);
      return rows.length;
    },

    async beginAsk(input: BeginAskInput): Promise<BeginAskResult> {
      // Every outcome other than 'begun' is decided before anything is written, so
      // returning it commits nothing (a new chat has one branch, never too many).
      return db.transaction((tx) => beginAsk(tx, input));
    },

    async complete(pairId: string, outcome: PairOutcome): Promise<QaPairRow | undefined> {
      return db.transaction(async (tx) => {
        // The chat's row first, as deleting the chat takes it (then its pairs, by cascade):
        // the same order in both keeps the two from deadlocking.
        const [asked] = await tx.select().from(qaPairs).where(eq(qaPairs.id, pairId));
        if (!asked) return undefined;
        await lockChat(tx, asked.chatId);
        const [pair] = await tx
          .update(qaPairs)
          .set(completionColumns(asked, outcome))
          .where(eq(qaPairs.id, pairId))
          .returning();
        if (!pair) return undefined;
        await tx.delete(pendingPairs).where(eq(pendingPairs.qaPairId, pairId));
        await tx.delete(pairProgress).where(eq(pairProgress.qaPairId, pairId));
        await tx.update(chats).set({ updatedAt: outcome.answeredAt }).where(eq(chats.id, pair.chatId));
        await chatChanged(tx, pair.chatId);
        await recordEvent(tx, eventOf.pairCompleted(pair, outcome.answeredAt));
        return pair;
      });
    },

    async saveProgress(pairId: string, text: string, now: Date): Promise<boolean> {
      // Only while the pair is unfinished (a completed pair's progress row is gone for good),
      // and the notification in the same statement, so it goes out only when a row was saved.
      const result = await db.execute<{ user_id: string; chat_id: string }>(sql`
        WITH saved AS (
          INSERT INTO ${pairProgress} (qa_pair_id, text, updated_at)
          SELECT id, ${text}, ${now.toISOString()}::timestamptz FROM ${qaPairs}
          WHERE id = ${pairId} AND status IN ('pending', 'streaming')
          ON CONFLICT (qa_pair_id) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at
          RETURNING qa_pair_id
        )
        SELECT p.user_id, p.chat_id FROM ${qaPairs} p JOIN saved ON saved.qa_pair_id = p.id`);
      const row = result.rows[0];
      if (!row) return false;
      await notifyProgress(db, { userId: row.user_id, chatId: row.chat_id, pairId });
      return true;
    },

    async progressOf(pairId: string): Promise<string | undefined> {
      const [row] = await db
        .select({ text: pairProgress.text })
        .from(pairProgress)
        .where(eq(pairProgress.qaPairId, pairId));
      return row?.text;
    },
  };
}
