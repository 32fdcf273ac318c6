import { and, desc, eq, sql } from 'drizzle-orm';
import type { PgDb } from '../../db/pg/client.js';
import { chats, deletedChats } from '../../db/pg/schema.js';
import type { ChatCursor, ChatRow, ChatSettings } from '../../domain/types.js';
import type { ChatStore, NewChat } from '../contract.js';
import { eventOf } from '../../domain/events.js';
import { recordEvent } from './events.js';
import { chatListChanged, insertChatWithMainBranch, wasDeleted } from './shared.js';

/** Chats on PostgreSQL: each method one statement or one short transaction. */
export function createPgChatStore(db: PgDb): ChatStore {
  const p = sql.placeholder;
  const findById = db
    .select()
    .from(chats)
    .where(eq(chats.id, p('id')))
    .prepare('chats_find_by_id');
  const firstPage = db
    .select()
    .from(chats)
    .where(eq(chats.userId, p('userId')))
    .orderBy(desc(chats.updatedAt), desc(chats.id))
    .limit(p('limit'))
    .prepare('chats_first_page');
  // A row-value comparison: PostgreSQL seeks to the cursor in the (user_id, updated_at, id) index.
  const nextPage = db
    .select()
    .from(chats)
    .where(
      and(
        eq(chats.userId, p('userId')),
        sql`(${chats.updatedAt}, ${chats.id}) < (${p('updatedAt')}::timestamptz, ${p('id')}::text)`,
      ),
    )
    .orderBy(desc(chats.updatedAt), desc(chats.id))
    .limit(p('limit'))
    .prepare('chats_next_page');

  return {
    async findById(id: string): Promise<ChatRow | undefined> {
      return (await findById.execute({ id }))[0];
    },

    async create(chat: NewChat, mainBranchId: string): Promise<ChatRow> {
      return db.transaction(async (tx) => {
        const row = await insertChatWithMainBranch(tx, chat, mainBranchId);
        await recordEvent(tx, eventOf.chatCreated(row, chat.createdAt));
        return row;
      });
    },

    async listForUser(userId: string, limit: number, cursor?: ChatCursor): Promise<ChatRow[]> {
      if (!cursor) return firstPage.execute({ userId, limit });
      return nextPage.execute({ userId, limit, updatedAt: cursor.updatedAt.toISOString(), id: cursor.id });
    },

    async countForUser(userId: string): Promise<number> {
      const [row] = await db
        .select({ n: sql<number>`count(*)::int` })
        .from(chats)
        .where(eq(chats.userId, userId));
      return row?.n ?? 0;
    },

    async update(id: string, changes: { title?: string; settings?: ChatSettings }, now: Date) {
      return db.transaction(async (tx) => {
        const [row] = await tx
          .update(chats)
          .set({ ...changes, updatedAt: now, version: sql`${chats.version} + 1` })
          .where(eq(chats.id, id))
          .returning();
        if (row) {
          await chatListChanged(tx, row.userId);
          await recordEvent(tx, eventOf.chatUpdated(row, now));
        }
        return row;
      });
    },

    // Cascades to its branches and pairs; the tombstone commits with the deletion.
    async delete(id: string): Promise<boolean> {
      return db.transaction(async (tx) => {
        const [deleted] = await tx.delete(chats).where(eq(chats.id, id)).returning({ userId: chats.userId });
        if (!deleted) return false;
        await tx.insert(deletedChats).values({ id, userId: deleted.userId }).onConflictDoNothing();
        await chatListChanged(tx, deleted.userId);
        await recordEvent(tx, eventOf.chatDeleted({ id, userId: deleted.userId }, new Date()));
        return true;
      });
    },

    async wasDeleted(id: string): Promise<boolean> {
      return wasDeleted(db, id);
    },
  };
}
