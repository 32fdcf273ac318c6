import { and, eq, sql } from 'drizzle-orm';
import type { SqliteDb } from '../../db/sqlite/client.js';
import { branches, chats, qaPairs } from '../../db/sqlite/schema.js';
import { planForkCopies, planImport, type ImportedChat } from '../../domain/transfer.js';
import { eventOf } from '../../domain/events.js';
import type { ChatRow } from '../../domain/types.js';
import type { ForkChatInput, ImportChatResult, TransferStore } from '../contract.js';
import type { SharedStatements } from './shared.js';

/** Imports and forks on SQLite: each one whole chat in one synchronous transaction. */
export function createSqliteTransferStore(db: SqliteDb, shared: SharedStatements): TransferStore {
  const p = sql.placeholder;
  const importedFrom = db
    .select({ id: chats.id })
    .from(chats)
    .where(and(eq(chats.userId, p('userId')), eq(chats.importSource, p('importSource'))))
    .prepare();
  const chatOfUser = db
    .select({ id: chats.id })
    .from(chats)
    .where(and(eq(chats.userId, p('userId')), eq(chats.id, p('id'))))
    .prepare();
  const insertImportedChat = db
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
  const insertFullPair = db
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
      rendered: p('rendered'),
      renderedNode: p('renderedNode'),
    })
    .prepare();

  return {
    async importChat(input: { userId: string; chat: ImportedChat; newId: () => string }): Promise<ImportChatResult> {
      const { chat: imported, userId } = input;
      return db.transaction((): ImportChatResult => {
        // Already imported from this source, or the very chat this export was made from.
        const existing =
          importedFrom.get({ userId, importSource: imported.sourceId }) ??
          (imported.originalChatId === undefined ? undefined : chatOfUser.get({ userId, id: imported.originalChatId }));
        if (existing) return { status: 'duplicate', chatId: existing.id };

        const rows = planImport(imported, userId, input.newId);
        insertImportedChat.run({ ...rows.chat });
        // One prepared single-row insert per pair: SQLite's fastest bulk path inside a
        // transaction, and the triggers' programs are compiled once.
        for (const pair of rows.pairs) insertFullPair.run({ ...pair, answeredAt: pair.answeredAt?.getTime() ?? null });
        for (const branch of rows.branches) shared.insertBranch.run({ ...branch });
        shared.chatListChanged(userId);
        const chat = shared.findChat.get({ id: rows.chat.id });
        if (!chat) throw new Error(`imported chat ${rows.chat.id} vanished inside its own transaction`);
        shared.recordEvent(eventOf.chatCreated(chat, new Date()));
        return { status: 'imported', chat };
      });
    },

    async forkChat(input: ForkChatInput): Promise<ChatRow> {
      return db.transaction((tx) => {
        const copies = planForkCopies(shared.listPath(input.pairId), input.chat.id, input.newPairId);
        const last = copies.at(-1);
        const source = shared.findChat.get({ id: input.sourceChatId });
        const chat = shared.insertChatWithMainBranch(
          {
            ...input.chat,
            forkedFromChatId: input.sourceChatId,
            forkedFromPairId: input.pairId,
            settings: source?.settings ?? {},
          },
          input.mainBranchId,
        );
        if (copies.length > 0) tx.insert(qaPairs).values(copies).run();
        tx.update(branches)
          .set({ headPairId: last?.id ?? null })
          .where(eq(branches.id, input.mainBranchId))
          .run();
        const forked = tx
          .update(chats)
          .set({ qaCount: copies.length, lastSeq: copies.length, lastQuestion: last?.question ?? null })
          .where(eq(chats.id, chat.id))
          .returning()
          .get();
        shared.recordEvent(eventOf.chatCreated(forked, new Date()));
        return forked;
      });
    },
  };
}
