import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text, uniqueIndex, type AnySQLiteColumn } from 'drizzle-orm/sqlite-core';

/** Milliseconds since the epoch, read back as a `Date`. */
const timestamp = (name: string) => integer(name, { mode: 'timestamp_ms' });

export interface StoredSearchResult {
  url: string;
  name: string;
  snippet: string;
}

export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: timestamp('created_at').notNull(),
});

/**
 * API keys live apart from users so a user can later hold several and rotate them.
 * Only a SHA-256 of the key is stored: keys are 256-bit random tokens, so a fast hash
 * is enough (no password-style stretching is needed against guessing).
 */
export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    keyHash: text('key_hash').notNull(),
    /** The first characters of the key, to tell keys apart in listings without revealing them. */
    prefix: text('prefix').notNull(),
    createdAt: timestamp('created_at').notNull(),
  },
  (table) => [uniqueIndex('api_keys_key_hash_unique').on(table.keyHash), index('api_keys_user_id_idx').on(table.userId)],
);

export const chats = sqliteTable(
  'chats',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    createdAt: timestamp('created_at').notNull(),
    updatedAt: timestamp('updated_at').notNull(),
    /** Kept in step with `qa_pairs` in the same transaction, so listing chats needs no aggregate. */
    qaCount: integer('qa_count').notNull().default(0),
    lastQuestion: text('last_question'),
    /** The last `seq` handed to a pair of this chat. */
    lastSeq: integer('last_seq').notNull().default(0),
  },
  (table) => [index('chats_user_updated_idx').on(table.userId, table.updatedAt, table.id)],
);

export const qaPairs = sqliteTable(
  'qa_pairs',
  {
    id: text('id').primaryKey(),
    chatId: text('chat_id')
      .notNull()
      .references(() => chats.id, { onDelete: 'cascade' }),
    /** Carried on every pair so data can later be partitioned or sharded by user without a join. */
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The pair this one follows in the conversation; null for the first question of a chat. */
    parentId: text('parent_id').references((): AnySQLiteColumn => qaPairs.id, { onDelete: 'cascade' }),
    /** Position in the chat, in the order the questions were asked (1, 2, 3...). */
    seq: integer('seq').notNull(),
    question: text('question').notNull(),
    answer: text('answer'),
    searchResults: text('search_results', { mode: 'json' })
      .$type<StoredSearchResult[]>()
      .notNull()
      .default(sql`'[]'`),
    status: text('status', { enum: ['pending', 'streaming', 'answered', 'failed'] }).notNull(),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    provider: text('provider').notNull(),
    /** How many earlier answered pairs were sent upstream as history. */
    historyTurns: integer('history_turns').notNull().default(0),
    latencyMs: integer('latency_ms'),
    createdAt: timestamp('created_at').notNull(),
    answeredAt: timestamp('answered_at'),
  },
  (table) => [
    uniqueIndex('qa_pairs_chat_seq_unique').on(table.chatId, table.seq),
    index('qa_pairs_parent_idx').on(table.parentId),
    index('qa_pairs_user_idx').on(table.userId),
    // Only unfinished pairs are indexed: the start-up recovery finds them without a scan.
    index('qa_pairs_unfinished_idx')
      .on(table.status)
      .where(sql`${table.status} in ('pending', 'streaming')`),
  ],
);

export type UserRow = typeof users.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type ChatRow = typeof chats.$inferSelect;
export type QaPairRow = typeof qaPairs.$inferSelect;
export type QaPairStatus = QaPairRow['status'];
