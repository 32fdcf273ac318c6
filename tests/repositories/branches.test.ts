import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BRANCHES_PER_CHAT } from '../../src/domain/limits.js';
import type { Storage } from '../../src/repositories/contract.js';
import {
  after,
  askAndAnswer,
  askInput,
  at,
  begin,
  branchRow,
  engines,
  openStorage,
  seedBranch,
  seedChat,
  seedUser,
  type OpenedStorage,
} from '../helpers/storage.js';

/** BranchStore: unique names per chat, listing order, deletion of exclusive pairs, the branch cap. */
describe.each(engines)('branches on %s', (engine) => {
  let opened: OpenedStorage;
  let storage: Storage;

  beforeAll(async () => {
    opened = await openStorage(engine);
    storage = opened.storage;
  });
  afterAll(() => opened.close());

  async function twoChats() {
    const user = await seedUser(storage);
    return { user, one: (await seedChat(storage, user)).chat, other: (await seedChat(storage, user)).chat };
  }

  describe('names', () => {
    it('create: a name is taken within one chat only; unnamed branches never clash', async () => {
      const { one, other } = await twoChats();
      const first = branchRow(one, { name: 'idea' });
      expect(await storage.branches.create(first)).toEqual({ status: 'created', branch: first });
      expect(await storage.branches.create(branchRow(one, { name: 'idea' }))).toEqual({ status: 'name_taken' });
      expect(await storage.branches.create(branchRow(one, { name: 'main' }))).toEqual({ status: 'name_taken' });
      expect((await storage.branches.create(branchRow(other, { name: 'idea' }))).status).toBe('created');
      expect((await storage.branches.create(branchRow(one, { name: null }))).status).toBe('created');
      expect((await storage.branches.create(branchRow(one, { name: null }))).status).toBe('created');
    });

    it('create: makes the new branch the active one (and a refused one does not)', async () => {
      const { one } = await twoChats();
      const branch = await seedBranch(storage, one, { name: 'next' });
      expect((await storage.chats.findById(one.id))?.activeBranchId).toBe(branch.id);
      await storage.branches.create(branchRow(one, { name: 'next' }));
      expect((await storage.chats.findById(one.id))?.activeBranchId).toBe(branch.id);
    });

    it('rename: renamed with the new name and time, name_taken within the chat, missing when unknown', async () => {
      const { one, other } = await twoChats();
      const branch = await seedBranch(storage, one, { name: 'draft' });
      await seedBranch(storage, one, { name: 'taken' });
      await seedBranch(storage, other, { name: 'elsewhere' });
      expect(await storage.branches.rename(branch.id, 'taken', at(5))).toEqual({ status: 'name_taken' });
      expect(await storage.branches.find(branch.id)).toEqual(branch);
      expect(await storage.branches.rename(branch.id, 'elsewhere', at(5))).toEqual({
        status: 'renamed',
        branch: { ...branch, name: 'elsewhere', updatedAt: at(5) },
      });
      expect((await storage.branches.rename(branch.id, null, at(6))).status).toBe('renamed');
      expect(await storage.branches.find(branch.id)).toMatchObject({ name: null, updatedAt: at(6) });
      expect(await storage.branches.rename(randomUUID(), 'ghost', at(7))).toEqual({ status: 'missing' });
    });
  });

  it('listOfChat: oldest first (ties by id), each with its head question, only that chat', async () => {
    const { user, one, other } = await twoChats();
    const first = await askAndAnswer(storage, { chatId: one.id, userId: user.id, question: 'Q1', now: at(1) });
    // Created out of order: the list follows createdAt, then id, not insertion.
    const late = await seedBranch(storage, one, { createdAt: at(30), headPairId: first.pair.id });
    const [tieA, tieB] = [randomUUID(), randomUUID()].sort();
    await seedBranch(storage, one, { id: tieB ?? '', createdAt: at(20) });
    await seedBranch(storage, one, { id: tieA ?? '', createdAt: at(20) });
    await seedBranch(storage, other, { createdAt: at(10) });
    const listed = await storage.branches.listOfChat(one.id);
    expect(listed.map(({ branch, headQuestion }) => [branch.id, headQuestion])).toEqual([
      [first.branchId, 'Q1'],
      [tieA, null],
      [tieB, null],
      [late.id, 'Q1'],
    ]);
  });

  describe('delete', () => {
    /**
     * main: Q1 - Q2 - Q3;  side forks at Q2: Q4 - Q5;  twig forks at Q4: Q6.
     * Asked in this order, so Q6 is the chat's latest question.
     */
    async function tree() {
      const user = await seedUser(storage);
      const { chat, mainBranchId } = await seedChat(storage, user);
      const ids = { chatId: chat.id, userId: user.id };
      const q = async (question: string, minute: number, placement = { kind: 'active' as const }) =>
        (await askAndAnswer(storage, { ...ids, question, placement, now: at(minute) })).pair;
      const q1 = await q('Q1', 1);
      const q2 = await q('Q2', 2);
      const q3 = await q('Q3', 3);
      const q4 = (
        await askAndAnswer(storage, { ...ids, placement: after(q2.id, 'always'), question: 'Q4', now: at(4) })
      ).pair;
      const side = (await storage.chats.findById(chat.id))?.activeBranchId ?? '';
      const q5 = await q('Q5', 5);
      const twigAsk = await askAndAnswer(storage, {
        ...ids,
        placement: after(q4.id, 'always'),
        question: 'Q6',
        now: at(6),
      });
      return {
        user,
        chat,
        mainBranchId,
        side,
        twig: twigAsk.branchId,
        pairs: { q1, q2, q3, q4, q5, q6: twigAsk.pair },
      };
    }

    const questions = async (storage: Storage, chatId: string) =>
      (await storage.pairs.listOfChat(chatId, 100)).map((pair) => pair.question);

    it('removes exactly the pairs no other branch passes through, and updates the chat', async () => {
      const { chat, side, twig, mainBranchId } = await tree();
      // The twig is active (its ask was the latest): deleting it switches to the side branch.
      expect(await storage.branches.delete({ chatId: chat.id, branchId: twig, activateBranchId: side })).toBe(1);
      expect(await questions(storage, chat.id)).toEqual(['Q1', 'Q2', 'Q3', 'Q4', 'Q5']);
      expect(await storage.chats.findById(chat.id)).toMatchObject({
        qaCount: 5,
        lastQuestion: 'Q5',
        activeBranchId: side,
      });

      // Q4 was shared with the twig; now only the side branch passes through it.
      expect(await storage.branches.delete({ chatId: chat.id, branchId: side, activateBranchId: mainBranchId })).toBe(
        2,
      );
      expect(await questions(storage, chat.id)).toEqual(['Q1', 'Q2', 'Q3']);
      expect(await storage.chats.findById(chat.id)).toMatchObject({
        qaCount: 3,
        lastQuestion: 'Q3',
        activeBranchId: mainBranchId,
      });
      expect((await storage.branches.listOfChat(chat.id)).map(({ branch }) => branch.id)).toEqual([mainBranchId]);
    });

    it('keeps the shared prefix when the deleted branch is the one the others left from', async () => {
      const { chat, mainBranchId, pairs } = await tree();
      // Q3 is main's own; Q1 and Q2 are on the side branch's path too.
      expect(await storage.branches.delete({ chatId: chat.id, branchId: mainBranchId })).toBe(1);
      expect(await storage.pairs.find(pairs.q3.id)).toBeUndefined();
      expect(await questions(storage, chat.id)).toEqual(['Q1', 'Q2', 'Q4', 'Q5', 'Q6']);
      expect(await storage.chats.findById(chat.id)).toMatchObject({ qaCount: 5, lastQuestion: 'Q6' });
    });

    it('removes nothing for a branch ending inside another path, an empty branch or an unknown id', async () => {
      const { chat, pairs } = await tree();
      const inside = await seedBranch(storage, chat, { forkPairId: pairs.q1.id, headPairId: pairs.q2.id });
      const empty = await seedBranch(storage, chat);
      expect(await storage.branches.delete({ chatId: chat.id, branchId: inside.id })).toBe(0);
      expect(await storage.branches.delete({ chatId: chat.id, branchId: empty.id })).toBe(0);
      expect(await storage.branches.delete({ chatId: chat.id, branchId: randomUUID() })).toBe(0);
      expect(await storage.branches.find(inside.id)).toBeUndefined();
      expect(await questions(storage, chat.id)).toEqual(['Q1', 'Q2', 'Q3', 'Q4', 'Q5', 'Q6']);
      expect((await storage.chats.findById(chat.id))?.qaCount).toBe(6);
    });

    it('leaves the active branch alone unless told to switch it', async () => {
      const { chat, twig, side } = await tree();
      await storage.branches.activate(chat.id, twig);
      expect(await storage.branches.delete({ chatId: chat.id, branchId: side })).toBe(1);
      expect((await storage.chats.findById(chat.id))?.activeBranchId).toBe(twig);
    });
  });

  it(`caps a chat at MAX_BRANCHES_PER_CHAT (${MAX_BRANCHES_PER_CHAT}): too_many_branches, nothing written`, async () => {
    const user = await seedUser(storage);
    const { chat, mainBranchId } = await seedChat(storage, user);
    const first = await askAndAnswer(storage, { chatId: chat.id, userId: user.id, question: 'Q1', now: at(1) });
    // main is the first branch; the rest are created directly, the quickest way to the cap.
    for (let count = 1; count < MAX_BRANCHES_PER_CHAT; count += 1) await seedBranch(storage, chat);
    expect(await storage.branches.create(branchRow(chat))).toEqual({ status: 'too_many_branches' });

    await storage.branches.activate(chat.id, mainBranchId);
    const before = await storage.chats.findById(chat.id);
    const refused = askInput({
      chatId: chat.id,
      userId: user.id,
      placement: after(first.pair.id, 'always'),
      question: 'One branch too many',
      now: at(2),
    });
    expect(await storage.pairs.beginAsk(refused)).toEqual({ status: 'too_many_branches' });
    expect(await storage.pairs.find(refused.pairId)).toBeUndefined();
    expect(await storage.branches.find(refused.newBranchId)).toBeUndefined();
    expect(await storage.chats.findById(chat.id)).toEqual(before);
    expect((await storage.branches.listOfChat(chat.id)).length).toBe(MAX_BRANCHES_PER_CHAT);

    // An ask that extends a branch needs no new one.
    const extending = await begin(storage, { chatId: chat.id, userId: user.id, question: 'Q2', now: at(3) });
    expect(extending.branchId).toBe(mainBranchId);
  });
});
