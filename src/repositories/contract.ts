import type { AskPlacement, PairOutcome } from '../domain/asks.js';
import type { RetainedEventDraft, StoredEvent } from '../domain/events.js';
import type { AttemptOutcome, DueDelivery, WebhookDeliveryRow, WebhookRow } from '../domain/webhooks.js';
import type { SearchFilters, SearchHit, SearchTerm } from '../domain/search.js';
import type { ImportedChat } from '../domain/transfer.js';
import type {
  ApiKeyRow,
  BranchRow,
  BranchWithHead,
  ChatCursor,
  ChatRow,
  ChatSettings,
  IdempotencyRow,
  QaPairRow,
  TreeNode,
  UserRow,
} from '../domain/types.js';

/**
 * The storage contract: one interface per aggregate, written once, which each engine
 * implements in its own folder (./sqlite/, ./pg/) and ./index.ts picks. Services see only
 * these interfaces, never an engine. Every method is one statement or one short
 * transaction, never spanning an upstream call. Expected outcomes (a name taken, a chat
 * gone meanwhile) are return values; exceptions are for what no caller can plan for.
 * The rules both engines must agree on are tested once, against both, in tests/repositories/.
 */

export type NewUser = Omit<UserRow, 'chatsVersion' | 'lastEventId'>;

export interface UserStore {
  /** Stores a user with their first API key, in one transaction. */
  createWithKey(user: NewUser, key: ApiKeyRow): Promise<UserRow>;
  /** Removes the user and, through the foreign keys' cascade, everything of theirs. */
  delete(id: string): Promise<boolean>;
  findById(id: string): Promise<UserRow | undefined>;
  /** The owner of the API key with this SHA-256. */
  findByKeyHash(keyHash: string): Promise<UserRow | undefined>;
}

export type NewChat = Pick<ChatRow, 'id' | 'userId' | 'title' | 'createdAt' | 'updatedAt' | 'settings'>;

export interface ChatStore {
  findById(id: string): Promise<ChatRow | undefined>;
  /** Creates a chat with its `main` branch, which starts empty and active. */
  create(chat: NewChat, mainBranchId: string): Promise<ChatRow>;
  /** One page of a user's chats, most recently updated first, strictly after `cursor`. */
  listForUser(userId: string, limit: number, cursor?: ChatCursor): Promise<ChatRow[]>;
  countForUser(userId: string): Promise<number>;
  /** Undefined when the chat does not exist. */
  update(id: string, changes: { title?: string; settings?: ChatSettings }, now: Date): Promise<ChatRow | undefined>;
  /**
   * Deletes the chat with its branches and pairs, and keeps its id (and owner) in
   * `deleted_chats` so no chat is ever created under it again. False when there was none.
   */
  delete(id: string): Promise<boolean>;
  /** Whether a chat with this id existed and was deleted. */
  wasDeleted(id: string): Promise<boolean>;
}

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

export type BeginAskResult =
  | {
      status: 'begun';
      pair: QaPairRow;
      branchId: string;
      /** Answered pairs on the path to the new one, oldest first, capped at `historyLimit`. */
      history: Pick<QaPairRow, 'question' | 'answer'>[];
    }
  /** The chat is gone (deleted since the caller looked, or its id was deleted before). */
  | { status: 'chat_gone' }
  /** The ask would start a branch, and the chat has MAX_BRANCHES_PER_CHAT already. */
  | { status: 'too_many_branches' };

/**
 * A pair as a view writes it: its place in the tree, and its stored rendering (the pair's
 * JSON, or its tree node's). `json` is null while the pair is not final, or not rendered
 * yet: the view then renders the row live.
 */
export interface PairFragment {
  id: string;
  parentId: string | null;
  json: string | null;
}

export interface PairStore {
  find(id: string): Promise<QaPairRow | undefined>;
  /** The pairs from the first one to `headPairId`, first first (the latest `limit` of them). */
  listPath(headPairId: string | null, limit?: number): Promise<QaPairRow[]>;
  /** Answered pairs on the path to `headPairId`, oldest first, at most `limit`. */
  listHistory(headPairId: string | null, limit: number): Promise<Pick<QaPairRow, 'question' | 'answer'>[]>;
  /** The chat's pairs in asking order (so every parent comes before its children), at most `limit`. */
  listOfChat(chatId: string, limit: number): Promise<QaPairRow[]>;
  /** Every pair of the chat as (id, parent id), in asking order. */
  listTree(chatId: string): Promise<TreeNode[]>;
  /** `listPath` as stored renderings: what the chat view concatenates. */
  listPathFragments(headPairId: string | null, limit: number): Promise<PairFragment[]>;
  /** `listOfChat` as stored tree-node renderings: what the tree view concatenates. */
  listTreeFragments(chatId: string, limit: number): Promise<PairFragment[]>;
  /**
   * Stores the renderings of up to `limit` final pairs that have none (pairs from before
   * renderings were stored, pairs failed by recovery); returns how many. Views do not
   * change (they render such pairs live, identically), so no version moves.
   */
  renderMissing(limit: number): Promise<number>;
  /**
   * Stores the question as a `pending` (or `streaming`) pair at its place in the tree
   * (creating the chat, or a branch, when needed), makes its branch active and returns the
   * history to send upstream, all in one transaction.
   */
  beginAsk(input: BeginAskInput): Promise<BeginAskResult>;
  /** Records how an ask ended (and its `pair.completed` event). Undefined when its chat was deleted meanwhile. */
  complete(pairId: string, outcome: PairOutcome): Promise<QaPairRow | undefined>;
  /**
   * Saves the text a streaming answer has so far (replacing what was saved), and signals
   * listeners of its owner's events with a `progress` signal. False when the pair is gone
   * or no longer unfinished (nothing is saved then).
   */
  saveProgress(pairId: string, text: string, now: Date): Promise<boolean>;
  /** The text last saved for an unfinished pair; undefined when none was (or it is final). */
  progressOf(pairId: string): Promise<string | undefined>;
}

export type CreateBranchResult =
  { status: 'created'; branch: BranchRow } | { status: 'name_taken' } | { status: 'too_many_branches' };

export type RenameBranchResult =
  { status: 'renamed'; branch: BranchRow } | { status: 'name_taken' } | { status: 'missing' };

export interface BranchStore {
  find(id: string): Promise<BranchRow | undefined>;
  /** The chat's branches, oldest first, each with its head's question. */
  listOfChat(chatId: string): Promise<BranchWithHead[]>;
  /** Adds a branch and makes it the active one. */
  create(branch: BranchRow): Promise<CreateBranchResult>;
  activate(chatId: string, branchId: string): Promise<void>;
  rename(id: string, name: string | null, now: Date): Promise<RenameBranchResult>;
  /**
   * Deletes a branch and the pairs no other branch passes through (a suffix of its path),
   * optionally switching the active branch, in one transaction. Returns how many pairs went.
   */
  delete(input: { chatId: string; branchId: string; activateBranchId?: string }): Promise<number>;
}

export type ImportChatResult = { status: 'imported'; chat: ChatRow } | { status: 'duplicate'; chatId: string };

export interface ForkChatInput {
  sourceChatId: string;
  pairId: string;
  chat: Pick<ChatRow, 'id' | 'userId' | 'title' | 'createdAt' | 'updatedAt'>;
  mainBranchId: string;
  newPairId: () => string;
}

/** Whole chats written at once: imports and forks. */
export interface TransferStore {
  /**
   * Writes an imported chat with all its pairs and branches, under fresh ids, in one
   * transaction: it is there whole or not at all. A chat already imported from the same
   * source for this user (or the very chat an export was made from) is not written again.
   */
  importChat(input: { userId: string; chat: ImportedChat; newId: () => string }): Promise<ImportChatResult>;
  /**
   * Copies the path from the first pair to `pairId` into a new chat (new ids, same content
   * and timestamps), recording where it came from, with a `main` branch over it.
   */
  forkChat(input: ForkChatInput): Promise<ChatRow>;
}

/** Thrown by `SearchStore.search` when the engine refuses the query built from the terms. */
export class InvalidSearchQuery extends Error {
  override name = 'InvalidSearchQuery';
}

export interface SearchStore {
  /**
   * Brings the full-text index up to date with up to `limit` writes it is behind on, and
   * returns how many it indexed; a background job calls it until it returns less than
   * `limit`. `search` and `listCiting` never see a stale index either way: on SQLite the
   * asks only note their pairs and both index what is noted before they query; on
   * PostgreSQL each write's own transaction updates its document (GIN's pending list
   * already batches the index work), so there is never anything to index and it returns 0.
   */
  indexPending(limit: number): Promise<number>;
  /** Ranked matches of every term among the user's pairs and chat titles. */
  search(terms: readonly SearchTerm[], input: SearchFilters): Promise<SearchHit[]>;
  /** Without a text query: the user's pairs citing `domain`, newest first. */
  listCiting(input: SearchFilters & { domain: string }): Promise<SearchHit[]>;
}

export type ClaimResult =
  /** The key is ours: run the request, then `complete` (or `release`) it. */
  | { kind: 'claimed' }
  /** Seen before, with this row's state and request hash. */
  | { kind: 'existing'; row: IdempotencyRow };

/** Idempotency keys of POST /search, one row per (user, key). */
export interface IdempotencyStore {
  /** Claims `key` for this request unless a live row holds it; expired rows are taken over. */
  claim(input: { userId: string; key: string; requestHash: string; now: Date; expiresAt: Date }): Promise<ClaimResult>;
  find(userId: string, key: string): Promise<IdempotencyRow | undefined>;
  /** Stores the response a claimed key's request produced. */
  complete(userId: string, key: string, statusCode: number, response: string): Promise<void>;
  /** Gives a key back (its request failed before doing anything worth replaying). */
  release(userId: string, key: string): Promise<void>;
  purgeExpired(now: Date): Promise<number>;
}

/**
 * Orders asks (and branch changes) on one chat, in arrival order: within this process on
 * SQLite, across instances on PostgreSQL. Work on different chats runs in parallel.
 */
export interface ChatLock {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
  /** How many runs hold or wait for `key` in this process. */
  queuedFor(key: string): number;
}

/**
 * How this instance tells others it is alive, and how pairs left unfinished by stopped
 * instances are failed. SQLite has one process per database: everything unfinished at
 * start-up is orphaned, and nothing needs sweeping later. On PostgreSQL several instances
 * share the database: each one beats, and start-up and every beat fail only the pairs of
 * instances whose heartbeat expired.
 */
export interface InstanceLiveness {
  instanceId: string;
  /** How often `beat` should run; undefined: never (single process). */
  heartbeatMs: number | undefined;
  /** Registers this instance (at start-up) or proves it still runs. */
  beat(): Promise<void>;
  /** Fails the unfinished pairs no running instance owns; returns how many. */
  failOrphans(errorCode: string, errorMessage: string, now: Date): Promise<number>;
  /** Deregisters this instance (clean shutdown, after its asks were drained). */
  leave(): Promise<void>;
}

/**
 * Tells listeners that something of a user's was committed: `events` when their log has
 * new events, `progress` when a streaming answer saved its text so far. On SQLite it comes
 * from this process's own transactions; on PostgreSQL from every instance's (LISTEN/NOTIFY
 * carries only these ids: the events are read from the log). `reconnected`: signals may
 * have been missed (PostgreSQL's listening connection was re-established), so every
 * listener should read its log again.
 */
export type EventSignal =
  | { kind: 'events'; userId: string }
  | { kind: 'progress'; userId: string; chatId: string; pairId: string }
  | { kind: 'reconnected' };

/**
 * Each user's event log. The stores record events themselves, in the transaction of the
 * change they tell of (so nothing is told that did not happen, and nothing that happened
 * goes untold); this store reads the log, records events no other write carries, and
 * prunes it.
 */
export interface EventStore {
  /** Records events that no other write carries (an answer's search results), in one transaction. */
  append(drafts: readonly RetainedEventDraft[]): Promise<StoredEvent[]>;
  /** The user's events with an id above `afterId`, oldest first, at most `limit`. */
  listAfter(userId: string, afterId: number, limit: number): Promise<StoredEvent[]>;
  /** The id of the user's latest event (0 before their first); undefined when there is no such user. */
  lastId(userId: string): Promise<number | undefined>;
  /**
   * Deletes the events that are both older than `keepSince` and not among their user's
   * latest `keepCount`; returns how many went.
   */
  prune(input: { keepCount: number; keepSince: Date }): Promise<number>;
  /**
   * Resolves once signals from other instances are received (PostgreSQL's LISTEN is
   * established); rejects when that connection cannot be made now (it is retried).
   */
  listening(): Promise<void>;
  /** Calls `listener` with every signal, until the returned function is called. */
  subscribe(listener: (signal: EventSignal) => void): () => void;
  /** Stops listening for other instances' signals (PostgreSQL), for shutdown. */
  close(): Promise<void>;
}

/** Single-use tickets that open a user's event stream without a key (browsers' WebSockets). */
export interface EventTicketStore {
  create(input: { ticketHash: string; userId: string; expiresAt: Date }): Promise<void>;
  /** Deletes the ticket and returns its user, if it existed and had not expired at `now`. */
  redeem(ticketHash: string, now: Date): Promise<string | undefined>;
  purgeExpired(now: Date): Promise<number>;
}

/**
 * Webhooks and their outbox. Deliveries are written by the event log itself, in the
 * transaction that records the event (one per webhook of the user subscribed to its type),
 * so none is lost to a crash; this store hands them out to be tried and records how each
 * try went.
 */
export interface WebhookStore {
  create(webhook: WebhookRow): Promise<void>;
  /** The user's webhooks, oldest first. */
  listForUser(userId: string): Promise<WebhookRow[]>;
  find(id: string): Promise<WebhookRow | undefined>;
  /** Deletes the user's webhook (and its deliveries); false when the user has no such webhook. */
  delete(userId: string, id: string): Promise<boolean>;
  /**
   * Up to `limit` pending deliveries due at `now`, oldest due first, each leased until
   * `leaseUntil` (its next try moves there, so no other instance takes it meanwhile, and a
   * crashed instance's tries are taken up again after it).
   */
  claimDue(now: Date, limit: number, leaseUntil: Date): Promise<DueDelivery[]>;
  /**
   * Records a try: delivered, to be tried again at `retryAt`, or (without `retryAt`)
   * failed for good.
   */
  recordAttempt(
    delivery: Pick<WebhookDeliveryRow, 'webhookId' | 'eventId'>,
    input: { at: Date; outcome: AttemptOutcome; retryAt?: Date },
  ): Promise<void>;
  /** Deletes deliveries finished (delivered or failed for good) before `before`; returns how many. */
  pruneFinished(before: Date): Promise<number>;
  /** A webhook's deliveries, newest event first, those before `beforeEventId` when given. */
  listDeliveries(webhookId: string, limit: number, beforeEventId?: number): Promise<WebhookDeliveryRow[]>;
}

/** Everything the services store, whatever the engine. */
export interface Storage {
  users: UserStore;
  chats: ChatStore;
  pairs: PairStore;
  branches: BranchStore;
  transfer: TransferStore;
  search: SearchStore;
  idempotency: IdempotencyStore;
  events: EventStore;
  eventTickets: EventTicketStore;
  webhooks: WebhookStore;
  chatLock: ChatLock;
  liveness: InstanceLiveness;
}
