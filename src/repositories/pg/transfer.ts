import { and, asc, eq, sql } from 'drizzle-orm';
import type { PgDb } from '../../db/pg/client.js';
import { branches, chats, qaPairs } from '../../db/pg/schema.js';
import { planForkCopies, planImport, type ImportedChat } from '../../domain/transfer.js';
import type { ChatRow } from '../../domain/types.js';
import type { ForkChatInput, ImportChatResult, TransferStore } from '../contract.js';
import { isPgError } from './errors.js';
import { eventOf } from '../../domain/events.js';
import { recordEvent } from './events.js';
import { chatListChanged, insertChatWithMainBranch, insertInBatches } from './shared.js';

/** The ids on the path from the first pair to `headPairId` (inclusive), as a subquery. */
function pathIds(headPairId: string) {
  return sql`(WITH RECURSIVE path(id) AS (
      SELECT ${headPairId}::text
      UNION ALL
      SELECT p.parent_id FROM ${qaPairs} p JOIN path ON p.id = path.id WHERE p.parent_id IS NOT NULL
    ) SELECT id FROM path)`;
}

/** Imports and forks on PostgreSQL: each one whole chat in one transaction. */
export function createPgTransferStore(db: PgDb): TransferStore {
  const importedFrom = async (userId: string, importSource: string) =>
    (
      await db
        .select({ id: chats.id })
        .from(chats)
        .where(and(eq(chats.userId, userId), eq(chats.importSource, importSource)))
    )[0];

  return {
    async importChat(input: { userId: string; chat: ImportedChat; newId: () => string }): Promise<ImportChatResult> {
      const { chat: imported, userId } = input;
      try {
        return await db.transaction(async (tx): Promise<ImportChatResult> => {
          // Already imported from this source, or the very chat this export was made from.
          const [existing] = await tx
            .select({ id: chats.id })
            .from(chats)
            .where(
              and(
                eq(chats.userId, userId),
                imported.originalChatId === undefined
                  ? eq(chats.importSource, imported.sourceId)
                  : sql`(${chats.importSource} = ${imported.sourceId} OR ${chats.id} = ${imported.originalChatId})`,
              ),
            )
            // The chat imported from this source first, as SQLite answers.
            .orderBy(sql`CASE WHEN ${chats.importSource} = ${imported.sourceId} THEN 0 ELSE 1 END`)
            .limit(1);
          if (existing) return { status: 'duplicate', chatId: existing.id };

          const rows = planImport(imported, userId, input.newId);
          await tx.insert(chats).values(rows.chat);
          await insertInBatches(rows.pairs, (batch) => tx.insert(qaPairs).values(batch));
          await insertInBatches(rows.branches, (batch) => tx.insert(branches).values(batch));
          await chatListChanged(tx, userId);
          const [chat] = await tx.select().from(chats).where(eq(chats.id, rows.chat.id));
          if (!chat) throw new Error(`imported chat ${rows.chat.id} vanished inside its own transaction`);
          await recordEvent(tx, eventOf.chatCreated(chat, new Date()));
          return { status: 'imported', chat };
        });
      } catch (error) {
        // The same source imported by another request at the same moment: the unique
        // (user_id, import_source) index let only one of them in.
        if (isPgError(error, '23505', 'chats_user_import_source_unique')) {
          const existing = await importedFrom(userId, imported.sourceId);
          if (existing) return { status: 'duplicate', chatId: existing.id };
        }
        throw error;
      }
    },

    async forkChat(input: ForkChatInput): Promise<ChatRow> {
      return db.transaction(async (tx) => {
        const path = await tx
          .select()
          .from(qaPairs)
          .where(sql`${qaPairs.id} IN ${pathIds(input.pairId)}`)
          .orderBy(asc(qaPairs.seq));
        const copies = planForkCopies(path, input.chat.id, input.newPairId);
        const last = copies.at(-1);
        const [source] = await tx
          .select({ settings: chats.settings })
          .from(chats)
          .where(eq(chats.id, input.sourceChatId));
        const chat = await insertChatWithMainBranch(
          tx,
          {
            ...input.chat,
            forkedFromChatId: input.sourceChatId,
            forkedFromPairId: input.pairId,
            settings: source?.settings ?? {},
          },
          input.mainBranchId,
        );
        await insertInBatches(copies, (batch) => tx.insert(qaPairs).values(batch));
        await tx
          .update(branches)
          .set({ headPairId: last?.id ?? null })
          .where(eq(branches.id, input.mainBranchId));
        const [updated] = await tx
          .update(chats)
          .set({ qaCount: copies.length, lastSeq: copies.length, lastQuestion: last?.question ?? null })
          .where(eq(chats.id, chat.id))
          .returning();
        if (!updated) throw new Error(`forked chat ${chat.id} vanished inside its own transaction`);
        await recordEvent(tx, eventOf.chatCreated(updated, new Date()));
        return updated;
      });
    },
  };
}
