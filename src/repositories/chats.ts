import { and, asc, desc, eq, getTableColumns, inArray, isNull, sql, type Placeholder, type SQL } from 'drizzle-orm';
import type { SqliteDb } from '../db/sqlite/client.js';
import type { ImportedChat } from '../domain/transfer.js';
import { branches, chats, deletedChats, qaPairs } from '../db/sqlite/schema.js';
import type { BranchRow, ChatRow, ChatSettings, QaPairRow, StoredSearchResult } from '../domain/types.js';

export interface ChatCursor {
  updatedAt: Date;
  id: string;
}

export const MAIN_BRANCH_NAME = 'main';
/** Branches one chat may have: every list and tree of a chat stays bounded. */
export const MAX_BRANCHES_PER_CHAT = 1000;

/** Thrown inside a transaction (rolling it back) when a chat already has its most branches. */
export class TooManyBranches extends Error {
  override name = 'TooManyBranches';
}

/** Where a new pair goes in the chat's tree. */
export type AskPlacement =
  /** After the head of the active branch, extending it. */
  | { kind: 'active' }
  /**
   * After `parentId` (null: a new first question). `if-needed` extends a branch whose head
   * is that pair (the active one first); `always` starts a new branch, as regenerating does.
   */
  | { kind: 'after'; parentId: string | null; newBranch: 'if-needed' | 'always' };

export interface BeginAskInput {
  chatId: string;
  userId: string;
  /** Set when the chat does not exist yet and must be created in the same transaction. */
  newChat?: { title: string; mainBranchId: string };
  placement: AskPlacement;
  /** Used when the ask starts a new branch. */
  newBranchId: string;
  pairId: string;
  question: string;
  /** `streaming` while tokens are relayed to the client, `pending` otherwise. */
  status: 'pending' | 'streaming';
  provider: string;
  /** How many of the latest answered pairs to return as history. */
  historyLimit: number;
  now: Date;
}

export interface BeginAskResult {
  pair: QaPairRow;
  branchId: string;
  /** Answered pairs on the path to the new one, oldest first, capped at `historyLimit`. */
  history: Pick<QaPairRow, 'question' | 'answer'>[];
}

interface OutcomeBase {
  latencyMs: number | null;
  answeredAt: Date;
  model: string | null;
  upstreamRequestId: string | null;
}

export type PairOutcome =
  | (OutcomeBase & { status: 'answered'; answer: string; searchResults: StoredSearchResult[] })
  | (OutcomeBase & {
      status: 'failed';
      errorCode: string;
      errorMessage: string;
      /** What a stream had delivered before it failed, kept rather than lost. */
      partialAnswer: string | null;
      searchResults: StoredSearchResult[];
    });

/** A pair's place in the tree, without its content. */
export interface TreeNode {
  id: string;
  parentId: string | null;
}

export interface BranchWithHead {
  branch: BranchRow;
  headQuestion: string | null;
}

/**
 * A placeholder for an UPDATE's SET. Drizzle binds it through the column's encoder (Dates
 * to milliseconds, JSON to text) as it does in INSERT values, but its types only accept
 * literal values there, hence the cast to the column's value type.
 */
function setTo<T>(name: string): T {
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
const pairColumns = getTableColumns(qaPairs);
const onPath = sql`${qaPairs}.rowid = path.rid`;
const byDepth = sql`path.depth`;

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * Chats, their branches and their question/answer pairs. All SQL for them lives here;
 * every method is one statement or one short synchronous transaction, never spanning an
 * upstream call.
 */
export function createChatRepository(db: SqliteDb) {
  const findByIdStatement = db
    .select()
    .from(chats)
    .where(eq(chats.id, sql.placeholder('id')))
    .prepare();
  const wasDeletedStatement = db
    .select({ id: deletedChats.id })
    .from(deletedChats)
    .where(eq(deletedChats.id, sql.placeholder('id')))
    .prepare();
  const findPairStatement = db
    .select()
    .from(qaPairs)
    .where(eq(qaPairs.id, sql.placeholder('id')))
    .prepare();
  const findBranchStatement = db
    .select()
    .from(branches)
    .where(eq(branches.id, sql.placeholder('id')))
    .prepare();
  // The latest `limit` pairs of a path, newest first.
  const pathStatement = db
    .select(pairColumns)
    .from(pathWalk(sql.placeholder('headPairId'), sql.placeholder('limit')))
    .innerJoin(qaPairs, onPath)
    .orderBy(byDepth)
    .prepare();
  // The latest `limit` answered pairs of a path, newest first: what is sent upstream as history.
  const historyStatement = db
    .select({ question: qaPairs.question, answer: qaPairs.answer })
    .from(pathWalk(sql.placeholder('headPairId'), Number.MAX_SAFE_INTEGER))
    .innerJoin(qaPairs, onPath)
    .where(eq(qaPairs.status, 'answered'))
    .orderBy(byDepth)
    .limit(sql.placeholder('limit'))
    .prepare();
  const listPairsStatement = db
    .select()
    .from(qaPairs)
    .where(eq(qaPairs.chatId, sql.placeholder('chatId')))
    .orderBy(asc(qaPairs.seq))
    .limit(sql.placeholder('limit'))
    .prepare();
  const skeletonStatement = db
    .select({ id: qaPairs.id, parentId: qaPairs.parentId })
    .from(qaPairs)
    .where(eq(qaPairs.chatId, sql.placeholder('chatId')))
    .orderBy(asc(qaPairs.seq))
    .prepare();
  const listBranchesStatement = db
    .select({ branch: branches, headQuestion: qaPairs.question })
    .from(branches)
    .leftJoin(qaPairs, eq(qaPairs.id, branches.headPairId))
    .where(eq(branches.chatId, sql.placeholder('chatId')))
    .orderBy(asc(branches.createdAt), asc(branches.id))
    .prepare();
  const firstPageStatement = db
    .select()
    .from(chats)
    .where(eq(chats.userId, sql.placeholder('userId')))
    .orderBy(desc(chats.updatedAt), desc(chats.id))
    .limit(sql.placeholder('limit'))
    .prepare();
  // A row-value comparison, unlike the equivalent OR, lets SQLite seek straight to the
  // cursor in the (user_id, updated_at, id) index, so deep pages cost what the first does.
  const nextPageStatement = db
    .select()
    .from(chats)
    .where(
      and(
        eq(chats.userId, sql.placeholder('userId')),
        sql`(${chats.updatedAt}, ${chats.id}) < (${sql.placeholder('updatedAt')}, ${sql.placeholder('id')})`,
      ),
    )
    .orderBy(desc(chats.updatedAt), desc(chats.id))
    .limit(sql.placeholder('limit'))
    .prepare();

  // The statements of the ask and create paths, prepared once: building and preparing
  // them per call cost more than running them.
  const p = sql.placeholder;
  const insertChatStatement = db
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
  const insertBranchStatement = db
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
  const countBranchesStatement = db
    .select({ n: sql<number>`count(*)` })
    .from(branches)
    .where(eq(branches.chatId, p('chatId')))
    .prepare();
  // Branches of a chat that end at a pair, or that are still empty.
  const branchesEndingAtStatement = db
    .select({ id: branches.id, updatedAt: branches.updatedAt })
    .from(branches)
    .where(and(eq(branches.chatId, p('chatId')), eq(branches.headPairId, p('headPairId'))))
    .prepare();
  const emptyBranchesStatement = db
    .select({ id: branches.id, updatedAt: branches.updatedAt })
    .from(branches)
    .where(and(eq(branches.chatId, p('chatId')), isNull(branches.headPairId)))
    .prepare();
  const insertPairStatement = db
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
  const moveBranchHeadStatement = db
    .update(branches)
    .set({ headPairId: setTo<string>('headPairId'), updatedAt: setTo<Date>('updatedAt') })
    .where(eq(branches.id, p('id')))
    .prepare();
  const recordAskOnChatStatement = db
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
  const completePairStatement = db
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
    })
    .where(eq(qaPairs.id, p('id')))
    .returning()
    .prepare();
  const touchChatStatement = db
    .update(chats)
    .set({ updatedAt: setTo<Date>('updatedAt') })
    .where(eq(chats.id, p('id')))
    .prepare();

  const importedFromStatement = db
    .select({ id: chats.id })
    .from(chats)
    .where(and(eq(chats.userId, p('userId')), eq(chats.importSource, p('importSource'))))
    .prepare();
  const chatOfUserStatement = db
    .select({ id: chats.id })
    .from(chats)
    .where(and(eq(chats.userId, p('userId')), eq(chats.id, p('id'))))
    .prepare();
  const insertImportedChatStatement = db
    .insert(chats)
    .values({
      id: p('id'),
      userId: p('userId'),
      title: p('title'),
      createdAt: p('createdAt'),
      updatedAt: p('updatedAt'),
      settings: p('settings'),
      importSource: p('importSource'),
      qaCount: p('qaCount'),
      lastSeq: p('lastSeq'),
      lastQuestion: p('lastQuestion'),
      activeBranchId: p('activeBranchId'),
    })
    .prepare();
  const insertFullPairStatement = db
    .insert(qaPairs)
    .values({
      id: p('id'),
      chatId: p('chatId'),
      userId: p('userId'),
      parentId: p('parentId'),
      seq: p('seq'),
      question: p('question'),
      answer: p('answer'),
      searchResults: p('searchResults'),
      status: p('status'),
      errorCode: p('errorCode'),
      errorMessage: p('errorMessage'),
      provider: p('provider'),
      model: p('model'),
      upstreamRequestId: p('upstreamRequestId'),
      historyTurns: p('historyTurns'),
      latencyMs: p('latencyMs'),
      createdAt: p('createdAt'),
      // Raw milliseconds: a placeholder of a timestamp column would call getTime() on null.
      answeredAt: sql`${p('answeredAt')}`,
    })
    .prepare();

  function countBranches(chatId: string): number {
    return countBranchesStatement.get({ chatId })?.n ?? 0;
  }

  /** Inserts a chat and its `main` branch; the caller holds the transaction. */
  function insertChatWithMainBranch(
    chat: Pick<ChatRow, 'id' | 'userId' | 'title' | 'createdAt' | 'updatedAt'> &
      Partial<Pick<ChatRow, 'forkedFromChatId' | 'forkedFromPairId' | 'settings'>>,
    mainBranchId: string,
  ): ChatRow {
    const row = insertChatStatement.get({
      id: chat.id,
      userId: chat.userId,
      title: chat.title,
      createdAt: chat.createdAt,
      updatedAt: chat.updatedAt,
      settings: chat.settings ?? {},
      forkedFromChatId: chat.forkedFromChatId ?? null,
      forkedFromPairId: chat.forkedFromPairId ?? null,
      activeBranchId: mainBranchId,
    });
    if (!row) throw new Error(`chat ${chat.id} was not inserted`);
    insertBranchStatement.run({
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
  function answeredHistory(headPairId: string | null, limit: number) {
    if (headPairId === null || limit === 0) return [];
    return historyStatement.all({ headPairId, limit }).reverse();
  }

  return {
    async findById(id: string): Promise<ChatRow | undefined> {
      return findByIdStatement.get({ id });
    },

    /** Creates a chat with its `main` branch, which starts empty and active. */
    async create(
      chat: Pick<ChatRow, 'id' | 'userId' | 'title' | 'createdAt' | 'updatedAt' | 'settings'>,
      mainBranchId: string,
    ): Promise<ChatRow> {
      return db.transaction(() => insertChatWithMainBranch(chat, mainBranchId));
    },

    /** Answered pairs on the path to `headPairId`, oldest first, at most `limit`. */
    async listHistory(headPairId: string | null, limit: number): Promise<Pick<QaPairRow, 'question' | 'answer'>[]> {
      return answeredHistory(headPairId, limit);
    },

    /** One page of a user's chats, most recently updated first, strictly after `cursor`. */
    async listForUser(userId: string, limit: number, cursor?: ChatCursor): Promise<ChatRow[]> {
      if (!cursor) return firstPageStatement.all({ userId, limit });
      return nextPageStatement.all({ userId, limit, updatedAt: cursor.updatedAt.getTime(), id: cursor.id });
    },

    async countForUser(userId: string): Promise<number> {
      return (
        db
          .select({ n: sql<number>`count(*)` })
          .from(chats)
          .where(eq(chats.userId, userId))
          .get()?.n ?? 0
      );
    },

    async update(
      id: string,
      changes: { title?: string; settings?: ChatSettings },
      now: Date,
    ): Promise<ChatRow | undefined> {
      return db
        .update(chats)
        .set({ ...changes, updatedAt: now })
        .where(eq(chats.id, id))
        .returning()
        .get();
    },

    /**
     * Deletes the chat; its branches and pairs go with it through the foreign keys' cascade.
     * Its id (and owner) stays behind in `deleted_chats`, so no chat is ever created under it again.
     */
    async delete(id: string): Promise<boolean> {
      return db.transaction((tx) => {
        const deleted = tx.delete(chats).where(eq(chats.id, id)).returning({ userId: chats.userId }).get();
        if (!deleted) return false;
        tx.insert(deletedChats).values({ id, userId: deleted.userId }).onConflictDoNothing().run();
        return true;
      });
    },

    /** Whether a chat with this id existed and was deleted. */
    async wasDeleted(id: string): Promise<boolean> {
      return wasDeletedStatement.get({ id }) !== undefined;
    },

    async findPair(id: string): Promise<QaPairRow | undefined> {
      return findPairStatement.get({ id });
    },

    /** The pairs from the first one to `headPairId`, first first (the latest `limit` of them). */
    async listPath(headPairId: string | null, limit = Number.MAX_SAFE_INTEGER): Promise<QaPairRow[]> {
      return headPairId === null ? [] : pathStatement.all({ headPairId, limit }).reverse();
    },

    /** The chat's pairs in asking order (so every parent comes before its children), at most `limit`. */
    async listPairs(chatId: string, limit: number): Promise<QaPairRow[]> {
      return listPairsStatement.all({ chatId, limit });
    },

    /** Every pair of the chat as (id, parent id), in asking order. */
    async listTree(chatId: string): Promise<TreeNode[]> {
      return skeletonStatement.all({ chatId });
    },

    async findBranch(id: string): Promise<BranchRow | undefined> {
      return findBranchStatement.get({ id });
    },

    /** The chat's branches, oldest first, each with its head's question. */
    async listBranches(chatId: string): Promise<BranchWithHead[]> {
      return listBranchesStatement.all({ chatId });
    },

    /** Adds a branch and makes it the active one. */
    async createBranch(branch: BranchRow): Promise<BranchRow | 'name_taken'> {
      try {
        return db.transaction((tx) => {
          if (countBranches(branch.chatId) >= MAX_BRANCHES_PER_CHAT) throw new TooManyBranches();
          const row = tx.insert(branches).values(branch).returning().get();
          tx.update(chats).set({ activeBranchId: branch.id }).where(eq(chats.id, branch.chatId)).run();
          return row;
        });
      } catch (error) {
        if (isUniqueViolation(error)) return 'name_taken';
        throw error;
      }
    },

    async setActiveBranch(chatId: string, branchId: string): Promise<void> {
      db.update(chats).set({ activeBranchId: branchId }).where(eq(chats.id, chatId)).run();
    },

    async renameBranch(id: string, name: string | null, now: Date): Promise<BranchRow | 'name_taken' | undefined> {
      try {
        return db.update(branches).set({ name, updatedAt: now }).where(eq(branches.id, id)).returning().get();
      } catch (error) {
        if (isUniqueViolation(error)) return 'name_taken';
        throw error;
      }
    },

    /**
     * Deletes a branch and the pairs no other branch passes through (a suffix of its path),
     * optionally switching the active branch, in one transaction. Returns how many pairs went.
     */
    async deleteBranch(input: { chatId: string; branchId: string; activateBranchId?: string }): Promise<number> {
      return db.transaction((tx) => {
        const branch = tx.select().from(branches).where(eq(branches.id, input.branchId)).get();
        if (!branch) return 0;
        let exclusive: string[] = [];
        if (branch.headPairId !== null) {
          const rows = tx.all<{ id: string }>(sql`
            WITH RECURSIVE
              others(id) AS (
                SELECT ${branches.headPairId} FROM ${branches}
                WHERE ${branches.chatId} = ${input.chatId} AND ${branches.id} != ${input.branchId}
                  AND ${branches.headPairId} IS NOT NULL
                UNION
                SELECT p.parent_id FROM ${qaPairs} p JOIN others ON p.id = others.id WHERE p.parent_id IS NOT NULL
              ),
              mine(id) AS (
                SELECT ${branch.headPairId}
                UNION
                SELECT p.parent_id FROM ${qaPairs} p JOIN mine ON p.id = mine.id WHERE p.parent_id IS NOT NULL
              )
            SELECT id FROM mine WHERE id NOT IN (SELECT id FROM others)`);
          exclusive = rows.map((row) => row.id);
        }
        tx.delete(branches).where(eq(branches.id, input.branchId)).run();
        if (exclusive.length > 0) tx.delete(qaPairs).where(inArray(qaPairs.id, exclusive)).run();
        const last = tx
          .select({ question: qaPairs.question })
          .from(qaPairs)
          .where(eq(qaPairs.chatId, input.chatId))
          .orderBy(desc(qaPairs.seq))
          .limit(1)
          .get();
        tx.update(chats)
          .set({
            qaCount: sql`${chats.qaCount} - ${exclusive.length}`,
            lastQuestion: last?.question ?? null,
            ...(input.activateBranchId ? { activeBranchId: input.activateBranchId } : {}),
          })
          .where(eq(chats.id, input.chatId))
          .run();
        return exclusive.length;
      });
    },

    /**
     * Writes an imported chat with all its pairs and branches, under fresh ids, in one
     * transaction: it is there whole or not at all. A chat already imported from the same
     * source for this user is not written again.
     */
    async importChat(input: {
      userId: string;
      chat: ImportedChat;
      newId: () => string;
    }): Promise<{ status: 'imported'; chat: ChatRow } | { status: 'duplicate'; chatId: string }> {
      const { chat: imported, userId } = input;
      return db.transaction(() => {
        // Already imported from this source, or the very chat this export was made from.
        const existing =
          importedFromStatement.get({ userId, importSource: imported.sourceId }) ??
          (imported.originalChatId === undefined
            ? undefined
            : chatOfUserStatement.get({ userId, id: imported.originalChatId }));
        if (existing) return { status: 'duplicate' as const, chatId: existing.id };

        const pairIds = new Map(imported.pairs.map((pair) => [pair.key, input.newId()]));
        const branchIds = new Map(imported.branches.map((branch) => [branch.key, input.newId()]));
        const idOf = (ids: Map<string, string>, key: string | null) => (key === null ? null : (ids.get(key) ?? null));
        const chatId = input.newId();
        const last = imported.pairs.reduce<(typeof imported.pairs)[number] | undefined>(
          (latest, pair) => (!latest || pair.createdAt >= latest.createdAt ? pair : latest),
          undefined,
        );
        insertImportedChatStatement.run({
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
        // One prepared single-row insert per pair: SQLite's fastest bulk path inside a
        // transaction, and the triggers' programs are compiled once.
        for (const [index, pair] of imported.pairs.entries()) {
          insertFullPairStatement.run({
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
            answeredAt: pair.answeredAt?.getTime() ?? null,
          });
        }
        for (const branch of imported.branches) {
          insertBranchStatement.run({
            id: branchIds.get(branch.key) ?? input.newId(),
            chatId,
            userId,
            name: branch.name,
            forkPairId: idOf(pairIds, branch.forkKey),
            headPairId: idOf(pairIds, branch.headKey),
            createdAt: branch.createdAt,
            updatedAt: branch.updatedAt,
          });
        }
        const chat = findByIdStatement.get({ id: chatId });
        if (!chat) throw new Error(`imported chat ${chatId} vanished inside its own transaction`);
        return { status: 'imported' as const, chat };
      });
    },

    /**
     * Copies the path from the first pair to `pairId` into a new chat (new ids, same
     * content and timestamps), recording where it came from, with a `main` branch over it.
     */
    async forkChat(input: {
      sourceChatId: string;
      pairId: string;
      chat: Pick<ChatRow, 'id' | 'userId' | 'title' | 'createdAt' | 'updatedAt'>;
      mainBranchId: string;
      newPairId: () => string;
    }): Promise<ChatRow> {
      return db.transaction((tx) => {
        const path = pathStatement.all({ headPairId: input.pairId, limit: Number.MAX_SAFE_INTEGER }).reverse();
        const copies: QaPairRow[] = [];
        let parentId: string | null = null;
        for (const [index, pair] of path.entries()) {
          const copy: QaPairRow = { ...pair, id: input.newPairId(), chatId: input.chat.id, parentId, seq: index + 1 };
          copies.push(copy);
          parentId = copy.id;
        }
        const last = copies.at(-1);
        const chat = insertChatWithMainBranch(
          {
            ...input.chat,
            forkedFromChatId: input.sourceChatId,
            forkedFromPairId: input.pairId,
            settings:
              tx.select({ settings: chats.settings }).from(chats).where(eq(chats.id, input.sourceChatId)).get()
                ?.settings ?? {},
          },
          input.mainBranchId,
        );
        if (copies.length > 0) tx.insert(qaPairs).values(copies).run();
        tx.update(branches)
          .set({ headPairId: last?.id ?? null })
          .where(eq(branches.id, input.mainBranchId))
          .run();
        return tx
          .update(chats)
          .set({ qaCount: copies.length, lastSeq: copies.length, lastQuestion: last?.question ?? null })
          .where(eq(chats.id, chat.id))
          .returning()
          .get();
      });
    },

    /**
     * Stores the question as a `pending` pair at its place in the tree (creating the chat,
     * or a branch, when needed), makes its branch active and returns the history to send
     * upstream, all in one transaction. Undefined when the chat no longer exists.
     */
    async beginAsk(input: BeginAskInput): Promise<BeginAskResult | undefined> {
      return db.transaction(() => {
        if (input.newChat) {
          // A deleted chat's id is never used again (an ask queued before the deletion ends here).
          if (wasDeletedStatement.get({ id: input.chatId })) return undefined;
          insertChatWithMainBranch(
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
        const chat = findByIdStatement.get({ id: input.chatId });
        // Deleted since the caller looked it up: nothing to ask in.
        if (!chat) return undefined;
        if (!chat.activeBranchId) throw new Error(`chat ${input.chatId} has no active branch`);

        let parentId: string | null;
        let extendBranchId: string | undefined;
        if (input.placement.kind === 'active') {
          const active = findBranchStatement.get({ id: chat.activeBranchId });
          if (!active) throw new Error(`active branch of chat ${input.chatId} is missing`);
          parentId = active.headPairId;
          extendBranchId = active.id;
        } else {
          parentId = input.placement.parentId;
          if (input.placement.newBranch === 'if-needed') {
            const candidates =
              parentId === null
                ? emptyBranchesStatement.all({ chatId: input.chatId })
                : branchesEndingAtStatement.all({ chatId: input.chatId, headPairId: parentId });
            // The active branch if it ends there, else the most recently updated one that does.
            candidates.sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime());
            extendBranchId = (candidates.find((candidate) => candidate.id === chat.activeBranchId) ?? candidates[0])
              ?.id;
          }
        }

        if (!extendBranchId && countBranches(input.chatId) >= MAX_BRANCHES_PER_CHAT) throw new TooManyBranches();
        const history = answeredHistory(parentId, input.historyLimit);
        const seq = chat.lastSeq + 1;
        const pair = insertPairStatement.get({
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
        });
        if (!pair) throw new Error(`pair ${input.pairId} was not inserted`);

        const branchId = extendBranchId ?? input.newBranchId;
        if (extendBranchId) {
          moveBranchHeadStatement.run({ id: extendBranchId, headPairId: pair.id, updatedAt: input.now });
        } else {
          insertBranchStatement.run({
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
        recordAskOnChatStatement.run({ id: input.chatId, seq, question: input.question, now: input.now, branchId });
        return { pair, history, branchId };
      });
    },

    /** Records how an ask ended. Returns the updated pair, or undefined if its chat was deleted meanwhile. */
    async completePair(pairId: string, outcome: PairOutcome): Promise<QaPairRow | undefined> {
      const answered = outcome.status === 'answered';
      return db.transaction(() => {
        const pair = completePairStatement.get({
          id: pairId,
          status: outcome.status,
          answer: answered ? outcome.answer : outcome.partialAnswer,
          searchResults: outcome.searchResults,
          errorCode: answered ? null : outcome.errorCode,
          errorMessage: answered ? null : outcome.errorMessage,
          latencyMs: outcome.latencyMs,
          answeredAt: outcome.answeredAt,
          model: outcome.model,
          upstreamRequestId: outcome.upstreamRequestId,
        });
        if (!pair) return undefined;
        touchChatStatement.run({ id: pair.chatId, updatedAt: outcome.answeredAt });
        return pair;
      });
    },

    /**
     * Marks pairs that were still waiting for an answer as failed. Called at start-up:
     * in a single-process deployment nothing can still be working on them.
     */
    async failUnfinishedPairs(errorCode: string, errorMessage: string, now: Date): Promise<number> {
      return (
        db
          .update(qaPairs)
          .set({ status: 'failed', errorCode, errorMessage, answeredAt: now })
          // Literal values, not parameters: SQLite uses the partial index only when the
          // query's condition matches the index's own WHERE clause as written.
          .where(sql`${qaPairs.status} in ('pending', 'streaming')`)
          .run().changes
      );
    },
  };
}

export type ChatRepository = ReturnType<typeof createChatRepository>;
