import { randomUUID } from 'node:crypto';
import type { BranchRow, ChatRow, TreeNode } from '../domain/types.js';
import type { BranchSummary, ChatTree } from '../domain/views.js';
import { badRequest, branchNotFound, conflict, tooManyBranches } from '../domain/errors.js';
import { BRANCH_NAME_MAX_LENGTH, MAX_TREE_NODES, TITLE_MAX_LENGTH } from '../domain/limits.js';
import { firstCharacters, requireText } from '../domain/text.js';
import { indexTree, type TreeIndex } from '../domain/tree.js';
import type { ChatLock, Storage } from '../repositories/contract.js';
import type { AccessService, Actor } from './access.js';
import { findOwnedChat, findPairOfChat, renderFragments, type ChatStores } from './chats.js';
import { treeNodeJson } from '../domain/render.js';

const nameTaken = (name: string) => conflict('BRANCH_NAME_TAKEN', `This chat already has a branch named "${name}"`);

export function createBranchService(deps: {
  stores: ChatStores & Pick<Storage, 'transfer'>;
  access: AccessService;
  chatLock: ChatLock;
}) {
  const { stores, chatLock } = deps;
  const ownedChat = (actor: Actor, userId: string, chatId: string) => findOwnedChat(deps, actor, userId, chatId);

  async function branchOfChat(chatId: string, branchId: string): Promise<BranchRow> {
    const branch = await stores.branches.find(branchId);
    if (!branch || branch.chatId !== chatId) throw branchNotFound();
    return branch;
  }

  const pairOfChat = (chatId: string, pairId: string) => findPairOfChat(stores, chatId, pairId);

  function summarize(
    rows: { branch: BranchRow; headQuestion: string | null }[],
    tree: TreeIndex,
    activeId: string | null,
  ) {
    return rows.map(({ branch, headQuestion }): BranchSummary => ({
      branch,
      length: branch.headPairId === null ? 0 : tree.depthOf(branch.headPairId) + 1,
      lastQuestion: headQuestion,
      active: branch.id === activeId,
    }));
  }

  async function loadSummaries(
    chat: ChatRow,
    knownNodes?: TreeNode[],
  ): Promise<{ summaries: BranchSummary[]; nodes: TreeNode[] }> {
    const [rows, nodes] = await Promise.all([
      stores.branches.listOfChat(chat.id),
      knownNodes ?? stores.pairs.listTree(chat.id),
    ]);
    const tree = indexTree(
      nodes,
      rows.map((row) => row.branch),
      chat.activeBranchId,
    );
    return { summaries: summarize(rows, tree, chat.activeBranchId), nodes };
  }

  return {
    async listBranches(actor: Actor, userId: string, chatId: string): Promise<BranchSummary[]> {
      return this.branchesOf(await ownedChat(actor, userId, chatId));
    },

    /** The branches of a chat already checked to be the actor's. */
    async branchesOf(chat: ChatRow): Promise<BranchSummary[]> {
      return (await loadSummaries(chat)).summaries;
    },

    /** A new branch forking at `fromPairId`, made active: the next ask continues from that pair. */
    async createBranch(
      actor: Actor,
      userId: string,
      chatId: string,
      input: { fromPairId: string; name?: string },
    ): Promise<BranchSummary> {
      const chat = await ownedChat(actor, userId, chatId);
      const name = input.name === undefined ? null : requireText('name', input.name, BRANCH_NAME_MAX_LENGTH);
      const from = await pairOfChat(chat.id, input.fromPairId);
      const now = new Date();
      const created = await stores.branches.create({
        id: randomUUID(),
        chatId: chat.id,
        userId,
        name,
        forkPairId: from.id,
        headPairId: from.id,
        createdAt: now,
        updatedAt: now,
      });
      if (created.status === 'name_taken') throw nameTaken(name ?? '');
      if (created.status === 'too_many_branches') throw tooManyBranches();
      const { branch } = created;
      const tree = indexTree(await stores.pairs.listTree(chat.id), [branch], branch.id);
      return { branch, length: tree.depthOf(from.id) + 1, lastQuestion: from.question, active: true };
    },

    async setActiveBranch(actor: Actor, userId: string, chatId: string, branchId: string): Promise<BranchSummary> {
      const chat = await ownedChat(actor, userId, chatId);
      await branchOfChat(chat.id, branchId);
      await stores.branches.activate(chat.id, branchId);
      const { summaries } = await loadSummaries({ ...chat, activeBranchId: branchId });
      const summary = summaries.find((candidate) => candidate.branch.id === branchId);
      if (!summary) throw branchNotFound();
      return summary;
    },

    async renameBranch(
      actor: Actor,
      userId: string,
      chatId: string,
      branchId: string,
      input: { name: string },
    ): Promise<BranchSummary> {
      const chat = await ownedChat(actor, userId, chatId);
      const name = requireText('name', input.name, BRANCH_NAME_MAX_LENGTH);
      await branchOfChat(chat.id, branchId);
      const renamed = await stores.branches.rename(branchId, name, new Date());
      if (renamed.status === 'name_taken') throw nameTaken(name);
      if (renamed.status === 'missing') throw branchNotFound();
      const { summaries } = await loadSummaries(chat);
      const summary = summaries.find((candidate) => candidate.branch.id === branchId);
      if (!summary) throw branchNotFound();
      return summary;
    },

    /**
     * Deletes a branch and the pairs only it uses. The chat's last branch cannot go (delete
     * the chat instead), and the active one only when the caller names its successor.
     * Runs under the chat's lock, so it never removes a pair an ask is still answering.
     */
    async deleteBranch(
      actor: Actor,
      userId: string,
      chatId: string,
      branchId: string,
      input: { activateBranchId?: string },
    ): Promise<{ deletedPairs: number }> {
      /** Every reason to refuse the deletion; returns the chat. */
      const check = async (): Promise<ChatRow> => {
        const chat = await ownedChat(actor, userId, chatId);
        await branchOfChat(chat.id, branchId);
        if (input.activateBranchId !== undefined) {
          if (input.activateBranchId === branchId) {
            throw badRequest('VALIDATION_ERROR', 'activate_branch_id must name another branch than the one deleted');
          }
          await branchOfChat(chat.id, input.activateBranchId);
        }
        const all = await stores.branches.listOfChat(chat.id);
        if (all.length <= 1) {
          throw conflict('LAST_BRANCH', 'A chat keeps at least one branch: delete the chat instead');
        }
        if (chat.activeBranchId === branchId && input.activateBranchId === undefined) {
          throw conflict(
            'ACTIVE_BRANCH',
            'This is the active branch: pass activate_branch_id to say which branch becomes active instead',
          );
        }
        return chat;
      };
      // Before the lock, so that a refused request (another user's above all) never waits
      // behind the chat's asks; again under it, where the chat may have changed meanwhile.
      await check();
      return chatLock.run(chatId, async () => {
        const chat = await check();
        const deletedPairs = await stores.branches.delete({
          chatId: chat.id,
          branchId,
          ...(input.activateBranchId === undefined ? {} : { activateBranchId: input.activateBranchId }),
        });
        return { deletedPairs };
      });
    },

    /** Every pair of the chat as flat nodes in asking order (parents before children), with the branches. */
    async getTree(actor: Actor, userId: string, chatId: string): Promise<ChatTree> {
      return this.treeOf(await ownedChat(actor, userId, chatId));
    },

    /** The tree of a chat already checked to be the actor's. */
    async treeOf(chat: ChatRow): Promise<ChatTree> {
      const fragments = await stores.pairs.listTreeFragments(chat.id, MAX_TREE_NODES + 1);
      const truncated = fragments.length > MAX_TREE_NODES;
      // The fragments are the whole tree unless it was cut: then the branch lengths need the rest.
      const { summaries } = await loadSummaries(chat, truncated ? undefined : fragments);
      return {
        chat,
        nodes: await renderFragments(stores, fragments.slice(0, MAX_TREE_NODES), treeNodeJson),
        branches: summaries,
        truncated,
      };
    },

    /** Copies the path from the first pair to `pairId` into a new chat of the same user. */
    async forkChat(
      actor: Actor,
      userId: string,
      chatId: string,
      input: { pairId: string; title?: string },
    ): Promise<ChatRow> {
      await deps.access.assertActsFor(actor, userId);
      const title = input.title === undefined ? undefined : requireText('title', input.title, TITLE_MAX_LENGTH);
      // Checked before the lock too: a refused request never waits behind the chat's asks.
      await pairOfChat((await ownedChat(actor, userId, chatId)).id, input.pairId);
      // Under the source chat's lock: no pair on the path is still waiting for its answer.
      return chatLock.run(chatId, async () => {
        const chat = await ownedChat(actor, userId, chatId);
        const pair = await pairOfChat(chat.id, input.pairId);
        const now = new Date();
        return stores.transfer.forkChat({
          sourceChatId: chat.id,
          pairId: pair.id,
          chat: {
            id: randomUUID(),
            userId,
            title: title ?? firstCharacters(`${chat.title} (fork)`, TITLE_MAX_LENGTH),
            createdAt: now,
            updatedAt: now,
          },
          mainBranchId: randomUUID(),
          newPairId: () => randomUUID(),
        });
      });
    },
  };
}

export type BranchService = ReturnType<typeof createBranchService>;
