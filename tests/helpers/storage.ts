import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { openAppDatabase, type AppDatabase } from '../../src/db/index.js';
import type { AskPlacement, PairOutcome } from '../../src/domain/asks.js';
import type { BranchRow, ChatRow, QaPairRow, StoredSearchResult, UserRow } from '../../src/domain/types.js';
import { createStorage, type StorageOptions } from '../../src/repositories/index.js';
import type { BeginAskInput, Storage } from '../../src/repositories/contract.js';
import { createPgDatabase, onPg } from './database.js';

export type Engine = 'sqlite' | 'pg';

/**
 * The engines the contract suite runs on. `npm test` runs SQLite; `npm run test:pg` runs
 * the whole suite again on PostgreSQL, and there only PostgreSQL: CI (.ci/run) runs both
 * suites, so repeating the SQLite cases in the PostgreSQL run would test nothing new and
 * double its time. The cases are written once, per engine, with `describe.each(engines)`.
 */
export const engines: readonly Engine[] = onPg ? ['pg'] : ['sqlite'];

export interface OpenedStorage {
  storage: Storage;
  /** The open database, for the few store tests that must set up what no store writes. */
  database: AppDatabase;
  close(): Promise<void>;
}

/**
 * A fresh, migrated database of `engine` (a SQLite file in a temporary folder, or a new
 * PostgreSQL database on the test server) with the storage over it.
 */
export async function openStorage(engine: Engine, options: StorageOptions = {}): Promise<OpenedStorage> {
  let location: string;
  let removeFolder = () => undefined as void;
  if (engine === 'pg') {
    location = await createPgDatabase('repositories');
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'chat-storage-test-'));
    location = join(dir, 'storage.db');
    removeFolder = () => rmSync(dir, { recursive: true, force: true });
  }
  // The app's own defaults (pool sizes, timeouts), as the server would open it.
  const database = await openAppDatabase(loadConfig({ DATABASE_URL: location, LOG_LEVEL: 'silent' }).database);
  const storage = await createStorage(database, options);
  return {
    storage,
    database,
    async close() {
      await storage.events.close();
      await database.close();
      removeFolder();
    },
  };
}

/** A moment `minutes` after a fixed start: tests pass explicit times, never read the clock. */
export const at = (minutes: number): Date => new Date(Date.UTC(2024, 4, 1, 10, 0, 0) + minutes * 60_000);

export async function seedUser(storage: Storage, name = 'Ada'): Promise<UserRow> {
  const user = { id: randomUUID(), name, createdAt: at(0) };
  return storage.users.createWithKey(user, {
    id: randomUUID(),
    userId: user.id,
    keyHash: randomUUID().replaceAll('-', '').repeat(2),
    prefix: 'test',
    createdAt: at(0),
  });
}

export interface SeededChat {
  chat: ChatRow;
  mainBranchId: string;
}

export async function seedChat(
  storage: Storage,
  user: UserRow,
  fields: Partial<Pick<ChatRow, 'title' | 'createdAt' | 'updatedAt' | 'settings'>> = {},
): Promise<SeededChat> {
  const mainBranchId = randomUUID();
  const chat = await storage.chats.create(
    {
      id: randomUUID(),
      userId: user.id,
      title: fields.title ?? 'A chat',
      createdAt: fields.createdAt ?? at(0),
      updatedAt: fields.updatedAt ?? fields.createdAt ?? at(0),
      settings: fields.settings ?? {},
    },
    mainBranchId,
  );
  return { chat, mainBranchId };
}

export type AskInput = Pick<BeginAskInput, 'chatId' | 'userId' | 'question' | 'now'> &
  Partial<Omit<BeginAskInput, 'chatId' | 'userId' | 'question' | 'now'>>;

/** `beginAsk` with fresh ids and the defaults of a plain ask (after the active branch's head). */
export function askInput(input: AskInput): BeginAskInput {
  return {
    placement: { kind: 'active' },
    newBranchId: randomUUID(),
    pairId: randomUUID(),
    status: 'pending',
    provider: 'test',
    historyLimit: 100,
    ...input,
  };
}

export interface Begun {
  pair: QaPairRow;
  branchId: string;
  history: Pick<QaPairRow, 'question' | 'answer'>[];
}

/** Begins an ask that must land (the fixture is wrong otherwise). */
export async function begin(storage: Storage, input: AskInput): Promise<Begun> {
  const result = await storage.pairs.beginAsk(askInput(input));
  if (result.status !== 'begun') throw new Error(`ask "${input.question}" did not begin: ${result.status}`);
  return result;
}

export function answered(answer: string, answeredAt: Date, searchResults: StoredSearchResult[] = []): PairOutcome {
  return {
    status: 'answered',
    answer,
    searchResults,
    answeredAt,
    latencyMs: 12,
    model: 'm-1',
    upstreamRequestId: 'r-1',
  };
}

/** Begins an ask and answers it: one answered pair, `answer` defaulting to "A: <question>". */
export async function askAndAnswer(
  storage: Storage,
  input: AskInput & { answer?: string; searchResults?: StoredSearchResult[] },
): Promise<Begun> {
  const { answer, searchResults, ...ask } = input;
  const begun = await begin(storage, ask);
  const pair = await storage.pairs.complete(
    begun.pair.id,
    answered(answer ?? `A: ${input.question}`, input.now, searchResults),
  );
  if (!pair) throw new Error(`pair ${begun.pair.id} vanished`);
  return { ...begun, pair };
}

export const after = (parentId: string | null, newBranch: 'if-needed' | 'always' = 'if-needed'): AskPlacement => ({
  kind: 'after',
  parentId,
  newBranch,
});

/** A branch row of `chat` for `storage.branches.create`: unnamed and empty unless told. */
export function branchRow(chat: ChatRow, fields: Partial<Omit<BranchRow, 'chatId' | 'userId'>> = {}): BranchRow {
  return {
    id: randomUUID(),
    chatId: chat.id,
    userId: chat.userId,
    name: null,
    forkPairId: null,
    headPairId: null,
    createdAt: at(0),
    updatedAt: at(0),
    ...fields,
  };
}

/** Creates a branch that must be created (the fixture is wrong otherwise). */
export async function seedBranch(storage: Storage, chat: ChatRow, fields: Parameters<typeof branchRow>[1] = {}) {
  const result = await storage.branches.create(branchRow(chat, fields));
  if (result.status !== 'created') throw new Error(`branch was not created: ${result.status}`);
  return result.branch;
}
