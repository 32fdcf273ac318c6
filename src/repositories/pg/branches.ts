import { asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { PgDb } from '../../db/pg/client.js';
import { branches, chats, qaPairs } from '../../db/pg/schema.js';
import { MAX_BRANCHES_PER_CHAT } from '../../domain/limits.js';
import type { BranchRow, BranchWithHead } from '../../domain/types.js';
import type { BranchStore, CreateBranchResult, RenameBranchResult } from '../contract.js';
import { exclusivePairsOf } from '../shared-sql.js';
import { isPgError } from './errors.js';
import { eventOf } from '../../domain/events.js';
import { recordEvent } from './events.js';
import { chatChanged, countBranches, lockChat } from './shared.js';

/** Branches on PostgreSQL; changes take the chat's row lock, as asks do, so caps and counts hold. */
export function createPgBranchStore(db: PgDb): BranchStore {
  const p = sql.placeholder;
  const find = db
    .select()
    .from(branches)
    .where(eq(branches.id, p('id')))
    .prepare('branches_find_by_id');
  const listOfChat = db
    .select({ branch: branches, headQuestion: qaPairs.question })
    .from(branches)
    .leftJoin(qaPairs, eq(qaPairs.id, branches.headPairId))
    .where(eq(branches.chatId, p('chatId')))
    .orderBy(asc(branches.createdAt), asc(branches.id))
    .prepare('branches_of_chat');

  return {
    async find(id: string): Promise<BranchRow | undefined> {
      return (await find.execute({ id }))[0];
    },

    async listOfChat(chatId: string): Promise<BranchWithHead[]> {
      return listOfChat.execute({ chatId });
    },

    async create(branch: BranchRow): Promise<CreateBranchResult> {
      try {
        return await db.transaction(async (tx): Promise<CreateBranchResult> => {
          await lockChat(tx, branch.chatId);
          if ((await countBranches(tx, branch.chatId)) >= MAX_BRANCHES_PER_CHAT) return { status: 'too_many_branches' };
          const [row] = await tx.insert(branches).values(branch).returning();
          if (!row) throw new Error(`branch ${branch.id} was not inserted`);
          await tx.update(chats).set({ activeBranchId: branch.id }).where(eq(chats.id, branch.chatId));
          await chatChanged(tx, branch.chatId);
          await recordEvent(tx, eventOf.branchCreated(row, branch.createdAt));
          const chat = { id: branch.chatId, userId: branch.userId };
          await recordEvent(tx, eventOf.branchActivated(chat, branch.id, branch.createdAt));
          return { status: 'created', branch: row };
        });
      } catch (error) {
        if (isPgError(error, '23505')) return { status: 'name_taken' };
        throw error;
      }
    },

    async activate(chatId: string, branchId: string): Promise<void> {
      await db.transaction(async (tx) => {
        const [chat] = await tx
          .update(chats)
          .set({ activeBranchId: branchId })
          .where(eq(chats.id, chatId))
          .returning({ id: chats.id, userId: chats.userId });
        if (!chat) return;
        await chatChanged(tx, chatId);
        await recordEvent(tx, eventOf.branchActivated(chat, branchId, new Date()));
      });
    },

    async rename(id: string, name: string | null, now: Date): Promise<RenameBranchResult> {
      try {
        return await db.transaction(async (tx): Promise<RenameBranchResult> => {
          const [branch] = await tx
            .update(branches)
            .set({ name, updatedAt: now })
            .where(eq(branches.id, id))
            .returning();
          if (!branch) return { status: 'missing' };
          await chatChanged(tx, branch.chatId);
          await recordEvent(tx, eventOf.branchUpdated(branch, now));
          return { status: 'renamed', branch };
        });
      } catch (error) {
        if (isPgError(error, '23505')) return { status: 'name_taken' };
        throw error;
      }
    },

    async delete(input: { chatId: string; branchId: string; activateBranchId?: string }): Promise<number> {
      return db.transaction(async (tx) => {
        await lockChat(tx, input.chatId);
        const [branch] = await tx.select().from(branches).where(eq(branches.id, input.branchId));
        if (!branch) return 0;
        const exclusive =
          branch.headPairId === null
            ? []
            : (
                await tx.execute<{ id: string }>(
                  exclusivePairsOf({ branches, qaPairs }, { ...input, headPairId: branch.headPairId }),
                )
              ).rows.map((row) => row.id);
        await tx.delete(branches).where(eq(branches.id, input.branchId));
        if (exclusive.length > 0) await tx.delete(qaPairs).where(inArray(qaPairs.id, exclusive));
        const [last] = await tx
          .select({ question: qaPairs.question })
          .from(qaPairs)
          .where(eq(qaPairs.chatId, input.chatId))
          .orderBy(desc(qaPairs.seq))
          .limit(1);
        await tx
          .update(chats)
          .set({
            qaCount: sql`${chats.qaCount} - ${exclusive.length}`,
            lastQuestion: last?.question ?? null,
            ...(input.activateBranchId ? { activeBranchId: input.activateBranchId } : {}),
          })
          .where(eq(chats.id, input.chatId));
        await chatChanged(tx, input.chatId);
        const now = new Date();
        await recordEvent(tx, eventOf.branchDeleted(branch, exclusive.length, now));
        if (input.activateBranchId) {
          const chat = { id: input.chatId, userId: branch.userId };
          await recordEvent(tx, eventOf.branchActivated(chat, input.activateBranchId, now));
        }
        return exclusive.length;
      });
    },
  };
}
