import { sql } from 'drizzle-orm';
import {
  bigint,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  type AnyPgColumn,
} from 'drizzle-orm/pg-core';
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

/**
 * The PostgreSQL twin of `schema.ts`: the same tables, columns and indexes, in PostgreSQL's
 * own types (timestamptz, jsonb, tsvector). Row types must equal the domain's (checked at
 * the bottom of this file), so services and routes see one shape whatever the engine.
 * Migrations: `DRIZZLE_DIALECT=pg npm run db:generate` writes them to drizzle/pg.
 */

/** Read back as a `Date`, like SQLite's millisecond integers. */
const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** A text-search document; written by triggers (drizzle/pg custom migration), never by the app. */
const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

export const users = pgTable('users', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: timestamptz('created_at').notNull(),
  chatsVersion: integer('chats_version').notNull().default(1),
  lastEventId: bigint('last_event_id', { mode: 'number' }).notNull().default(0),
});

export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    keyHash: text('key_hash').notNull(),
    prefix: text('prefix').notNull(),
    createdAt: timestamptz('created_at').notNull(),
  },
  (table) => [
    uniqueIndex('api_keys_key_hash_unique').on(table.keyHash),
    index('api_keys_user_id_idx').on(table.userId),
  ],
);

export const chats = pgTable(
  'chats',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    createdAt: timestamptz('created_at').notNull(),
    updatedAt: timestamptz('updated_at').notNull(),
    qaCount: integer('qa_count').notNull().default(0),
    lastQuestion: text('last_question'),
    lastSeq: integer('last_seq').notNull().default(0),
    activeBranchId: text('active_branch_id'),
    forkedFromChatId: text('forked_from_chat_id'),
    forkedFromPairId: text('forked_from_pair_id'),
    settings: jsonb('settings')
      .$type<ChatSettings>()
      .notNull()
      .default(sql`'{}'::jsonb`),
    importSource: text('import_source'),
    version: integer('version').notNull().default(1),
  },
  (table) => [
    index('chats_user_updated_idx').on(table.userId, table.updatedAt, table.id),
    uniqueIndex('chats_user_import_source_unique')
      .on(table.userId, table.importSource)
      .where(sql`${table.importSource} is not null`),
  ],
);

export const qaPairs = pgTable(
  'qa_pairs',
  {
    id: text('id').primaryKey(),
    chatId: text('chat_id')
      .notNull()
      .references(() => chats.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    parentId: text('parent_id').references((): AnyPgColumn => qaPairs.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    question: text('question').notNull(),
    answer: text('answer'),
    searchResults: jsonb('search_results')
      .$type<StoredSearchResult[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    status: text('status', { enum: ['pending', 'streaming', 'answered', 'failed'] }).notNull(),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    provider: text('provider').notNull(),
    model: text('model'),
    upstreamRequestId: text('upstream_request_id'),
    historyTurns: integer('history_turns').notNull().default(0),
    latencyMs: integer('latency_ms'),
    createdAt: timestamptz('created_at').notNull(),
    answeredAt: timestamptz('answered_at'),
    /** Text, not jsonb: the bytes are served as they are, and jsonb would reorder the keys. */
    rendered: text('rendered'),
    renderedNode: text('rendered_node'),
  },
  (table) => [
    uniqueIndex('qa_pairs_chat_seq_unique').on(table.chatId, table.seq),
    // Covers a chat's tree skeleton (ids and parents in asking order) without touching the
    // wide rows: every chat view reads it for the siblings and branch lengths.
    index('qa_pairs_chat_tree_idx').on(table.chatId, table.seq, table.id, table.parentId),
    index('qa_pairs_parent_seq_idx').on(table.parentId, table.seq),
    index('qa_pairs_user_idx').on(table.userId),
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
 * Which app instance is answering a pending or streaming pair. Kept beside `qa_pairs`
 * (one row per unfinished pair, deleted when it completes) so that pair rows keep the
 * shape they have on SQLite. Recovery fails only pairs whose instance stopped beating.
 */
export const pendingPairs = pgTable(
  'pending_pairs',
  {
    qaPairId: text('qa_pair_id')
      .primaryKey()
      .references(() => qaPairs.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    instanceId: text('instance_id').notNull(),
    createdAt: timestamptz('created_at').notNull(),
  },
  (table) => [index('pending_pairs_instance_idx').on(table.instanceId)],
);

/**
 * Running app instances and their last heartbeat. Operational, not user data: the one
 * table without a user id (in a distributed PostgreSQL it is a small reference table).
 */
export const appInstances = pgTable('app_instances', {
  id: text('id').primaryKey(),
  startedAt: timestamptz('started_at').notNull(),
  heartbeatAt: timestamptz('heartbeat_at').notNull(),
});

export const branches = pgTable(
  'branches',
  {
    id: text('id').primaryKey(),
    chatId: text('chat_id')
      .notNull()
      .references(() => chats.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name'),
    forkPairId: text('fork_pair_id').references(() => qaPairs.id),
    headPairId: text('head_pair_id').references(() => qaPairs.id),
    createdAt: timestamptz('created_at').notNull(),
    updatedAt: timestamptz('updated_at').notNull(),
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
 * One row per searchable document (a pair, or a chat's title) with its weighted tsvector
 * (title A, question B, answer C, cited sources D), kept in step with every write by the
 * triggers of the custom migration; searched through a GIN index.
 */
export const searchDocs = pgTable(
  'search_docs',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    chatId: text('chat_id')
      .notNull()
      .references(() => chats.id, { onDelete: 'cascade' }),
    qaPairId: text('qa_pair_id').references(() => qaPairs.id, { onDelete: 'cascade' }),
    createdAt: timestamptz('created_at').notNull(),
    document: tsvector('document').notNull(),
  },
  (table) => [
    uniqueIndex('search_docs_qa_pair_unique').on(table.qaPairId),
    index('search_docs_chat_pair_idx').on(table.chatId, table.qaPairId),
    index('search_docs_user_idx').on(table.userId, table.createdAt),
    index('search_docs_document_idx').using('gin', table.document),
  ],
);

export const qaPairSources = pgTable(
  'qa_pair_sources',
  {
    qaPairId: text('qa_pair_id')
      .notNull()
      .references(() => qaPairs.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    domain: text('domain').notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.qaPairId, table.domain] }),
    index('qa_pair_sources_user_domain_idx').on(table.userId, table.domain),
  ],
);

/** The ids of deleted chats, never used again; only the id and its owner (see schema.ts). */
export const deletedChats = pgTable(
  'deleted_chats',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
  },
  (table) => [index('deleted_chats_user_id_idx').on(table.userId)],
);

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    state: text('state', { enum: ['running', 'done'] }).notNull(),
    statusCode: integer('status_code'),
    response: text('response'),
    createdAt: timestamptz('created_at').notNull(),
    expiresAt: timestamptz('expires_at').notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.key] }),
    index('idempotency_keys_expires_idx').on(table.expiresAt),
  ],
);

/** Each user's event log (see schema.ts). */
export const events = pgTable(
  'events',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    id: bigint('id', { mode: 'number' }).notNull(),
    chatId: text('chat_id').notNull(),
    type: text('type', { enum: RETAINED_EVENT_TYPES }).notNull(),
    at: timestamptz('at').notNull(),
    data: text('data').notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.id] }), index('events_at_idx').on(table.at)],
);

/** A streaming answer's text so far (see schema.ts). */
export const pairProgress = pgTable('pair_progress', {
  qaPairId: text('qa_pair_id')
    .primaryKey()
    .references(() => qaPairs.id, { onDelete: 'cascade' }),
  text: text('text').notNull(),
  updatedAt: timestamptz('updated_at').notNull(),
});

/** Single-use tickets for the event stream (see schema.ts). */
export const eventTickets = pgTable(
  'event_tickets',
  {
    ticketHash: text('ticket_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    expiresAt: timestamptz('expires_at').notNull(),
  },
  (table) => [index('event_tickets_expires_idx').on(table.expiresAt)],
);

/** A user's webhooks (see schema.ts: the secret signs deliveries, so it is kept usable). */
export const webhooks = pgTable(
  'webhooks',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    eventTypes: jsonb('event_types').$type<string[]>().notNull(),
    secret: text('secret').notNull(),
    createdAt: timestamptz('created_at').notNull(),
  },
  (table) => [index('webhooks_user_idx').on(table.userId)],
);

/** The webhook outbox (see schema.ts). */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    webhookId: text('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    eventId: bigint('event_id', { mode: 'number' }).notNull(),
    userId: text('user_id').notNull(),
    eventType: text('event_type').notNull(),
    payload: text('payload').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamptz('next_attempt_at').notNull(),
    lastAttemptAt: timestamptz('last_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: timestamptz('created_at').notNull(),
    deliveredAt: timestamptz('delivered_at'),
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
