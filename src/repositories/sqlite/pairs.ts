import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { SqliteDb } from '../../db/sqlite/client.js';
import { branches, chats, pairProgress, qaPairs, users } from '../../db/sqlite/schema.js';
import { eventOf } from '../../domain/events.js';
import { askLookup, completionColumns, landAsk, type PairOutcome } from '../../domain/asks.js';
import { MAX_BRANCHES_PER_CHAT } from '../../domain/limits.js';
import { askedPair, branchOfAsk } from '../../domain/rows.js';
import type { ChatRow, QaPairRow, StoredSearchResult, TreeNode } from '../../domain/types.js';
import type { BeginAskInput, BeginAskResult, PairFragment, PairStore } from '../contract.js';
import { renderingsOf } from '../../domain/render.js';
import type { SqliteEventLog } from './events.js';
import { setTo, type SharedStatements } from './shared.js';

/**
 * Question/answer pairs on SQLite. The ask path's statements are prepared once: an ask is
 * one synchronous transaction of a few indexed statements, never spanning the upstream call.
 */
export function createSqlitePairStore(
  db: SqliteDb,
  shared: SharedStatements,
  log: Pick<SqliteEventLog, 'emit'>,
): PairStore & {
  /** Fails every pending or streaming pair (at start-up nothing can still be working on one). */
  failUnfinished(errorCode: string, errorMessage: string, now: Date): number;
} {
  const p = sql.placeholder;
  const find = db
    .select()
    .from(qaPairs)
    .where(eq(qaPairs.id, p('id')))
    .prepare();
  const listOfChat = db
    .select()
    .from(qaPairs)
    .where(eq(qaPairs.chatId, p('chatId')))
    .orderBy(asc(qaPairs.seq))
    .limit(p('limit'))
    .prepare();
  const skeleton = db
    .select({ id: qaPairs.id, parentId: qaPairs.parentId })
    .from(qaPairs)
    .where(eq(qaPairs.chatId, p('chatId')))
    .orderBy(asc(qaPairs.seq))
    .prepare();
  // Branches of a chat that end at a pair, or that are still empty.
  const branchesEndingAt = db
    .select({ id: branches.id, updatedAt: branches.updatedAt })
    .from(branches)
    .where(and(eq(branches.chatId, p('chatId')), eq(branches.headPairId, p('headPairId'))))
    .prepare();
  const emptyBranches = db
    .select({ id: branches.id, updatedAt: branches.updatedAt })
    .from(branches)
    .where(and(eq(branches.chatId, p('chatId')), isNull(branches.headPairId)))
    .prepare();
  const insertPair = db
    .insert(qaPairs)
    .values({
      id: p('id'),
      chatId: p('chatId'),
      userId: p('userId'),
      parentId: p('parentId'),
      seq: p('seq'),
      question: p('question'),
      status: p('status'),
      provider: p('provider'),
      historyTurns: p('historyTurns'),
      createdAt: p('createdAt'),
    })
    .returning()
    .prepare();
  const moveBranchHead = db
    .update(branches)
    .set({ headPairId: setTo<string>('headPairId'), updatedAt: setTo<Date>('updatedAt') })
    .where(eq(branches.id, p('id')))
    .prepare();
  const recordAskOnChat = db
    .update(chats)
    .set({
      lastSeq: setTo<number>('seq'),
      qaCount: sql`${chats.qaCount} + 1`,
      lastQuestion: setTo<string>('question'),
      updatedAt: setTo<Date>('now'),
      activeBranchId: setTo<string>('branchId'),
    })
    .where(eq(chats.id, p('id')))
    .prepare();
  const completePair = db
    .update(qaPairs)
    .set({
      status: setTo<QaPairRow['status']>('status'),
      answer: setTo<string | null>('answer'),
      searchResults: setTo<StoredSearchResult[]>('searchResults'),
      errorCode: setTo<string | null>('errorCode'),
      errorMessage: setTo<string | null>('errorMessage'),
      latencyMs: setTo<number | null>('latencyMs'),
      answeredAt: setTo<Date>('answeredAt'),
      model: setTo<string | null>('model'),
      upstreamRequestId: setTo<string | null>('upstreamRequestId'),
      rendered: setTo<string | null>('rendered'),
      renderedNode: setTo<string | null>('renderedNode'),
    })
    .where(eq(qaPairs.id, p('id')))
    .returning()
    .prepare();
  const treeFragments = db
    .select({ id: qaPairs.id, parentId: qaPairs.parentId, json: qaPairs.renderedNode })
    .from(qaPairs)
    .where(eq(qaPairs.chatId, p('chatId')))
    .orderBy(asc(qaPairs.seq))
    .limit(p('limit'))
    .prepare();
  // Literal values: SQLite uses a partial index only for a condition written as its own.
  const unrendered = db
    .select()
    .from(qaPairs)
    .where(sql`${qaPairs.rendered} is null and ${qaPairs.status} in ('answered', 'failed')`)
    .limit(p('limit'))
    .prepare();
  const storeRenderings = db
    .update(qaPairs)
    .set({ rendered: setTo<string | null>('rendered'), renderedNode: setTo<string | null>('renderedNode') })
    .where(eq(qaPairs.id, p('id')))
    .prepare();
  const saveProgress = db
    .insert(pairProgress)
    .values({ qaPairId: p('pairId'), text: p('text'), updatedAt: p('now') })
    .onConflictDoUpdate({
      target: pairProgress.qaPairId,
      set: { text: sql`excluded.text`, updatedAt: sql`excluded.updated_at` },
    })
    .prepare();
  const progressOf = db
    .select({ text: pairProgress.text })
    .from(pairProgress)
    .where(eq(pairProgress.qaPairId, p('pairId')))
    .prepare();
  const dropProgress = db
    .delete(pairProgress)
    .where(eq(pairProgress.qaPairId, p('pairId')))
    .prepare();
  const touchChat = db
    .update(chats)
    .set({ updatedAt: setTo<Date>('updatedAt') })
    .where(eq(chats.id, p('id')))
    .prepare();

  function beginAsk(input: BeginAskInput): BeginAskResult {
    let created: ChatRow | undefined;
    if (input.newChat) {
      // A deleted chat's id is never used again (an ask queued before the deletion ends here).
      if (shared.wasDeleted(input.chatId)) return { status: 'chat_gone' };
      created = shared.insertChatWithMainBranch(
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
    const chat = shared.findChat.get({ id: input.chatId });
    // Deleted since the caller looked it up: nothing to ask in.
    if (!chat) return { status: 'chat_gone' };
    if (!chat.activeBranchId) throw new Error(`chat ${input.chatId} has no active branch`);

    const lookup = askLookup(input.placement);
    const { parentId, extendBranchId } = landAsk(lookup, {
      activeBranchId: chat.activeBranchId,
      ...(lookup.kind === 'active-branch' ? { activeBranch: shared.findBranch.get({ id: chat.activeBranchId }) } : {}),
      ...(lookup.kind === 'branches-ending-at'
        ? {
            branchesEndingAt:
              lookup.parentId === null
                ? emptyBranches.all({ chatId: input.chatId })
                : branchesEndingAt.all({ chatId: input.chatId, headPairId: lookup.parentId }),
          }
        : {}),
    });
    if (!extendBranchId && shared.countBranches(input.chatId) >= MAX_BRANCHES_PER_CHAT) {
      return { status: 'too_many_branches' };
    }

    const history = shared.answeredHistory(parentId, input.historyLimit);
    const seq = chat.lastSeq + 1;
    const pair = insertPair.get(askedPair({ ...input, parentId, seq, historyTurns: history.length }));
    if (!pair) throw new Error(`pair ${input.pairId} was not inserted`);

    const branchId = extendBranchId ?? input.newBranchId;
    const newBranch = extendBranchId ? undefined : branchOfAsk({ ...input, branchId: input.newBranchId, parentId });
    if (extendBranchId) {
      moveBranchHead.run({ id: extendBranchId, headPairId: pair.id, updatedAt: input.now });
    } else if (newBranch) {
      shared.insertBranch.run({ ...newBranch });
    }
    recordAskOnChat.run({ id: input.chatId, seq, question: input.question, now: input.now, branchId });
    shared.chatChanged(input.chatId);
    if (created) shared.recordEvent(eventOf.chatCreated(created, input.now));
    if (newBranch) shared.recordEvent(eventOf.branchCreated(newBranch, input.now));
    if (branchId !== chat.activeBranchId) shared.recordEvent(eventOf.branchActivated(chat, branchId, input.now));
    shared.recordEvent(eventOf.pairStarted(pair, branchId, input.now));
    return { status: 'begun', pair, history, branchId };
  }

  return {
    async find(id: string): Promise<QaPairRow | undefined> {
      return find.get({ id });
    },

    async listPath(headPairId: string | null, limit?: number): Promise<QaPairRow[]> {
      return shared.listPath(headPairId, limit);
    },

    async listHistory(headPairId: string | null, limit: number) {
      return shared.answeredHistory(headPairId, limit);
    },

    async listOfChat(chatId: string, limit: number): Promise<QaPairRow[]> {
      return listOfChat.all({ chatId, limit });
    },

    async listTree(chatId: string): Promise<TreeNode[]> {
      return skeleton.all({ chatId });
    },

    async listPathFragments(headPairId: string | null, limit: number): Promise<PairFragment[]> {
      return shared.listPathFragments(headPairId, limit);
    },

    async listTreeFragments(chatId: string, limit: number): Promise<PairFragment[]> {
      return treeFragments.all({ chatId, limit });
    },

    async renderMissing(limit: number): Promise<number> {
      return db.transaction(() => {
        const rows = unrendered.all({ limit });
        for (const row of rows) storeRenderings.run({ id: row.id, ...renderingsOf(row) });
        return rows.length;
      });
    },

    async beginAsk(input: BeginAskInput): Promise<BeginAskResult> {
      // better-sqlite3 rolls back only on a throw: every outcome other than 'begun' is
      // decided before anything is written (a new chat has one branch, never too many).
      return db.transaction(() => beginAsk(input));
    },

    async complete(pairId: string, outcome: PairOutcome): Promise<QaPairRow | undefined> {
      return db.transaction(() => {
        const asked = find.get({ id: pairId });
        if (!asked) return undefined;
        const pair = completePair.get({ id: pairId, ...completionColumns(asked, outcome) });
        if (!pair) return undefined;
        touchChat.run({ id: pair.chatId, updatedAt: outcome.answeredAt });
        dropProgress.run({ pairId });
        shared.chatChanged(pair.chatId);
        shared.recordEvent(eventOf.pairCompleted(pair, outcome.answeredAt));
        return pair;
      });
    },

    async saveProgress(pairId: string, text: string, now: Date): Promise<boolean> {
      const pair = find.get({ id: pairId });
      if (!pair || (pair.status !== 'pending' && pair.status !== 'streaming')) return false;
      saveProgress.run({ pairId, text, now });
      log.emit({ kind: 'progress', userId: pair.userId, chatId: pair.chatId, pairId });
      return true;
    },

    async progressOf(pairId: string): Promise<string | undefined> {
      return progressOf.get({ pairId })?.text;
    },

    failUnfinished(errorCode: string, errorMessage: string, now: Date): number {
      return db.transaction((tx) => {
        // Literal values, not parameters: SQLite uses the partial index only when the
        // query's condition matches the index's own WHERE clause as written.
        const unfinished = sql`${qaPairs.status} in ('pending', 'streaming')`;
        // Their chats change (and so their owners' lists).
        tx.update(chats)
          .set({ version: sql`${chats.version} + 1` })
          .where(inArray(chats.id, tx.select({ id: qaPairs.chatId }).from(qaPairs).where(unfinished)))
          .run();
        tx.update(users)
          .set({ chatsVersion: sql`${users.chatsVersion} + 1` })
          .where(inArray(users.id, tx.select({ id: qaPairs.userId }).from(qaPairs).where(unfinished)))
          .run();
        // Left unrendered (any rendering they carried is cleared: the pair just changed): reads
        // render them live until the lifecycle's backfill stores their rendering. The text a
        // stream had saved is kept as the failed pair's partial answer.
        const failed = tx
          .update(qaPairs)
          .set({
            status: 'failed',
            errorCode,
            errorMessage,
            answeredAt: now,
            answer: sql`coalesce((SELECT ${pairProgress.text} FROM ${pairProgress} WHERE ${pairProgress.qaPairId} = ${qaPairs.id}), ${qaPairs.answer})`,
            rendered: null,
            renderedNode: null,
          })
          .where(unfinished)
          .returning()
          .all();
        for (const pair of failed) {
          dropProgress.run({ pairId: pair.id });
          shared.recordEvent(eventOf.pairCompleted(pair, now));
        }
        return failed.length;
      });
    },
  };
}
