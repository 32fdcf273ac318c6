import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createOfflineProvider } from '../src/chatbot/offline.js';
import { openDatabase } from '../src/db/sqlite/client.js';
import { createSqliteStorage } from '../src/repositories/sqlite/index.js';
import { createAccessService, type Actor } from '../src/services/access.js';
import { createChatService } from '../src/services/chats.js';
import { createConversationService } from '../src/services/conversation.js';
import { createUserService } from '../src/services/users.js';
import { onPg } from './helpers/database.js';
import { useTempDir } from './helpers/suite.js';

const temp = useTempDir();

// SQLite's planner (EXPLAIN QUERY PLAN); PostgreSQL's plans are checked in query-plans-pg.test.ts.
describe.skipIf(onPg)('query plans (SQLite)', () => {
  it('uses an index for every query the services make: no table scan, no sort of a table', async () => {
    const executed = new Map<string, unknown[]>();
    const database = openDatabase(join(temp.dir, 'plans.db'), {
      queryLogger: { logQuery: (query, params) => void executed.set(query, params) },
    });
    executed.clear(); // the migrations' statements are not the app's queries
    const storage = createSqliteStorage(database.db, 'plans');
    const access = createAccessService({ users: storage.users, adminApiKey: undefined });
    const userService = createUserService({ users: storage.users, allowSignup: true });
    const chatService = createChatService({ stores: storage, access });
    const conversation = createConversationService({
      stores: storage,
      access,
      chatbot: createOfflineProvider(),
      chatLock: storage.chatLock,
      historyMaxTurns: 20,
    });

    // Enough rows that the planner has real choices to make.
    const { user, apiKey } = await userService.createUser(undefined, { name: 'Ada' });
    const actor: Actor = { kind: 'user', userId: user.id };
    for (let index = 0; index < 30; index += 1)
      await chatService.createChat(actor, user.id, { title: `chat ${index}` });
    const { chatId } = await conversation.ask(actor, { userId: user.id, question: 'first' });
    await conversation.ask(actor, { userId: user.id, chatId, question: 'second' });
    await access.authenticate(apiKey);
    await userService.getCurrentUser(actor);
    const page = await chatService.listChats(actor, user.id, { limit: 5 });
    expect(page.nextCursor).not.toBeNull();
    await chatService.listChats(actor, user.id, { limit: 5, cursor: page.nextCursor ?? '' });
    await chatService.getChat(actor, user.id, chatId);
    await chatService.updateChat(actor, user.id, chatId, { title: 'renamed' });
    await storage.liveness.failOrphans('INTERRUPTED', 'x', new Date());
    await chatService.deleteChat(actor, user.id, chatId);

    // Every statement that has to find rows; inserts and the migrator's own bookkeeping aside.
    const reads = [...executed].filter(([query]) => /^\s*(with|select|update|delete)\b/i.test(query));
    expect(reads.length).toBeGreaterThan(8);
    expect(reads.some(([query]) => query.includes(') < ('))).toBe(true);
    for (const [query, params] of reads) {
      const plan = database.sqlite
        .prepare(`EXPLAIN QUERY PLAN ${query}`)
        .all(...(params as unknown[]))
        .map((row) => (row as { detail: string }).detail);
      const text = plan.join('\n');
      expect(text, query).not.toMatch(/\bSCAN (users|api_keys|chats|qa_pairs)\b/);
      // A branch path comes out of its recursive walk head first and is sorted into asking
      // order: a sort of the path's own rows, bounded by its length, never of a table.
      if (!query.includes('WITH RECURSIVE')) expect(text, query).not.toMatch(/USE TEMP B-TREE/);
      // A keyset page must seek to its cursor, not walk the whole user range.
      if (/\) < \(/.test(query)) expect(text, query).toContain('(updated_at,id)<(?,?)');
    }

    // The search triggers (migration 0005) find a chat's title document by chat and a null
    // pair id. Both columns must narrow the search: by the pair id alone, `IS NULL` matches
    // every chat's title document, and each chat insert or rename walked all of them.
    const titleLookup = database.sqlite
      .prepare('EXPLAIN QUERY PLAN SELECT id FROM search_docs WHERE chat_id = ? AND qa_pair_id IS NULL')
      .all(chatId)
      .map((row) => (row as { detail: string }).detail)
      .join('\n');
    expect(titleLookup).toContain('(chat_id=? AND qa_pair_id=?)');
    // A chat view reads its whole tree skeleton (ids and parents in asking order) for the
    // siblings: from the covering index alone, never from the wide pair rows.
    const skeleton = [...executed.keys()].find((query) =>
      /^select "id", "parent_id" from "qa_pairs" where "qa_pairs"."chat_id" = \? order by/i.test(query),
    );
    expect(skeleton).toBeDefined();
    const skeletonPlan = database.sqlite
      .prepare(`EXPLAIN QUERY PLAN ${skeleton ?? ''}`)
      .all(chatId)
      .map((row) => (row as { detail: string }).detail)
      .join('\n');
    expect(skeletonPlan).toContain('USING COVERING INDEX qa_pairs_chat_tree_idx');
    database.close();
  });
});
