import { asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { SqliteDb } from '../../db/sqlite/client.js';
import { branches, chats, qaPairs } from '../../db/sqlite/schema.js';
import { MAX_BRANCHES_PER_CHAT } from '../../domain/limits.js';
import { eventOf } from '../../domain/events.js';
import type { BranchRow, BranchWithHead } from '../../domain/types.js';
import type { BranchStore, CreateBranchResult, RenameBranchResult } from '../contract.js';
import { exclusivePairsOf } from '../shared-sql.js';
import { isUniqueViolation, type SharedStatements } from './shared.js';

/** Branches on SQLite. A branch's name is unique in its chat (a partial unique index). */
export function createSqliteBranchStore(db: SqliteDb, shared: SharedStatements): BranchStore {
  const listOfChat = db
    .select({ branch: branches, headQuestion: qaPairs.question })
    .from(branches)
    .leftJoin(qaPairs, eq(qaPairs.id, branches.headPairId))
    .where(eq(branches.chatId, sql.placeholder('chatId')))
    .orderBy(asc(branches.createdAt), asc(branches.id))
    .prepare();

  return {
    async find(id: string): Promise<BranchRow | undefined> {
      return shared.findBranch.get({ id });
    },

    async listOfChat(chatId: string): Promise<BranchWithHead[]> {
      return listOfChat.all({ chatId });
    },

    async create(branch: BranchRow): Promise<CreateBranchResult> {
      try {
        return db.transaction((tx): CreateBranchResult => {
          if (shared.countBranches(branch.chatId) >= MAX_BRANCHES_PER_CHAT) return { status: 'too_many_branches' };
          const row = tx.insert(branches).values(branch).returning().get();
          tx.update(chats).set({ activeBranchId: branch.id }).where(eq(chats.id, branch.chatId)).run();
          shared.chatChanged(branch.chatId);
          const chat = { id: branch.chatId, userId: branch.userId };
          shared.recordEvent(eventOf.branchCreated(row, branch.createdAt));
          shared.recordEvent(eventOf.branchActivated(chat, branch.id, branch.createdAt));
          return { status: 'created', branch: row };
        });
      } catch (error) {
        if (isUniqueViolation(error)) return { status: 'name_taken' };
        throw error;
      }
    },

    async activate(chatId: string, branchId: string): Promise<void> {
      db.transaction((tx) => {
        const chat = tx
          .update(chats)
          .set({ activeBranchId: branchId })
          .where(eq(chats.id, chatId))
          .returning({ id: chats.id, userId: chats.userId })
          .get();
        if (!chat) return;
        shared.chatChanged(chatId);
        shared.recordEvent(eventOf.branchActivated(chat, branchId, new Date()));
      });
    },

    async rename(id: string, name: string | null, now: Date): Promise<RenameBranchResult> {
      try {
        return db.transaction((tx): RenameBranchResult => {
          const branch = tx.update(branches).set({ name, updatedAt: now }).where(eq(branches.id, id)).returning().get();
          if (!branch) return { status: 'missing' };
          shared.chatChanged(branch.chatId);
          shared.recordEvent(eventOf.branchUpdated(branch, now));
          return { status: 'renamed', branch };
        });
      } catch (error) {
        if (isUniqueViolation(error)) return { status: 'name_taken' };
        throw error;
      }
    },

    async delete(input: { chatId: string; branchId: string; activateBranchId?: string }): Promise<number> {
      return db.transaction((tx) => {
        const branch = shared.findBranch.get({ id: input.branchId });
        if (!branch) return 0;
        const exclusive =
          branch.headPairId === null
            ? []
            : tx
                .all<{ id: string }>(
                  exclusivePairsOf({ branches, qaPairs }, { ...input, headPairId: branch.headPairId }),
                )
                .map((row) => row.id);
        tx.delete(branches).where(eq(branches.id, input.branchId)).run();
        if (exclusive.length > 0) tx.delete(qaPairs).where(inArray(qaPairs.id, exclusive)).run();
        const last = tx
          .select({ question: qaPairs.question })
          .from(qaPairs)
          .where(eq(qaPairs.chatId, input.chatId))
          .orderBy(desc(qaPairs.seq))
          .limit(1)
          .get();
        tx.update(chats)
          .set({
            qaCount: sql`${chats.qaCount} - ${exclusive.length}`,
            lastQuestion: last?.question ?? null,
            ...(input.activateBranchId ? { activeBranchId: input.activateBranchId } : {}),
          })
          .where(eq(chats.id, input.chatId))
          .run();
        shared.chatChanged(input.chatId);
        const now = new Date();
        shared.recordEvent(eventOf.branchDeleted(branch, exclusive.length, now));
        if (input.activateBranchId) {
          const chat = { id: input.chatId, userId: branch.userId };
          shared.recordEvent(eventOf.branchActivated(chat, input.activateBranchId, now));
        }
        return exclusive.length;
      });
    },
  };
}
