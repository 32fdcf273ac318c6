import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderingsOf } from '../../src/domain/render.js';
import type { Storage } from '../../src/repositories/contract.js';
import {
  after,
  answered,
  askAndAnswer,
  askInput,
  at,
  begin,
  engines,
  openStorage,
  seedBranch,
  seedChat,
  seedUser,
  type OpenedStorage,
} from '../helpers/storage.js';

/**
 * Where an ask lands (PairStore.beginAsk) and how it ends (complete): the placement rules,
 * the chat created with the first ask, the history sent upstream and the chat's columns.
 */
describe.each(engines)('asks on %s', (engine) => {
  let opened: OpenedStorage;
  let storage: Storage;

  beforeAll(async () => {
    opened = await openStorage(engine);
    storage = opened.storage;
  });
  afterAll(() => opened.close());

  /** A user with a chat whose main branch holds one answered pair. */
  async function chatWithFirstPair() {
    const user = await seedUser(storage);
    const { chat, mainBranchId } = await seedChat(storage, user);
    const first = await askAndAnswer(storage, { chatId: chat.id, userId: user.id, question: 'Q1', now: at(1) });
    return { user, chat, mainBranchId, first: first.pair };
  }

  describe('a chat created by its first ask', () => {
    it('creates the chat with an active main branch holding the pair, in the same call', async () => {
      const user = await seedUser(storage);
      const chatId = randomUUID();
      const mainBranchId = randomUUID();
      const begun = await begin(storage, {
        chatId,
        userId: user.id,
        newChat: { title: 'First chat', mainBranchId },
        question: 'Hello?',
        now: at(3),
      });
      expect(begun.branchId).toBe(mainBranchId);
      expect(begun.history).toEqual([]);
      expect(begun.pair).toMatchObject({
        chatId,
        userId: user.id,
        parentId: null,
        seq: 1,
        question: 'Hello?',
        status: 'pending',
        answer: null,
        historyTurns: 0,
        createdAt: at(3),
        answeredAt: null,
      });
      expect(await storage.chats.findById(chatId)).toMatchObject({
        userId: user.id,
        title: 'First chat',
        createdAt: at(3),
        updatedAt: at(3),
        qaCount: 1,
        lastSeq: 1,
        lastQuestion: 'Hello?',
        activeBranchId: mainBranchId,
      });
      const branches = await storage.branches.listOfChat(chatId);
      expect(
        branches.map(({ branch, headQuestion }) => [branch.id, branch.name, branch.headPairId, headQuestion]),
      ).toEqual([[mainBranchId, 'main', begun.pair.id, 'Hello?']]);
    });

    it('refuses the id of a deleted chat: chat_gone, and nothing is created', async () => {
      const user = await seedUser(storage);
      const { chat } = await seedChat(storage, user);
      expect(await storage.chats.delete(chat.id)).toBe(true);
      const input = askInput({
        chatId: chat.id,
        userId: user.id,
        newChat: { title: 'Again', mainBranchId: randomUUID() },
        question: 'Queued before the deletion',
        now: at(2),
      });
      expect(await storage.pairs.beginAsk(input)).toEqual({ status: 'chat_gone' });
      expect(await storage.chats.findById(chat.id)).toBeUndefined();
      expect(await storage.pairs.find(input.pairId)).toBeUndefined();
      expect(await storage.branches.find(input.newChat?.mainBranchId ?? '')).toBeUndefined();
      expect(await storage.chats.countForUser(user.id)).toBe(0);
    });

    it('answers chat_gone for a deleted (or unknown) chat asked without newChat', async () => {
      const user = await seedUser(storage);
      const { chat } = await seedChat(storage, user);
      await storage.chats.delete(chat.id);
      for (const chatId of [chat.id, randomUUID()]) {
        const input = askInput({ chatId, userId: user.id, question: 'Anyone?', now: at(2) });
        expect(await storage.pairs.beginAsk(input)).toEqual({ status: 'chat_gone' });
        expect(await storage.pairs.find(input.pairId)).toBeUndefined();
      }
    });
  });

  describe('placement', () => {
    it('active: extends the head of the active branch, whichever branch that is', async () => {
      const { user, chat, mainBranchId, first } = await chatWithFirstPair();
      const second = await begin(storage, { chatId: chat.id, userId: user.id, question: 'Q2', now: at(2) });
      expect(second.pair.parentId).toBe(first.id);
      expect(second.branchId).toBe(mainBranchId);
      expect((await storage.branches.find(mainBranchId))?.headPairId).toBe(second.pair.id);

      // Another branch ending at the first pair becomes active: the next ask follows it.
      const side = await seedBranch(storage, chat, { forkPairId: first.id, headPairId: first.id });
      const third = await begin(storage, { chatId: chat.id, userId: user.id, question: 'Q3', now: at(3) });
      expect(third.pair.parentId).toBe(first.id);
      expect(third.branchId).toBe(side.id);
      expect(await storage.branches.find(side.id)).toMatchObject({ headPairId: third.pair.id, updatedAt: at(3) });
      expect((await storage.branches.find(mainBranchId))?.headPairId).toBe(second.pair.id);
    });

    it('after + if-needed: extends the active branch when it ends at the parent, even if others there are newer', async () => {
      const { user, chat, first } = await chatWithFirstPair();
      const active = await seedBranch(storage, chat, { headPairId: first.id, updatedAt: at(5) });
      await seedBranch(storage, chat, { headPairId: first.id, updatedAt: at(6) });
      await storage.branches.activate(chat.id, active.id);
      const begun = await begin(storage, {
        chatId: chat.id,
        userId: user.id,
        placement: after(first.id),
        question: 'Q2',
        now: at(7),
      });
      expect(begun.branchId).toBe(active.id);
      expect(begun.pair.parentId).toBe(first.id);
      expect((await storage.branches.find(active.id))?.headPairId).toBe(begun.pair.id);
    });

    it('after + if-needed: otherwise extends the most recently updated branch ending at the parent', async () => {
      const { user, chat, mainBranchId, first } = await chatWithFirstPair();
      await begin(storage, { chatId: chat.id, userId: user.id, question: 'Q2', now: at(2) });
      // Neither the first nor the last one created is the most recently updated.
      const older = await seedBranch(storage, chat, { headPairId: first.id, updatedAt: at(5) });
      const newest = await seedBranch(storage, chat, { headPairId: first.id, updatedAt: at(6) });
      const oldest = await seedBranch(storage, chat, { headPairId: first.id, updatedAt: at(4) });
      // The active branch (main) ends at Q2, not at the parent.
      await storage.branches.activate(chat.id, mainBranchId);
      const begun = await begin(storage, {
        chatId: chat.id,
        userId: user.id,
        placement: after(first.id),
        question: 'Q3',
        now: at(7),
      });
      expect(begun.branchId).toBe(newest.id);
      expect((await storage.chats.findById(chat.id))?.activeBranchId).toBe(newest.id);
      for (const untouched of [older, oldest]) {
        expect((await storage.branches.find(untouched.id))?.headPairId).toBe(first.id);
      }
    });

    it('after + if-needed: starts a branch forking at the parent when none ends there', async () => {
      const { user, chat, mainBranchId, first } = await chatWithFirstPair();
      const second = await begin(storage, { chatId: chat.id, userId: user.id, question: 'Q2', now: at(2) });
      const input = askInput({
        chatId: chat.id,
        userId: user.id,
        placement: after(first.id),
        question: 'Q2 again',
        now: at(3),
      });
      const result = await storage.pairs.beginAsk(input);
      expect(result).toMatchObject({ status: 'begun', branchId: input.newBranchId });
      expect(await storage.branches.find(input.newBranchId)).toEqual({
        id: input.newBranchId,
        chatId: chat.id,
        userId: user.id,
        name: null,
        forkPairId: first.id,
        headPairId: input.pairId,
        createdAt: at(3),
        updatedAt: at(3),
      });
      expect((await storage.pairs.find(input.pairId))?.parentId).toBe(first.id);
      expect((await storage.branches.find(mainBranchId))?.headPairId).toBe(second.pair.id);
      expect((await storage.chats.findById(chat.id))?.activeBranchId).toBe(input.newBranchId);
    });

    it('after null + if-needed: extends an empty branch, and starts a root branch once none is empty', async () => {
      const user = await seedUser(storage);
      const { chat, mainBranchId } = await seedChat(storage, user);
      const first = await begin(storage, {
        chatId: chat.id,
        userId: user.id,
        placement: after(null),
        question: 'Q1',
        now: at(1),
      });
      expect(first.branchId).toBe(mainBranchId);
      expect(first.pair.parentId).toBeNull();

      const input = askInput({ chatId: chat.id, userId: user.id, placement: after(null), question: 'Q1b', now: at(2) });
      expect(await storage.pairs.beginAsk(input)).toMatchObject({ status: 'begun', branchId: input.newBranchId });
      expect(await storage.branches.find(input.newBranchId)).toMatchObject({
        forkPairId: null,
        headPairId: input.pairId,
      });
      expect((await storage.pairs.find(input.pairId))?.parentId).toBeNull();
    });

    it('after + always: starts a branch even when the active branch ends at the parent', async () => {
      const { user, chat, mainBranchId, first } = await chatWithFirstPair();
      const input = askInput({
        chatId: chat.id,
        userId: user.id,
        placement: after(first.id, 'always'),
        question: 'Regenerated',
        now: at(2),
      });
      expect(await storage.pairs.beginAsk(input)).toMatchObject({ status: 'begun', branchId: input.newBranchId });
      expect(await storage.branches.find(input.newBranchId)).toMatchObject({
        forkPairId: first.id,
        headPairId: input.pairId,
      });
      expect((await storage.branches.find(mainBranchId))?.headPairId).toBe(first.id);
      expect((await storage.chats.findById(chat.id))?.activeBranchId).toBe(input.newBranchId);
    });
  });

  describe('history and the chat columns', () => {
    it('sends the latest answered pairs on the path, oldest first, without pending, failed or side pairs', async () => {
      const user = await seedUser(storage);
      const { chat } = await seedChat(storage, user);
      const ids = { chatId: chat.id, userId: user.id };
      const p1 = await askAndAnswer(storage, { ...ids, question: 'Q1', answer: 'A1', now: at(1) });
      const p2 = await begin(storage, { ...ids, question: 'Q2', now: at(2) });
      await storage.pairs.complete(p2.pair.id, {
        status: 'failed',
        errorCode: 'UPSTREAM_TIMEOUT',
        errorMessage: 'too slow',
        partialAnswer: 'half an answer',
        searchResults: [],
        answeredAt: at(2),
        latencyMs: null,
        model: null,
        upstreamRequestId: null,
      });
      await askAndAnswer(storage, { ...ids, question: 'Q3', answer: 'A3', now: at(3) });
      const p4 = await askAndAnswer(storage, { ...ids, question: 'Q4', answer: 'A4', now: at(4) });
      // An answered pair on a side branch, then back on the main path: a pending Q5.
      await askAndAnswer(storage, { ...ids, placement: after(p1.pair.id, 'always'), question: 'Side', now: at(5) });
      const p5 = await begin(storage, { ...ids, placement: after(p4.pair.id), question: 'Q5', now: at(6) });
      expect(p5.history).toEqual([
        { question: 'Q1', answer: 'A1' },
        { question: 'Q3', answer: 'A3' },
        { question: 'Q4', answer: 'A4' },
      ]);

      const p6 = await begin(storage, { ...ids, question: 'Q6', historyLimit: 2, now: at(7) });
      expect(p6.pair.parentId).toBe(p5.pair.id);
      expect(p6.history).toEqual([
        { question: 'Q3', answer: 'A3' },
        { question: 'Q4', answer: 'A4' },
      ]);
      expect(p6.pair.historyTurns).toBe(2);
      expect(await storage.pairs.listHistory(p5.pair.id, 1)).toEqual([{ question: 'Q4', answer: 'A4' }]);
      expect(await storage.pairs.listHistory(p5.pair.id, 0)).toEqual([]);
      expect(await storage.pairs.listHistory(null, 10)).toEqual([]);
      const none = await begin(storage, { ...ids, question: 'Q7', historyLimit: 0, now: at(8) });
      expect(none.history).toEqual([]);
      expect(none.pair.historyTurns).toBe(0);
    });

    it('numbers pairs in asking order across branches and records the latest ask on the chat', async () => {
      const { user, chat, first } = await chatWithFirstPair();
      const ids = { chatId: chat.id, userId: user.id };
      const second = await begin(storage, { ...ids, question: 'Q2', now: at(2) });
      const third = await begin(storage, {
        ...ids,
        placement: after(first.id, 'always'),
        question: 'Q3 elsewhere',
        status: 'streaming',
        now: at(3),
      });
      expect([first.seq, second.pair.seq, third.pair.seq]).toEqual([1, 2, 3]);
      expect(third.pair.status).toBe('streaming');
      expect(await storage.chats.findById(chat.id)).toMatchObject({
        qaCount: 3,
        lastSeq: 3,
        lastQuestion: 'Q3 elsewhere',
        updatedAt: at(3),
        activeBranchId: third.branchId,
      });
      expect((await storage.pairs.listOfChat(chat.id, 10)).map((pair) => pair.question)).toEqual([
        'Q1',
        'Q2',
        'Q3 elsewhere',
      ]);
      expect(await storage.pairs.listTree(chat.id)).toEqual([
        { id: first.id, parentId: null },
        { id: second.pair.id, parentId: first.id },
        { id: third.pair.id, parentId: first.id },
      ]);
    });
  });

  describe('complete', () => {
    it('stores an answer in the answered columns and touches the chat', async () => {
      const user = await seedUser(storage);
      const { chat } = await seedChat(storage, user);
      const begun = await begin(storage, { chatId: chat.id, userId: user.id, question: 'Q', now: at(1) });
      const sources = [{ url: 'https://example.com/a', name: 'Example', snippet: 'An example' }];
      const pair = await storage.pairs.complete(begun.pair.id, {
        status: 'answered',
        answer: 'The answer',
        searchResults: sources,
        answeredAt: at(2),
        latencyMs: 1500,
        model: 'model-x',
        upstreamRequestId: 'req-1',
      });
      const expected = {
        ...begun.pair,
        status: 'answered' as const,
        answer: 'The answer',
        searchResults: sources,
        errorCode: null,
        errorMessage: null,
        answeredAt: at(2),
        latencyMs: 1500,
        model: 'model-x',
        upstreamRequestId: 'req-1',
      };
      // Final now: stored with its renderings, as views will write it.
      expect(pair).toEqual({ ...expected, ...renderingsOf(expected) });
      expect(JSON.parse(pair?.rendered ?? 'null')).toMatchObject({ id: begun.pair.id, answer: 'The answer' });
      expect(begun.pair.rendered).toBeNull();
      expect(await storage.pairs.find(begun.pair.id)).toEqual(pair);
      expect((await storage.chats.findById(chat.id))?.updatedAt).toEqual(at(2));
    });

    it('stores a failure with its code and message, keeping a partial answer (or none)', async () => {
      const user = await seedUser(storage);
      const { chat } = await seedChat(storage, user);
      const ids = { chatId: chat.id, userId: user.id };
      const failure = {
        status: 'failed' as const,
        errorCode: 'UPSTREAM_ERROR',
        errorMessage: 'The upstream failed',
        searchResults: [],
        answeredAt: at(3),
        latencyMs: 40,
        model: null,
        upstreamRequestId: null,
      };
      const streamed = await begin(storage, { ...ids, question: 'Q1', status: 'streaming', now: at(1) });
      expect(await storage.pairs.complete(streamed.pair.id, { ...failure, partialAnswer: 'Half of it' })).toMatchObject(
        {
          status: 'failed',
          answer: 'Half of it',
          errorCode: 'UPSTREAM_ERROR',
          errorMessage: 'The upstream failed',
          answeredAt: at(3),
          latencyMs: 40,
        },
      );
      const plain = await begin(storage, { ...ids, question: 'Q2', now: at(2) });
      expect(await storage.pairs.complete(plain.pair.id, { ...failure, partialAnswer: null })).toMatchObject({
        status: 'failed',
        answer: null,
        errorCode: 'UPSTREAM_ERROR',
      });
    });

    it('returns undefined when the chat was deleted while the ask ran', async () => {
      const user = await seedUser(storage);
      const { chat } = await seedChat(storage, user);
      const begun = await begin(storage, { chatId: chat.id, userId: user.id, question: 'Q', now: at(1) });
      await storage.chats.delete(chat.id);
      expect(await storage.pairs.complete(begun.pair.id, answered('late', at(2)))).toBeUndefined();
      expect(await storage.pairs.find(begun.pair.id)).toBeUndefined();
      expect(await storage.chats.findById(chat.id)).toBeUndefined();
    });
  });
});
