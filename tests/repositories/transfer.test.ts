import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderingsOf } from '../../src/domain/render.js';
import type { ImportedBranch, ImportedChat, ImportedPair } from '../../src/domain/transfer.js';
import type { QaPairRow, UserRow } from '../../src/domain/types.js';
import type { Storage } from '../../src/repositories/contract.js';
import {
  after,
  askAndAnswer,
  at,
  begin,
  engines,
  openStorage,
  seedChat,
  seedUser,
  type OpenedStorage,
} from '../helpers/storage.js';

function importedPair(key: string, parentKey: string | null, minute: number, fields: Partial<ImportedPair> = {}) {
  return {
    key,
    parentKey,
    question: `Question ${key}`,
    answer: `Answer ${key}`,
    searchResults: [],
    status: 'answered',
    errorCode: null,
    errorMessage: null,
    createdAt: at(minute),
    answeredAt: at(minute + 0.5),
    provider: 'chatgpt',
    model: 'gpt-x',
    upstreamRequestId: null,
    historyTurns: 0,
    latencyMs: null,
    ...fields,
  } satisfies ImportedPair;
}

function importedBranch(key: string, name: string | null, forkKey: string | null, headKey: string | null) {
  return { key, name, forkKey, headKey, createdAt: at(1), updatedAt: at(9) } satisfies ImportedBranch;
}

/**
 * k1 - k2 on `main`, k1 - k3 on `alt` (the active one). k2 is the latest by time though
 * not the last in the file, and k3 failed with a partial answer.
 */
function importedChat(sourceId: string, fields: Partial<ImportedChat> = {}): ImportedChat {
  return {
    sourceId,
    title: 'Imported chat',
    createdAt: at(1),
    updatedAt: at(10),
    settings: { systemPrompt: 'From the file' },
    pairs: [
      importedPair('k1', null, 1, { searchResults: [{ url: 'https://example.org/', name: 'Ex', snippet: 'ex' }] }),
      importedPair('k2', 'k1', 4, { historyTurns: 1, latencyMs: 900 }),
      importedPair('k3', 'k1', 3, {
        status: 'failed',
        answer: 'Partial',
        errorCode: 'UPSTREAM_ERROR',
        errorMessage: 'It broke',
        answeredAt: null,
      }),
    ],
    branches: [importedBranch('b-main', 'main', null, 'k2'), importedBranch('b-alt', 'alt', 'k1', 'k3')],
    activeBranchKey: 'b-alt',
    ...fields,
  };
}

/** Fresh ids that remember themselves, to check what an import left behind. */
function recordingIds() {
  const given: string[] = [];
  return {
    given,
    newId: () => {
      const id = randomUUID();
      given.push(id);
      return id;
    },
  };
}

/** TransferStore: imports (rows, dedup, atomicity) and forks. */
describe.each(engines)('transfer on %s', (engine) => {
  let opened: OpenedStorage;
  let storage: Storage;

  beforeAll(async () => {
    opened = await openStorage(engine);
    storage = opened.storage;
  });
  afterAll(() => opened.close());

  async function importFor(user: UserRow, chat: ImportedChat, newId: () => string = randomUUID) {
    return storage.transfer.importChat({ userId: user.id, chat, newId });
  }

  async function importedOk(user: UserRow, chat: ImportedChat) {
    const result = await importFor(user, chat);
    if (result.status !== 'imported') throw new Error(`expected an import, got ${result.status}`);
    return result.chat;
  }

  describe('import', () => {
    it('writes the rows as planned: fresh ids, parents and branches mapped, the active branch', async () => {
      const user = await seedUser(storage);
      const ids = recordingIds();
      const result = await importFor(user, importedChat('chatgpt:rows'), ids.newId);
      if (result.status !== 'imported') throw new Error(result.status);
      const chat = result.chat;
      expect(ids.given).toContain(chat.id);
      expect(chat).toMatchObject({
        userId: user.id,
        title: 'Imported chat',
        createdAt: at(1),
        updatedAt: at(10),
        qaCount: 3,
        lastSeq: 3,
        lastQuestion: 'Question k2',
        forkedFromChatId: null,
        forkedFromPairId: null,
        settings: { systemPrompt: 'From the file' },
        importSource: 'chatgpt:rows',
      });
      expect(await storage.chats.findById(chat.id)).toEqual(chat);

      const pairs = await storage.pairs.listOfChat(chat.id, 10);
      const [k1, k2, k3] = pairs;
      if (!k1 || !k2 || !k3) throw new Error('three pairs expected');
      for (const pair of pairs) {
        expect(ids.given).toContain(pair.id);
        expect(pair).toMatchObject({ chatId: chat.id, userId: user.id });
      }
      expect(new Set([chat.id, ...pairs.map((pair) => pair.id)]).size).toBe(4);
      expect(pairs.map((pair) => [pair.question, pair.seq, pair.parentId])).toEqual([
        ['Question k1', 1, null],
        ['Question k2', 2, k1.id],
        ['Question k3', 3, k1.id],
      ]);
      expect(k1.searchResults).toEqual([{ url: 'https://example.org/', name: 'Ex', snippet: 'ex' }]);
      expect(k2).toMatchObject({
        answer: 'Answer k2',
        status: 'answered',
        provider: 'chatgpt',
        model: 'gpt-x',
        historyTurns: 1,
        latencyMs: 900,
        createdAt: at(4),
        answeredAt: at(4.5),
      });
      expect(k3).toMatchObject({
        status: 'failed',
        answer: 'Partial',
        errorCode: 'UPSTREAM_ERROR',
        errorMessage: 'It broke',
        answeredAt: null,
      });

      const branches = await storage.branches.listOfChat(chat.id);
      const named = Object.fromEntries(branches.map(({ branch }) => [branch.name, branch]));
      expect(named.main).toMatchObject({ forkPairId: null, headPairId: k2.id, createdAt: at(1), updatedAt: at(9) });
      expect(named.alt).toMatchObject({ forkPairId: k1.id, headPairId: k3.id });
      expect(chat.activeBranchId).toBe(named.alt?.id);
      expect(ids.given).toContain(named.alt?.id);
    });

    it('skips a second import of the same source for the same user, not for another user', async () => {
      const user = await seedUser(storage);
      const other = await seedUser(storage, 'Bob');
      const first = await importedOk(user, importedChat('chatgpt:twice'));
      expect(await importFor(user, importedChat('chatgpt:twice', { title: 'Changed since' }))).toEqual({
        status: 'duplicate',
        chatId: first.id,
      });
      expect(await storage.chats.countForUser(user.id)).toBe(1);
      expect((await importFor(other, importedChat('chatgpt:twice'))).status).toBe('imported');
    });

    it('imports a source again once the chat imported from it was deleted', async () => {
      const user = await seedUser(storage);
      const first = await importedOk(user, importedChat('chatgpt:deleted'));
      await storage.chats.delete(first.id);
      const again = await importedOk(user, importedChat('chatgpt:deleted'));
      expect(again.id).not.toBe(first.id);
    });

    it('skips an export of a chat the user still has (originalChatId), not of another user or a deleted one', async () => {
      const user = await seedUser(storage);
      const other = await seedUser(storage, 'Bob');
      const { chat } = await seedChat(storage, user);
      const exported = (sourceId: string) => importedChat(sourceId, { originalChatId: chat.id });
      expect(await importFor(user, exported(`export:${chat.id}`))).toEqual({ status: 'duplicate', chatId: chat.id });
      expect((await importFor(other, exported(`export:${chat.id}`))).status).toBe('imported');
      await storage.chats.delete(chat.id);
      expect((await importFor(user, exported(`export:${chat.id}:after`))).status).toBe('imported');
    });

    it('names the chat of the same source when the source and the original are two different chats', async () => {
      const user = await seedUser(storage);
      const { chat: original } = await seedChat(storage, user);
      const restored = await importedOk(user, importedChat(`export:${original.id}`));
      // A second restore of the same backup: its source is the restored chat, its original the other one.
      const again = importedChat(`export:${original.id}`, { originalChatId: original.id });
      expect(await importFor(user, again)).toEqual({ status: 'duplicate', chatId: restored.id });
    });

    it.each([
      {
        failing: 'a pair (two with the same key: the second insert fails)',
        chat: importedChat('chatgpt:atomic-pairs', {
          pairs: [importedPair('k1', null, 1), importedPair('k2', 'k1', 2), importedPair('k2', 'k1', 3)],
          branches: [importedBranch('b', 'main', null, 'k2')],
          activeBranchKey: 'b',
        }),
      },
      {
        failing: 'the last branch (two named alike), after the chat and every pair',
        chat: importedChat('chatgpt:atomic-branches', {
          branches: [importedBranch('b1', 'same', null, 'k2'), importedBranch('b2', 'same', 'k1', 'k3')],
          activeBranchKey: 'b1',
        }),
      },
    ])('is all or nothing: an insert failing at $failing leaves no row', async ({ chat: broken }) => {
      const user = await seedUser(storage);
      const ids = recordingIds();
      await expect(importFor(user, broken, ids.newId)).rejects.toThrow();
      expect(ids.given.length).toBeGreaterThan(0);
      for (const id of ids.given) {
        expect(await storage.chats.findById(id)).toBeUndefined();
        expect(await storage.pairs.find(id)).toBeUndefined();
        expect(await storage.branches.find(id)).toBeUndefined();
      }
      expect(await storage.chats.countForUser(user.id)).toBe(0);
      // Nothing claims the source either: the repaired file imports.
      expect((await importFor(user, importedChat(broken.sourceId))).status).toBe('imported');
    });
  });

  describe('fork', () => {
    /** main: Q1 - Q2 - Q3, side: Q2 - Q4; Q2 failed. */
    async function sourceChat() {
      const user = await seedUser(storage);
      const { chat } = await seedChat(storage, user, { settings: { systemPrompt: 'Source prompt', model: 'm-9' } });
      const ids = { chatId: chat.id, userId: user.id };
      const q1 = await askAndAnswer(storage, {
        ...ids,
        question: 'Q1',
        now: at(1),
        searchResults: [{ url: 'https://a.example/', name: 'A', snippet: 'a' }],
      });
      const q2 = await begin(storage, { ...ids, question: 'Q2', now: at(2) });
      await storage.pairs.complete(q2.pair.id, {
        status: 'failed',
        errorCode: 'UPSTREAM_TIMEOUT',
        errorMessage: 'slow',
        partialAnswer: 'half',
        searchResults: [],
        answeredAt: at(2.5),
        latencyMs: 30_000,
        model: null,
        upstreamRequestId: null,
      });
      const q3 = await askAndAnswer(storage, { ...ids, question: 'Q3', now: at(3) });
      const q4 = await askAndAnswer(storage, {
        ...ids,
        placement: after(q2.pair.id, 'always'),
        question: 'Q4',
        now: at(4),
      });
      return { user, chat, pairs: await storage.pairs.listOfChat(chat.id, 10), ids: { q1, q3, q4 } };
    }

    async function fork(source: Awaited<ReturnType<typeof sourceChat>>, pairId: string) {
      const newPairIds = recordingIds();
      const chatId = randomUUID();
      const mainBranchId = randomUUID();
      const chat = await storage.transfer.forkChat({
        sourceChatId: source.chat.id,
        pairId,
        chat: { id: chatId, userId: source.user.id, title: 'Forked', createdAt: at(20), updatedAt: at(21) },
        mainBranchId,
        newPairId: newPairIds.newId,
      });
      return { chat, mainBranchId, newPairIds: newPairIds.given };
    }

    /**
     * What a copy of `original` must be: the same but for id, chat, parent and seq, and
     * rendered under its own id and parent (never the original's rendering).
     */
    const copyOf = (original: QaPairRow, copy: Pick<QaPairRow, 'id' | 'chatId' | 'parentId' | 'seq'>) => {
      const expected = { ...original, ...copy };
      return { ...expected, ...renderingsOf(expected) };
    };

    it('copies the path to the pair under new ids, with a main branch over it and the source recorded', async () => {
      const source = await sourceChat();
      const { chat, mainBranchId, newPairIds } = await fork(source, source.ids.q3.pair.id);
      expect(chat).toEqual({
        id: chat.id,
        userId: source.user.id,
        title: 'Forked',
        createdAt: at(20),
        updatedAt: at(21),
        qaCount: 3,
        lastQuestion: 'Q3',
        lastSeq: 3,
        activeBranchId: mainBranchId,
        forkedFromChatId: source.chat.id,
        forkedFromPairId: source.ids.q3.pair.id,
        settings: { systemPrompt: 'Source prompt', model: 'm-9' },
        importSource: null,
        version: 1,
      });

      const copies = await storage.pairs.listOfChat(chat.id, 10);
      expect(copies.map((copy) => copy.id)).toEqual(newPairIds);
      const originals = source.pairs.filter((pair) => pair.question !== 'Q4');
      expect(copies).toEqual(
        originals.map((original, index) =>
          copyOf(original, {
            id: newPairIds[index] ?? '',
            chatId: chat.id,
            parentId: index === 0 ? null : (newPairIds[index - 1] ?? ''),
            seq: index + 1,
          }),
        ),
      );
      const branches = await storage.branches.listOfChat(chat.id);
      expect(
        branches.map(({ branch, headQuestion }) => [branch.id, branch.name, branch.headPairId, headQuestion]),
      ).toEqual([[mainBranchId, 'main', newPairIds[2], 'Q3']]);
      // The source chat is as it was.
      expect(await storage.pairs.listOfChat(source.chat.id, 10)).toEqual(source.pairs);
    });

    it('follows the pair’s own path: a side branch, or just the first pair', async () => {
      const source = await sourceChat();
      const side = await fork(source, source.ids.q4.pair.id);
      expect((await storage.pairs.listOfChat(side.chat.id, 10)).map((pair) => pair.question)).toEqual([
        'Q1',
        'Q2',
        'Q4',
      ]);
      const first = await fork(source, source.ids.q1.pair.id);
      expect(first.chat).toMatchObject({ qaCount: 1, lastSeq: 1, lastQuestion: 'Q1' });
      expect(await storage.pairs.listTree(first.chat.id)).toEqual([{ id: first.newPairIds[0], parentId: null }]);
      expect((await storage.branches.find(first.mainBranchId))?.headPairId).toBe(first.newPairIds[0]);
    });
  });
});
