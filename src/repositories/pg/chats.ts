import { and, asc, desc, eq, getTableColumns, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import type { PgDb } from '../../db/pg/client.js';
import { branches, chats, deletedChats, pendingPairs, qaPairs } from '../../db/pg/schema.js';
import type { BranchRow, ChatRow, ChatSettings, QaPairRow } from '../../domain/types.js';
import type { ImportedChat } from '../../domain/transfer.js';
import { MAIN_BRANCH_NAME, MAX_BRANCHES_PER_CHAT } from '../../domain/limits.js';
import { TooManyBranches, type BeginAskInput, type BeginAskResult, type ChatRepository } from '../chats.js';
import type { BranchWithHead, ChatCursor, TreeNode } from '../../domain/types.js';
import type { PairOutcome } from '../../domain/asks.js';
import { isPgError } from './errors.js';

type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0];
type Runner = PgDb | Tx;

/** The ids on the path from the first pair to `headPairId` (inclusive), as a subquery. */
function pathIds(headPairId: string): SQL {
  return sql`(WITH RECURSIVE path(id) AS (
      SELECT ${headPairId}::text
      UNION ALL
      SELECT p.parent_id FROM ${qaPairs} p JOIN path ON p.id = path.id WHERE p.parent_id IS NOT NULL
    ) SELECT id FROM path)`;
}

/**
 * The path from `headPairId` back towards the first pair as a table `path(pid, depth)`,
 * depth 0 being the head, at most `maxDepth` of them: each pair is then joined once by
 * its primary key, as SQLite does by rowid.
 */
function pathWalk(headPairId: SQL, maxDepth: SQL): SQL {
  return sql`(WITH RECURSIVE walk(pid, parent, depth) AS (
      SELECT id, parent_id, 0 FROM ${qaPairs} WHERE id = ${headPairId}
      UNION ALL
      SELECT p.id, p.parent_id, walk.depth + 1 FROM walk JOIN ${qaPairs} p ON p.id = walk.parent
      WHERE walk.depth + 1 < ${maxDepth}
    ) SELECT pid, depth FROM walk) AS path`;
}
const pairColumns = getTableColumns(qaPairs);
const onPath = sql`${qaPairs.id} = path.pid`;
const byDepth = sql`path.depth`;
/** PostgreSQL integers are 32-bit: "no limit" is the largest of them. */
const NO_LIMIT = 2_147_483_647;
const clampLimit = (limit: number) => Math.min(limit, NO_LIMIT);

/**
 * Chats, branches and pairs on PostgreSQL, with the SQLite repository's contract. Every
 * method is one statement or one short transaction, never spanning an upstream call.
 * Unfinished pairs are owned by the instance that began them (`pending_pairs`), so that
 * recovery fails only the pairs of instances that stopped (see `failUnfinishedPairs`).
 */
export function createPgChatRepository(
  db: PgDb,
  options: { instanceId: string; staleAfterMs: number },
): ChatRepository {
  const p = sql.placeholder;
  const findByIdStatement = db
    .select()
    .from(chats)
    .where(eq(chats.id, p('id')))
    .prepare('chats_find_by_id');
  const findPairStatement = db
    .select()
    .from(qaPairs)
    .where(eq(qaPairs.id, p('id')))
    .prepare('pairs_find_by_id');
  const findBranchStatement = db
    .select()
    .from(branches)
    .where(eq(branches.id, p('id')))
    .prepare('branches_find_by_id');
  const pathStatement = db
    .select(pairColumns)
    .from(pathWalk(sql`${p('headPairId')}::text`, sql`${p('limit')}::int`))
    .innerJoin(qaPairs, onPath)
    .orderBy(byDepth)
    .prepare('pairs_path');
  const listPairsStatement = db
    .select()
    .from(qaPairs)
    .where(eq(qaPairs.chatId, p('chatId')))
    .orderBy(asc(qaPairs.seq))
    .limit(p('limit'))
    .prepare('pairs_of_chat');
  const skeletonStatement = db
    .select({ id: qaPairs.id, parentId: qaPairs.parentId })
    .from(qaPairs)
    .where(eq(qaPairs.chatId, p('chatId')))
    .orderBy(asc(qaPairs.seq))
    .prepare('pairs_tree');
  const listBranchesStatement = db
    .select({ branch: branches, headQuestion: qaPairs.question })
    .from(branches)
    .leftJoin(qaPairs, eq(qaPairs.id, branches.headPairId))
    .where(eq(branches.chatId, p('chatId')))
    .orderBy(asc(branches.createdAt), asc(branches.id))
    .prepare('branches_of_chat');
  const firstPageStatement = db
    .select()
    .from(chats)
    .where(eq(chats.userId, p('userId')))
    .orderBy(desc(chats.updatedAt), desc(chats.id))
    .limit(p('limit'))
    .prepare('chats_first_page');
  // A row-value comparison: PostgreSQL seeks to the cursor in the (user_id, updated_at, id) index.
  const nextPageStatement = db
    .select()
    .from(chats)
    .where(
      and(
        eq(chats.userId, p('userId')),
        sql`(${chats.updatedAt}, ${chats.id}) < (${p('updatedAt')}::timestamptz, ${p('id')}::text)`,
      ),
    )
    .orderBy(desc(chats.updatedAt), desc(chats.id))
    .limit(p('limit'))
    .prepare('chats_next_page');

  const wasDeleted = async (runner: Runner, id: string) =>
    (await runner.select({ id: deletedChats.id }).from(deletedChats).where(eq(deletedChats.id, id)))[0];

  async function countBranches(tx: Runner, chatId: string): Promise<number> {
    const [row] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(branches)
      .where(eq(branches.chatId, chatId));
    return row?.n ?? 0;
  }

  /** Inserts a chat and its `main` branch; the caller holds the transaction. */
  async function insertChatWithMainBranch(
    tx: Tx,
    chat: Pick<ChatRow, 'id' | 'userId' | 'title' | 'createdAt' | 'updatedAt'> &
      Partial<Pick<ChatRow, 'forkedFromChatId' | 'forkedFromPairId' | 'settings'>>,
    mainBranchId: string,
  ): Promise<ChatRow> {
    const [row] = await tx
      .insert(chats)
      .values({
        id: chat.id,
        userId: chat.userId,
        title: chat.title,
        createdAt: chat.createdAt,
        updatedAt: chat.updatedAt,
        settings: chat.settings ?? {},
        forkedFromChatId: chat.forkedFromChatId ?? null,
        forkedFromPairId: chat.forkedFromPairId ?? null,
        activeBranchId: mainBranchId,
      })
      .returning();
    if (!row) throw new Error(`chat ${chat.id} was not inserted`);
    await tx.insert(branches).values({
      id: mainBranchId,
      chatId: chat.id,
      userId: chat.userId,
      name: MAIN_BRANCH_NAME,
      forkPairId: null,
      headPairId: null,
      createdAt: chat.createdAt,
      updatedAt: chat.updatedAt,
    });
    return row;
  }

  /** The latest `limit` answered pairs on the path to `headPairId`, oldest first. */
  async function answeredHistory(
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

  return {
    async findById(id: string): Promise<ChatRow | undefined> {
      return (await findByIdStatement.execute({ id }))[0];
    },

    async create(
      chat: Pick<ChatRow, 'id' | 'userId' | 'title' | 'createdAt' | 'updatedAt' | 'settings'>,
      mainBranchId: string,
    ): Promise<ChatRow> {
      return db.transaction((tx) => insertChatWithMainBranch(tx, chat, mainBranchId));
    },

    async listHistory(headPairId: string | null, limit: number): Promise<Pick<QaPairRow, 'question' | 'answer'>[]> {
      return answeredHistory(db, headPairId, limit);
    },

    async listForUser(userId: string, limit: number, cursor?: ChatCursor): Promise<ChatRow[]> {
      if (!cursor) return firstPageStatement.execute({ userId, limit });
      return nextPageStatement.execute({ userId, limit, updatedAt: cursor.updatedAt.toISOString(), id: cursor.id });
    },

    async countForUser(userId: string): Promise<number> {
      const [row] = await db
        .select({ n: sql<number>`count(*)::int` })
        .from(chats)
        .where(eq(chats.userId, userId));
      return row?.n ?? 0;
    },

    async update(
      id: string,
      changes: { title?: string; settings?: ChatSettings },
      now: Date,
    ): Promise<ChatRow | undefined> {
      const [row] = await db
        .update(chats)
        .set({ ...changes, updatedAt: now })
        .where(eq(chats.id, id))
        .returning();
      return row;
    },

    /** Deletes the chat (cascading to its branches and pairs) and keeps its id in `deleted_chats`, in one transaction. */
    async delete(id: string): Promise<boolean> {
      return db.transaction(async (tx) => {
        const [deleted] = await tx.delete(chats).where(eq(chats.id, id)).returning({ userId: chats.userId });
        if (!deleted) return false;
        await tx.insert(deletedChats).values({ id, userId: deleted.userId }).onConflictDoNothing();
        return true;
      });
    },

    async wasDeleted(id: string): Promise<boolean> {
      return (await wasDeleted(db, id)) !== undefined;
    },

    async findPair(id: string): Promise<QaPairRow | undefined> {
      return (await findPairStatement.execute({ id }))[0];
    },

    async listPath(headPairId: string | null, limit = NO_LIMIT): Promise<QaPairRow[]> {
      if (headPairId === null) return [];
      return (await pathStatement.execute({ headPairId, limit: clampLimit(limit) })).reverse();
    },

    async listPairs(chatId: string, limit: number): Promise<QaPairRow[]> {
      return listPairsStatement.execute({ chatId, limit: clampLimit(limit) });
    },

    async listTree(chatId: string): Promise<TreeNode[]> {
      return skeletonStatement.execute({ chatId });
    },

    async findBranch(id: string): Promise<BranchRow | undefined> {
      return (await findBranchStatement.execute({ id }))[0];
    },

    async listBranches(chatId: string): Promise<BranchWithHead[]> {
      return listBranchesStatement.execute({ chatId });
    },

    async createBranch(branch: BranchRow): Promise<BranchRow | 'name_taken'> {
      try {
        return await db.transaction(async (tx) => {
          // The chat's row lock orders concurrent branch creations, so the cap holds.
          await tx.select({ id: chats.id }).from(chats).where(eq(chats.id, branch.chatId)).for('update');
          if ((await countBranches(tx, branch.chatId)) >= MAX_BRANCHES_PER_CHAT) throw new TooManyBranches();
          const [row] = await tx.insert(branches).values(branch).returning();
          if (!row) throw new Error(`branch ${branch.id} was not inserted`);
          await tx.update(chats).set({ activeBranchId: branch.id }).where(eq(chats.id, branch.chatId));
          return row;
        });
      } catch (error) {
        if (isPgError(error, '23505')) return 'name_taken';
        throw error;
      }
    },

    async setActiveBranch(chatId: string, branchId: string): Promise<void> {
      await db.update(chats).set({ activeBranchId: branchId }).where(eq(chats.id, chatId));
    },

    async renameBranch(id: string, name: string | null, now: Date): Promise<BranchRow | 'name_taken' | undefined> {
      try {
        const [row] = await db.update(branches).set({ name, updatedAt: now }).where(eq(branches.id, id)).returning();
        return row;
      } catch (error) {
        if (isPgError(error, '23505')) return 'name_taken';
        throw error;
      }
    },

    async deleteBranch(input: { chatId: string; branchId: string; activateBranchId?: string }): Promise<number> {
      return db.transaction(async (tx) => {
        await tx.select({ id: chats.id }).from(chats).where(eq(chats.id, input.chatId)).for('update');
        const [branch] = await tx.select().from(branches).where(eq(branches.id, input.branchId));
        if (!branch) return 0;
        let exclusive: string[] = [];
        if (branch.headPairId !== null) {
          const result = await tx.execute<{ id: string }>(sql`
            WITH RECURSIVE
              others(id) AS (
                SELECT ${branches.headPairId} FROM ${branches}
                WHERE ${branches.chatId} = ${input.chatId} AND ${branches.id} != ${input.branchId}
                  AND ${branches.headPairId} IS NOT NULL
                UNION
                SELECT p.parent_id FROM ${qaPairs} p JOIN others ON p.id = others.id WHERE p.parent_id IS NOT NULL
              ),
              mine(id) AS (
                SELECT ${branch.headPairId}::text
                UNION
                SELECT p.parent_id FROM ${qaPairs} p JOIN mine ON p.id = mine.id WHERE p.parent_id IS NOT NULL
              )
            SELECT id FROM mine WHERE id NOT IN (SELECT id FROM others)`);
          exclusive = result.rows.map((row) => row.id);
        }
        await tx.delete(branches).where(eq(branches.id, input.branchId));
        if (exclusive.length > 0) await tx.delete(qaPairs).where(inArray(qaPairs.id, exclusive));
        const [last] = await tx
          .select({ question: qaPairs.question })
          .from(qaPairs)
          .where(eq(qaPairs.chatId, input.chatId))
          .orderBy(desc(qaPairs.seq))
          .limit(1);
        await tx
          .update(chats)
          .set({
            qaCount: sql`${chats.qaCount} - ${exclusive.length}`,
            lastQuestion: last?.question ?? null,
            ...(input.activateBranchId ? { activeBranchId: input.activateBranchId } : {}),
          })
          .where(eq(chats.id, input.chatId));
        return exclusive.length;
      });
    },

    async importChat(input: {
      userId: string;
      chat: ImportedChat;
      newId: () => string;
    }): Promise<{ status: 'imported'; chat: ChatRow } | { status: 'duplicate'; chatId: string }> {
      const { chat: imported, userId } = input;
      try {
        return await db.transaction(async (tx) => {
          const [existing] = await tx
            .select({ id: chats.id })
            .from(chats)
            .where(
              and(
                eq(chats.userId, userId),
                imported.originalChatId === undefined
                  ? eq(chats.importSource, imported.sourceId)
                  : sql`(${chats.importSource} = ${imported.sourceId} OR ${chats.id} = ${imported.originalChatId})`,
              ),
            )
            .limit(1);
          if (existing) return { status: 'duplicate' as const, chatId: existing.id };

          const pairIds = new Map(imported.pairs.map((pair) => [pair.key, input.newId()]));
          const branchIds = new Map(imported.branches.map((branch) => [branch.key, input.newId()]));
          const idOf = (ids: Map<string, string>, key: string | null) => (key === null ? null : (ids.get(key) ?? null));
          const chatId = input.newId();
          const last = imported.pairs.reduce<(typeof imported.pairs)[number] | undefined>(
            (latest, pair) => (!latest || pair.createdAt >= latest.createdAt ? pair : latest),
            undefined,
          );
          await tx.insert(chats).values({
            id: chatId,
            userId,
            title: imported.title,
            createdAt: imported.createdAt,
            updatedAt: imported.updatedAt,
            settings: imported.settings,
            importSource: imported.sourceId,
            qaCount: imported.pairs.length,
            lastSeq: imported.pairs.length,
            lastQuestion: last?.question ?? null,
            activeBranchId: idOf(branchIds, imported.activeBranchKey),
          });
          // Parents come before their children, so rows go in batches in the imported order.
          const rows = imported.pairs.map((pair, index) => ({
            id: pairIds.get(pair.key) ?? input.newId(),
            chatId,
            userId,
            parentId: idOf(pairIds, pair.parentKey),
            seq: index + 1,
            question: pair.question,
            answer: pair.answer,
            searchResults: pair.searchResults,
            status: pair.status,
            errorCode: pair.errorCode,
            errorMessage: pair.errorMessage,
            provider: pair.provider,
            model: pair.model,
            upstreamRequestId: pair.upstreamRequestId,
            historyTurns: pair.historyTurns,
            latencyMs: pair.latencyMs,
            createdAt: pair.createdAt,
            answeredAt: pair.answeredAt,
          }));
          for (let start = 0; start < rows.length; start += 500) {
            await tx.insert(qaPairs).values(rows.slice(start, start + 500));
          }
          if (imported.branches.length > 0) {
            await tx.insert(branches).values(
              imported.branches.map((branch) => ({
                id: branchIds.get(branch.key) ?? input.newId(),
                chatId,
                userId,
                name: branch.name,
                forkPairId: idOf(pairIds, branch.forkKey),
                headPairId: idOf(pairIds, branch.headKey),
                createdAt: branch.createdAt,
                updatedAt: branch.updatedAt,
              })),
            );
          }
          const [chat] = await tx.select().from(chats).where(eq(chats.id, chatId));
          if (!chat) throw new Error(`imported chat ${chatId} vanished inside its own transaction`);
          return { status: 'imported' as const, chat };
        });
      } catch (error) {
        // The same source imported by another request at the same moment: the unique
        // (user_id, import_source) index let only one of them in.
        if (isPgError(error, '23505', 'chats_user_import_source_unique')) {
          const [existing] = await db
            .select({ id: chats.id })
            .from(chats)
            .where(and(eq(chats.userId, userId), eq(chats.importSource, imported.sourceId)));
          if (existing) return { status: 'duplicate', chatId: existing.id };
        }
        throw error;
      }
    },

    async forkChat(input: {
      sourceChatId: string;
      pairId: string;
      chat: Pick<ChatRow, 'id' | 'userId' | 'title' | 'createdAt' | 'updatedAt'>;
      mainBranchId: string;
      newPairId: () => string;
    }): Promise<ChatRow> {
      return db.transaction(async (tx) => {
        const path = await tx
          .select()
          .from(qaPairs)
          .where(sql`${qaPairs.id} IN ${pathIds(input.pairId)}`)
          .orderBy(asc(qaPairs.seq));
        const copies: QaPairRow[] = [];
        let parentId: string | null = null;
        for (const [index, pair] of path.entries()) {
          const copy: QaPairRow = { ...pair, id: input.newPairId(), chatId: input.chat.id, parentId, seq: index + 1 };
          copies.push(copy);
          parentId = copy.id;
        }
        const last = copies.at(-1);
        const [source] = await tx
          .select({ settings: chats.settings })
          .from(chats)
          .where(eq(chats.id, input.sourceChatId));
        const chat = await insertChatWithMainBranch(
          tx,
          {
            ...input.chat,
            forkedFromChatId: input.sourceChatId,
            forkedFromPairId: input.pairId,
            settings: source?.settings ?? {},
          },
          input.mainBranchId,
        );
        for (let start = 0; start < copies.length; start += 500) {
          await tx.insert(qaPairs).values(copies.slice(start, start + 500));
        }
        await tx
          .update(branches)
          .set({ headPairId: last?.id ?? null })
          .where(eq(branches.id, input.mainBranchId));
        const [updated] = await tx
          .update(chats)
          .set({ qaCount: copies.length, lastSeq: copies.length, lastQuestion: last?.question ?? null })
          .where(eq(chats.id, chat.id))
          .returning();
        if (!updated) throw new Error(`forked chat ${chat.id} vanished inside its own transaction`);
        return updated;
      });
    },

    async beginAsk(input: BeginAskInput): Promise<BeginAskResult | undefined> {
      return db.transaction(async (tx) => {
        if (input.newChat) {
          // A deleted chat's id is never used again: its tombstone was committed with the
          // deletion, so an ask that no longer finds the chat finds the tombstone.
          if (await wasDeleted(tx, input.chatId)) return undefined;
          await insertChatWithMainBranch(
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
        if (!chat) return undefined;
        if (!chat.activeBranchId) throw new Error(`chat ${input.chatId} has no active branch`);

        let parentId: string | null;
        let extendBranchId: string | undefined;
        if (input.placement.kind === 'active') {
          const [active] = await tx.select().from(branches).where(eq(branches.id, chat.activeBranchId));
          if (!active) throw new Error(`active branch of chat ${input.chatId} is missing`);
          parentId = active.headPairId;
          extendBranchId = active.id;
        } else {
          parentId = input.placement.parentId;
          if (input.placement.newBranch === 'if-needed') {
            const candidates = await tx
              .select({ id: branches.id, updatedAt: branches.updatedAt })
              .from(branches)
              .where(
                and(
                  eq(branches.chatId, input.chatId),
                  parentId === null ? isNull(branches.headPairId) : eq(branches.headPairId, parentId),
                ),
              );
            candidates.sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime());
            extendBranchId = (candidates.find((candidate) => candidate.id === chat.activeBranchId) ?? candidates[0])
              ?.id;
          }
        }

        if (!extendBranchId && (await countBranches(tx, input.chatId)) >= MAX_BRANCHES_PER_CHAT) {
          throw new TooManyBranches();
        }
        const history = await answeredHistory(tx, parentId, input.historyLimit);
        const seq = chat.lastSeq + 1;
        const [pair] = await tx
          .insert(qaPairs)
          .values({
            id: input.pairId,
            chatId: input.chatId,
            userId: input.userId,
            parentId,
            seq,
            question: input.question,
            status: input.status,
            provider: input.provider,
            historyTurns: history.length,
            createdAt: input.now,
          })
          .returning();
        if (!pair) throw new Error(`pair ${input.pairId} was not inserted`);
        await tx.insert(pendingPairs).values({
          qaPairId: pair.id,
          userId: input.userId,
          instanceId: options.instanceId,
          createdAt: input.now,
        });

        const branchId = extendBranchId ?? input.newBranchId;
        if (extendBranchId) {
          await tx
            .update(branches)
            .set({ headPairId: pair.id, updatedAt: input.now })
            .where(eq(branches.id, extendBranchId));
        } else {
          await tx.insert(branches).values({
            id: input.newBranchId,
            chatId: input.chatId,
            userId: input.userId,
            name: null,
            forkPairId: parentId,
            headPairId: pair.id,
            createdAt: input.now,
            updatedAt: input.now,
          });
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
        return { pair, history, branchId };
      });
    },

    async completePair(pairId: string, outcome: PairOutcome): Promise<QaPairRow | undefined> {
      const answered = outcome.status === 'answered';
      return db.transaction(async (tx) => {
        // The chat's row first, as deleting the chat takes it (then its pairs, by cascade):
        // the same order in both keeps the two from deadlocking.
        const [owner] = await tx.select({ chatId: qaPairs.chatId }).from(qaPairs).where(eq(qaPairs.id, pairId));
        if (!owner) return undefined;
        await tx.select({ id: chats.id }).from(chats).where(eq(chats.id, owner.chatId)).for('update');
        const [pair] = await tx
          .update(qaPairs)
          .set({
            status: outcome.status,
            answer: answered ? outcome.answer : outcome.partialAnswer,
            searchResults: outcome.searchResults,
            errorCode: answered ? null : outcome.errorCode,
            errorMessage: answered ? null : outcome.errorMessage,
            latencyMs: outcome.latencyMs,
            answeredAt: outcome.answeredAt,
            model: outcome.model,
            upstreamRequestId: outcome.upstreamRequestId,
          })
          .where(eq(qaPairs.id, pairId))
          .returning();
        if (!pair) return undefined;
        await tx.delete(pendingPairs).where(eq(pendingPairs.qaPairId, pairId));
        await tx.update(chats).set({ updatedAt: outcome.answeredAt }).where(eq(chats.id, pair.chatId));
        return pair;
      });
    },

    /**
     * Fails the unfinished pairs whose instance is gone: its heartbeat in `app_instances`
     * is older than `staleAfterMs` (by the database's clock) or missing. Pairs of live
     * instances, this one included, are left alone. Called at start-up and periodically.
     */
    async failUnfinishedPairs(errorCode: string, errorMessage: string, now: Date): Promise<number> {
      const result = await db.execute(sql`
        WITH live AS (
          SELECT id FROM app_instances
          WHERE heartbeat_at > now() - make_interval(secs => ${options.staleAfterMs / 1000}::float8)
        ),
        orphans AS (
          DELETE FROM ${pendingPairs}
          WHERE instance_id <> ${options.instanceId} AND instance_id NOT IN (SELECT id FROM live)
          RETURNING qa_pair_id
        )
        UPDATE ${qaPairs}
        SET status = 'failed', error_code = ${errorCode}, error_message = ${errorMessage}, answered_at = ${now.toISOString()}::timestamptz
        WHERE status IN ('pending', 'streaming')
          AND (id IN (SELECT qa_pair_id FROM orphans)
            OR NOT EXISTS (SELECT 1 FROM ${pendingPairs} o WHERE o.qa_pair_id = ${qaPairs}.id))`);
      return result.rowCount ?? 0;
    },
  };
}
