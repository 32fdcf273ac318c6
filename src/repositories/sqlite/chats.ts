import { and, desc, eq, sql } from 'drizzle-orm';
import type { SqliteDb } from '../../db/sqlite/client.js';
import { chats, deletedChats } from '../../db/sqlite/schema.js';
import { eventOf } from '../../domain/events.js';
import type { ChatCursor, ChatRow, ChatSettings } from '../../domain/types.js';
import type { ChatStore, NewChat } from '../contract.js';
import type { SharedStatements } from './shared.js';

/** Chats on SQLite: each method one statement or one short synchronous transaction. */
export function createSqliteChatStore(db: SqliteDb, shared: SharedStatements): ChatStore {
  const p = sql.placeholder;
  const firstPage = db
    .select()
    .from(chats)
    .where(eq(chats.userId, p('userId')))
    .orderBy(desc(chats.updatedAt), desc(chats.id))
    .limit(p('limit'))
    .prepare();
  // A row-value comparison, unlike the equivalent OR, lets SQLite seek straight to the
  // cursor in the (user_id, updated_at, id) index, so deep pages cost what the first does.
  const nextPage = db
    .select()
    .from(chats)
    .where(and(eq(chats.userId, p('userId')), sql`(${chats.updatedAt}, ${chats.id}) < (${p('updatedAt')}, ${p('id')})`))
    .orderBy(desc(chats.updatedAt), desc(chats.id))
    .limit(p('limit'))
    .prepare();

  return {
    async findById(id: string): Promise<ChatRow | undefined> {
      return shared.findChat.get({ id });
    },

    async create(chat: NewChat, mainBranchId: string): Promise<ChatRow> {
      return db.transaction(() => {
        const row = shared.insertChatWithMainBranch(chat, mainBranchId);
        shared.recordEvent(eventOf.chatCreated(row, chat.createdAt));
        return row;
      });
    },

    async listForUser(userId: string, limit: number, cursor?: ChatCursor): Promise<ChatRow[]> {
      if (!cursor) return firstPage.all({ userId, limit });
      return nextPage.all({ userId, limit, updatedAt: cursor.updatedAt.getTime(), id: cursor.id });
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

    async update(id: string, changes: { title?: string; settings?: ChatSettings }, now: Date) {
      return db.transaction((tx) => {
        const chat = tx
          .update(chats)
          .set({ ...changes, updatedAt: now, version: sql`${chats.version} + 1` })
          .where(eq(chats.id, id))
          .returning()
          .get();
        if (chat) {
          shared.chatListChanged(chat.userId);
          shared.recordEvent(eventOf.chatUpdated(chat, now));
        }
        return chat;
      });
    },

    // Its branches and pairs go with it through the foreign keys' cascade.
    async delete(id: string): Promise<boolean> {
      return db.transaction((tx) => {
        const deleted = tx.delete(chats).where(eq(chats.id, id)).returning({ userId: chats.userId }).get();
        if (!deleted) return false;
        tx.insert(deletedChats).values({ id, userId: deleted.userId }).onConflictDoNothing().run();
        shared.chatListChanged(deleted.userId);
        shared.recordEvent(eventOf.chatDeleted({ id, userId: deleted.userId }, new Date()));
        return true;
      });
    },

    async wasDeleted(id: string): Promise<boolean> {
      return shared.wasDeleted(id);
    },
  };
}
