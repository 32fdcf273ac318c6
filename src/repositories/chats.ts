import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { SqliteDb } from '../db/client.js';
import { chats, qaPairs, type ChatRow, type QaPairRow, type StoredSearchResult } from '../db/schema.js';

export interface ChatCursor {
  updatedAt: Date;
  id: string;
}

export interface BeginAskInput {
  chatId: string;
  userId: string;
  /** Set when the chat does not exist yet and must be created in the same transaction. */
  newChatTitle?: string;
  pairId: string;
  question: string;
  provider: string;
  /** How many of the latest answered pairs to return as history. */
  historyLimit: number;
  now: Date;
}

export interface BeginAskResult {
  pair: QaPairRow;
  /** Answered pairs before the new one, oldest first. */
  history: Pick<QaPairRow, 'question' | 'answer'>[];
}

export type PairOutcome =
  | {
      status: 'answered';
      answer: string;
      searchResults: StoredSearchResult[];
      latencyMs: number;
      answeredAt: Date;
    }
  | {
      status: 'failed';
      errorCode: string;
      errorMessage: string;
      latencyMs: number | null;
      answeredAt: Date;
    };

/**
 * Chats and their question/answer pairs. All SQL for them lives here; every method is
 * one statement or one short synchronous transaction, never spanning an upstream call.
 */
export function createChatRepository(db: SqliteDb) {
  const findByIdStatement = db.select().from(chats).where(eq(chats.id, sql.placeholder('id'))).prepare();
  const listPairsStatement = db
    .select()
    .from(qaPairs)
    .where(eq(qaPairs.chatId, sql.placeholder('chatId')))
    .orderBy(asc(qaPairs.seq))
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

  return {
    async findById(id: string): Promise<ChatRow | undefined> {
      return findByIdStatement.get({ id });
    },

    async create(chat: Pick<ChatRow, 'id' | 'userId' | 'title' | 'createdAt' | 'updatedAt'>): Promise<ChatRow> {
      return db.insert(chats).values(chat).returning().get();
    },

    /** One page of a user's chats, most recently updated first, strictly after `cursor`. */
    async listForUser(userId: string, limit: number, cursor?: ChatCursor): Promise<ChatRow[]> {
      if (!cursor) return firstPageStatement.all({ userId, limit });
      return nextPageStatement.all({ userId, limit, updatedAt: cursor.updatedAt.getTime(), id: cursor.id });
    },

    async rename(id: string, title: string, now: Date): Promise<ChatRow | undefined> {
      return db.update(chats).set({ title, updatedAt: now }).where(eq(chats.id, id)).returning().get();
    },

    /** Deletes the chat; its pairs go with it through the foreign key's cascade. */
    async delete(id: string): Promise<boolean> {
      return db.delete(chats).where(eq(chats.id, id)).run().changes > 0;
    },

    async listPairs(chatId: string): Promise<QaPairRow[]> {
      return listPairsStatement.all({ chatId });
    },

    /**
     * Stores the question as a `pending` pair (creating the chat first when asked to) and
     * returns the history to send upstream, all in one transaction.
     */
    async beginAsk(input: BeginAskInput): Promise<BeginAskResult> {
      return db.transaction((tx) => {
        if (input.newChatTitle !== undefined) {
          tx.insert(chats)
            .values({
              id: input.chatId,
              userId: input.userId,
              title: input.newChatTitle,
              createdAt: input.now,
              updatedAt: input.now,
            })
            .run();
        }
        const chat = tx.select().from(chats).where(eq(chats.id, input.chatId)).get();
        if (!chat) throw new Error(`chat ${input.chatId} vanished inside its own transaction`);

        const history =
          input.historyLimit === 0
            ? []
            : tx
                .select({ question: qaPairs.question, answer: qaPairs.answer })
                .from(qaPairs)
                .where(and(eq(qaPairs.chatId, input.chatId), eq(qaPairs.status, 'answered')))
                .orderBy(desc(qaPairs.seq))
                .limit(input.historyLimit)
                .all()
                .reverse();
        const parent = tx
          .select({ id: qaPairs.id })
          .from(qaPairs)
          .where(eq(qaPairs.chatId, input.chatId))
          .orderBy(desc(qaPairs.seq))
          .limit(1)
          .get();

        const seq = chat.lastSeq + 1;
        const pair = tx
          .insert(qaPairs)
          .values({
            id: input.pairId,
            chatId: input.chatId,
            userId: input.userId,
            parentId: parent?.id ?? null,
            seq,
            question: input.question,
            status: 'pending',
            provider: input.provider,
            historyTurns: history.length,
            createdAt: input.now,
          })
          .returning()
          .get();
        tx.update(chats)
          .set({
            lastSeq: seq,
            qaCount: sql`${chats.qaCount} + 1`,
            lastQuestion: input.question,
            updatedAt: input.now,
          })
          .where(eq(chats.id, input.chatId))
          .run();
        return { pair, history };
      });
    },

    /** Records how an ask ended. Returns the updated pair. */
    async completePair(pairId: string, outcome: PairOutcome): Promise<QaPairRow> {
      const values =
        outcome.status === 'answered'
          ? {
              status: outcome.status,
              answer: outcome.answer,
              searchResults: outcome.searchResults,
              latencyMs: outcome.latencyMs,
              answeredAt: outcome.answeredAt,
              errorCode: null,
              errorMessage: null,
            }
          : {
              status: outcome.status,
              errorCode: outcome.errorCode,
              errorMessage: outcome.errorMessage,
              latencyMs: outcome.latencyMs,
              answeredAt: outcome.answeredAt,
            };
      return db.transaction((tx) => {
        const pair = tx.update(qaPairs).set(values).where(eq(qaPairs.id, pairId)).returning().get();
        if (!pair) throw new Error(`qa pair ${pairId} not found when completing it`);
        tx.update(chats).set({ updatedAt: outcome.answeredAt }).where(eq(chats.id, pair.chatId)).run();
        return pair;
      });
    },

    /**
     * Marks pairs that were still waiting for an answer as failed. Called at start-up:
     * in a single-process deployment nothing can still be working on them.
     */
    async failUnfinishedPairs(errorCode: string, errorMessage: string, now: Date): Promise<number> {
      return db
        .update(qaPairs)
        .set({ status: 'failed', errorCode, errorMessage, answeredAt: now })
        // Literal values, not parameters: SQLite uses the partial index only when the
        // query's condition matches the index's own WHERE clause as written.
        .where(sql`${qaPairs.status} in ('pending', 'streaming')`)
        .run().changes;
    },
  };
}

export type ChatRepository = ReturnType<typeof createChatRepository>;
