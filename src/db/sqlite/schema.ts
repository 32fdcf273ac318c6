import { sql } from 'drizzle-orm';
import {
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
  type AnySQLiteColumn,
} from 'drizzle-orm/sqlite-core';
import type {
  ApiKeyRow,
  BranchRow,
  ChatRow,
  ChatSettings,
  IdempotencyRow,
  QaPairRow,
  StoredSearchResult,
  UserRow,
} from '../../domain/types.js';
import { RETAINED_EVENT_TYPES } from '../../domain/events.js';
import type { WebhookDeliveryRow, WebhookRow } from '../../domain/webhooks.js';

/** Milliseconds since the epoch, read back as a `Date`. */
const timestamp = (name: string) => integer(name, { mode: 'timestamp_ms' });

export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: timestamp('created_at').notNull(),
  /** See UserRow.chatsVersion. */
  chatsVersion: integer('chats_version').notNull().default(1),
  /** See UserRow.lastEventId. */
  lastEventId: integer('last_event_id').notNull().default(0),
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
  (table) => [
    uniqueIndex('api_keys_key_hash_unique').on(table.keyHash),
    index('api_keys_user_id_idx').on(table.userId),
  ],
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
    /**
     * The branch that GET shows and a plain ask continues. Always set by the app; kept
     * without a foreign key because branches reference chats too (the repository keeps
     * it pointing at a branch of this chat in the same transactions that change branches).
     */
    activeBranchId: text('active_branch_id'),
    /** Set on a chat made by forking another chat: where its first pairs were copied from. */
    forkedFromChatId: text('forked_from_chat_id'),
    forkedFromPairId: text('forked_from_pair_id'),
    settings: text('settings', { mode: 'json' })
      .$type<ChatSettings>()
      .notNull()
      .default(sql`'{}'`),
    /** For an imported chat: where it came from ("chatgpt:<id>", "export:<id>"), so a second import skips it. */
    importSource: text('import_source'),
    /** See ChatRow.version. */
    version: integer('version').notNull().default(1),
  },
  (table) => [
    index('chats_user_updated_idx').on(table.userId, table.updatedAt, table.id),
    uniqueIndex('chats_user_import_source_unique')
      .on(table.userId, table.importSource)
      .where(sql`${table.importSource} is not null`),
  ],
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
    /** The model that answered, when the provider names one. */
    model: text('model'),
    /** The upstream's id for the call (its x-request-id), to quote to the provider's support. */
    upstreamRequestId: text('upstream_request_id'),
    /** How many earlier answered pairs were sent upstream as history. */
    historyTurns: integer('history_turns').notNull().default(0),
    latencyMs: integer('latency_ms'),
    createdAt: timestamp('created_at').notNull(),
    answeredAt: timestamp('answered_at'),
    /** See QaPairRow.rendered: written by the stores when the pair becomes final. */
    rendered: text('rendered'),
    renderedNode: text('rendered_node'),
  },
  (table) => [
    uniqueIndex('qa_pairs_chat_seq_unique').on(table.chatId, table.seq),
    // Covers a chat's tree skeleton (ids and parents in asking order) without touching the
    // wide rows: every chat view reads it for the siblings and branch lengths.
    index('qa_pairs_chat_tree_idx').on(table.chatId, table.seq, table.id, table.parentId),
    // Children of a pair in asking order: siblings for the branch switcher.
    index('qa_pairs_parent_seq_idx').on(table.parentId, table.seq),
    index('qa_pairs_user_idx').on(table.userId),
    // Only unfinished pairs are indexed: the start-up recovery finds them without a scan.
    index('qa_pairs_unfinished_idx')
      .on(table.status)
      .where(sql`${table.status} in ('pending', 'streaming')`),
    // Only final pairs without a stored rendering (before the upgrade that added it, or
    // failed by recovery): the background backfill finds them without a scan.
    index('qa_pairs_unrendered_idx')
      .on(table.id)
      .where(sql`${table.rendered} is null and ${table.status} in ('answered', 'failed')`),
  ],
);

/**
 * A branch is a path from a chat's first pair to `headPairId`, following `parent_id`.
 * Pairs are shared between branches up to the point where they fork.
 */
export const branches = sqliteTable(
  'branches',
  {
    id: text('id').primaryKey(),
    chatId: text('chat_id')
      .notNull()
      .references(() => chats.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** Optional; unique within a chat. The first branch of a chat is `main`. */
    name: text('name'),
    /** The pair this branch forked from (its last pair shared with the branch it left); null for a root. */
    forkPairId: text('fork_pair_id').references(() => qaPairs.id),
    /** The last pair of the branch; null only for the main branch of a chat with no pairs yet. */
    headPairId: text('head_pair_id').references(() => qaPairs.id),
    createdAt: timestamp('created_at').notNull(),
    updatedAt: timestamp('updated_at').notNull(),
  },
  (table) => [
    index('branches_chat_idx').on(table.chatId, table.createdAt, table.id),
    index('branches_head_idx').on(table.headPairId),
    index('branches_fork_idx').on(table.forkPairId),
    index('branches_user_idx').on(table.userId),
    uniqueIndex('branches_chat_name_unique')
      .on(table.chatId, table.name)
      .where(sql`${table.name} is not null`),
  ],
);

/**
 * One row per searchable document (a pair, or a chat's title), with a stable integer id
 * that is the rowid of its row in the FTS5 table `search_index`. The FTS table and the
 * triggers that keep both in step with every write are created by a custom migration
 * (drizzle/sqlite/0005_search_index.sql); deleting a pair or a chat cascades here, and a
 * trigger removes the FTS row.
 */
export const searchDocs = sqliteTable(
  'search_docs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    chatId: text('chat_id')
      .notNull()
      .references(() => chats.id, { onDelete: 'cascade' }),
    /** Null for a chat-title document. */
    qaPairId: text('qa_pair_id').references(() => qaPairs.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at').notNull(),
  },
  (table) => [
    uniqueIndex('search_docs_qa_pair_unique').on(table.qaPairId),
    // (chat_id, qa_pair_id): finds a chat's title document (qa_pair_id IS NULL) within the
    // chat. With chat_id alone, SQLite preferred the unique index for `qa_pair_id IS NULL`
    // and walked every title document in the database on each chat insert and rename.
    index('search_docs_chat_pair_idx').on(table.chatId, table.qaPairId),
    index('search_docs_user_idx').on(table.userId),
  ],
);

/** The sites a pair's answer cited, for "where did I get answers from this site". */
export const qaPairSources = sqliteTable(
  'qa_pair_sources',
  {
    qaPairId: text('qa_pair_id')
      .notNull()
      .references(() => qaPairs.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** A cited host, lower case, without port; filled when the pair is indexed (search_outbox). */
    domain: text('domain').notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.qaPairId, table.domain] }),
    index('qa_pair_sources_user_domain_idx').on(table.userId, table.domain),
  ],
);

/**
 * Pairs whose full-text entry (search_index, qa_pair_sources) is behind their row: the
 * triggers of 0012_search_outbox.sql put a pair here when its question, answer or sources
 * are written, instead of tokenising it inside the ask's transactions, and the search store
 * indexes what is here in batches (on a timer, and always before a search runs). A pair
 * written twice before a drain (question, then answer) is indexed once.
 */
export const searchOutbox = sqliteTable('search_outbox', {
  qaPairId: text('qa_pair_id')
    .primaryKey()
    .references(() => qaPairs.id, { onDelete: 'cascade' }),
});

/**
 * The ids of deleted chats, so that no chat is ever created again under one of them (an
 * ask queued before the deletion would otherwise re-create it). Only the id and its owner
 * are kept, nothing of the chat's content; they go with the user.
 */
export const deletedChats = sqliteTable(
  'deleted_chats',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
  },
  (table) => [index('deleted_chats_user_id_idx').on(table.userId)],
);

/**
 * Idempotency-Key records of POST /search: the first request with a key runs, later ones
 * with the same key and body get its stored response. Expired rows are purged.
 */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    /** SHA-256 of the request body, to tell a retry from a different request reusing a key. */
    requestHash: text('request_hash').notNull(),
    state: text('state', { enum: ['running', 'done'] }).notNull(),
    statusCode: integer('status_code'),
    /** The JSON response body, as sent. */
    response: text('response'),
    createdAt: timestamp('created_at').notNull(),
    expiresAt: timestamp('expires_at').notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.key] }),
    index('idempotency_keys_expires_idx').on(table.expiresAt),
  ],
);

/**
 * Each user's event log (src/domain/events.ts): written by the stores in the transaction of
 * the change an event tells of, read by listeners resuming from an id, pruned to at least
 * the latest 1,000 events or 24 hours per user. `chat_id` has no foreign key: a chat's
 * deletion is itself an event that outlives the chat.
 */
export const events = sqliteTable(
  'events',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** 1, 2, 3... per user, in commit order (users.last_event_id hands them out). */
    id: integer('id').notNull(),
    chatId: text('chat_id').notNull(),
    type: text('type', { enum: RETAINED_EVENT_TYPES }).notNull(),
    at: timestamp('at').notNull(),
    /** The event's `data` as JSON text, written once and relayed as is. */
    data: text('data').notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.id] }), index('events_at_idx').on(table.at)],
);

/**
 * The text a streaming answer has so far, saved every 250 ms while it streams, so that a
 * listener attaching late (on any instance) gets it, and a crash keeps it on the failed
 * pair. The row goes when the pair is completed.
 */
export const pairProgress = sqliteTable('pair_progress', {
  qaPairId: text('qa_pair_id')
    .primaryKey()
    .references(() => qaPairs.id, { onDelete: 'cascade' }),
  text: text('text').notNull(),
  updatedAt: timestamp('updated_at').notNull(),
});

/**
 * Single-use tickets for the event stream, for browsers (which cannot set headers on a
 * WebSocket): only a SHA-256 of the ticket is kept, and it is deleted when redeemed.
 */
export const eventTickets = sqliteTable(
  'event_tickets',
  {
    ticketHash: text('ticket_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    expiresAt: timestamp('expires_at').notNull(),
  },
  (table) => [index('event_tickets_expires_idx').on(table.expiresAt)],
);

/**
 * A user's webhooks: where their events are POSTed. The signing secret is stored as is, not
 * hashed like API keys: every delivery signs its body with it (HMAC), so it must be usable.
 * It is returned once, at creation, and never listed or logged.
 */
export const webhooks = sqliteTable(
  'webhooks',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    /** The event types delivered (a JSON array), or ["*"] for every kept type. */
    eventTypes: text('event_types', { mode: 'json' }).$type<string[]>().notNull(),
    secret: text('secret').notNull(),
    createdAt: timestamp('created_at').notNull(),
  },
  (table) => [index('webhooks_user_idx').on(table.userId)],
);

/**
 * The webhook outbox: one row per (webhook, event), written in the transaction that records
 * the event, so a delivery is never lost to a crash; the payload is a copy (the event log is
 * pruned). Delivered, retried with backoff, or failed for good after the last try.
 */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    webhookId: text('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    eventId: integer('event_id').notNull(),
    userId: text('user_id').notNull(),
    eventType: text('event_type').notNull(),
    payload: text('payload').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    /** When the next try is due; while one is in flight, when its lease runs out. */
    nextAttemptAt: timestamp('next_attempt_at').notNull(),
    lastAttemptAt: timestamp('last_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: timestamp('created_at').notNull(),
    deliveredAt: timestamp('delivered_at'),
  },
  (table) => [
    primaryKey({ columns: [table.webhookId, table.eventId] }),
    index('webhook_deliveries_due_idx')
      .on(table.nextAttemptAt)
      .where(sql`${table.status} = 'pending'`),
  ],
);

// The rows the stores return are the domain's (src/domain/types.ts): each table's row type
// is checked against it both ways, so a column added here and not there fails the typecheck.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Check<T extends true> = T;
export type RowTypesMatchDomain = [
  Check<Same<typeof users.$inferSelect, UserRow>>,
  Check<Same<typeof apiKeys.$inferSelect, ApiKeyRow>>,
  Check<Same<typeof chats.$inferSelect, ChatRow>>,
  Check<Same<typeof qaPairs.$inferSelect, QaPairRow>>,
  Check<Same<typeof branches.$inferSelect, BranchRow>>,
  Check<Same<typeof idempotencyKeys.$inferSelect, IdempotencyRow>>,
  Check<Same<typeof qaPairSources.$inferSelect, { qaPairId: string; userId: string; domain: string }>>,
  Check<Same<typeof deletedChats.$inferSelect, { id: string; userId: string }>>,
  Check<Same<typeof webhooks.$inferSelect, WebhookRow>>,
  Check<Same<typeof webhookDeliveries.$inferSelect, WebhookDeliveryRow>>,
];
