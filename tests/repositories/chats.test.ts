import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRow } from '../../src/domain/types.js';
import type { Storage } from '../../src/repositories/contract.js';
import { askAndAnswer, at, engines, openStorage, seedChat, seedUser, type OpenedStorage } from '../helpers/storage.js';

/** ChatStore and UserStore: keyset pages, deletion tombstones, counts, the owner's cascade. */
describe.each(engines)('chats on %s', (engine) => {
  let opened: OpenedStorage;
  let storage: Storage;

  beforeAll(async () => {
    opened = await openStorage(engine);
    storage = opened.storage;
  });
  afterAll(() => opened.close());

  const byNewest = (a: ChatRow, b: ChatRow) =>
    b.updatedAt.getTime() - a.updatedAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

  it('create: the chat starts empty, with an empty main branch active', async () => {
    const user = await seedUser(storage);
    const { chat, mainBranchId } = await seedChat(storage, user, {
      title: 'Fresh',
      createdAt: at(1),
      updatedAt: at(2),
      settings: { systemPrompt: 'Be brief', historyMaxTurns: 3 },
    });
    expect(chat).toEqual({
      id: chat.id,
      userId: user.id,
      title: 'Fresh',
      createdAt: at(1),
      updatedAt: at(2),
      qaCount: 0,
      lastQuestion: null,
      lastSeq: 0,
      activeBranchId: mainBranchId,
      forkedFromChatId: null,
      forkedFromPairId: null,
      settings: { systemPrompt: 'Be brief', historyMaxTurns: 3 },
      importSource: null,
      version: 1,
    });
    expect(await storage.chats.findById(chat.id)).toEqual(chat);
    expect(await storage.branches.find(mainBranchId)).toMatchObject({ name: 'main', headPairId: null });
  });

  it('listForUser: newest first, ties by id, pages that neither repeat nor skip, only the user', async () => {
    const user = await seedUser(storage);
    const someoneElse = await seedUser(storage, 'Bob');
    // Several chats share an updatedAt, so only the id tells them apart in the order.
    const minutes = [5, 3, 3, 3, 9, 3, 1, 7, 3];
    const created: ChatRow[] = [];
    for (const minute of minutes) created.push((await seedChat(storage, user, { updatedAt: at(minute) })).chat);
    await seedChat(storage, someoneElse, { updatedAt: at(4) });
    const expected = [...created].sort(byNewest).map((chat) => chat.id);

    expect((await storage.chats.listForUser(user.id, 100)).map((chat) => chat.id)).toEqual(expected);
    const paged: string[] = [];
    let page = await storage.chats.listForUser(user.id, 2);
    // Bounded: a cursor that repeated its own chat would otherwise page forever.
    for (let pages = 0; page.length > 0 && pages <= minutes.length; pages += 1) {
      paged.push(...page.map((chat) => chat.id));
      const last = page.at(-1);
      if (!last) break;
      page = await storage.chats.listForUser(user.id, 2, { updatedAt: last.updatedAt, id: last.id });
    }
    expect(paged).toEqual(expected);
    expect(await storage.chats.countForUser(user.id)).toBe(minutes.length);
    expect(await storage.chats.countForUser(randomUUID())).toBe(0);
  });

  it('listForUser: a cursor excludes its own chat and everything before it', async () => {
    const user = await seedUser(storage);
    const chats: ChatRow[] = [];
    for (const minute of [1, 2, 3]) chats.push((await seedChat(storage, user, { updatedAt: at(minute) })).chat);
    const [oldest, middle, newest] = chats;
    if (!oldest || !middle || !newest) throw new Error('three chats expected');
    const after = async (chat: ChatRow) =>
      (await storage.chats.listForUser(user.id, 10, { updatedAt: chat.updatedAt, id: chat.id })).map((row) => row.id);
    expect(await after(newest)).toEqual([middle.id, oldest.id]);
    expect(await after(middle)).toEqual([oldest.id]);
    expect(await after(oldest)).toEqual([]);
  });

  it('update: changes title and settings with the time given; undefined for an unknown chat', async () => {
    const user = await seedUser(storage);
    const { chat } = await seedChat(storage, user, { title: 'Before' });
    expect(await storage.chats.update(chat.id, { title: 'After' }, at(8))).toEqual({
      ...chat,
      title: 'After',
      updatedAt: at(8),
      version: chat.version + 1,
    });
    expect((await storage.chats.update(chat.id, { settings: { model: 'm-2' } }, at(9)))?.settings).toEqual({
      model: 'm-2',
    });
    expect(await storage.chats.update(randomUUID(), { title: 'Nobody' }, at(9))).toBeUndefined();
  });

  it('delete: removes the chat with its pairs and branches and leaves a tombstone', async () => {
    const user = await seedUser(storage);
    const { chat, mainBranchId } = await seedChat(storage, user);
    const kept = await seedChat(storage, user);
    const asked = await askAndAnswer(storage, { chatId: chat.id, userId: user.id, question: 'Q', now: at(1) });
    expect(await storage.chats.wasDeleted(chat.id)).toBe(false);

    expect(await storage.chats.delete(chat.id)).toBe(true);
    expect(await storage.chats.findById(chat.id)).toBeUndefined();
    expect(await storage.pairs.find(asked.pair.id)).toBeUndefined();
    expect(await storage.branches.find(mainBranchId)).toBeUndefined();
    expect(await storage.chats.wasDeleted(chat.id)).toBe(true);
    expect(await storage.chats.countForUser(user.id)).toBe(1);
    expect((await storage.chats.listForUser(user.id, 10)).map((row) => row.id)).toEqual([kept.chat.id]);

    expect(await storage.chats.delete(chat.id)).toBe(false);
    expect(await storage.chats.delete(randomUUID())).toBe(false);
    expect(await storage.chats.wasDeleted(randomUUID())).toBe(false);
  });

  describe('users', () => {
    it('finds a user by id and by the hash of their key', async () => {
      const user = { id: randomUUID(), name: 'Kay', createdAt: at(1) };
      const keyHash = 'a'.repeat(64);
      expect(
        await storage.users.createWithKey(user, {
          id: randomUUID(),
          userId: user.id,
          keyHash,
          prefix: 'kay',
          createdAt: at(1),
        }),
      ).toEqual({ ...user, chatsVersion: 1, lastEventId: 0 });
      expect(await storage.users.findById(user.id)).toEqual({ ...user, chatsVersion: 1, lastEventId: 0 });
      expect(await storage.users.findByKeyHash(keyHash)).toEqual({ ...user, chatsVersion: 1, lastEventId: 0 });
      expect(await storage.users.findByKeyHash('b'.repeat(64))).toBeUndefined();
    });

    it('delete: removes the user with their key, chats and pairs', async () => {
      const user = await seedUser(storage);
      const { chat } = await seedChat(storage, user);
      const asked = await askAndAnswer(storage, { chatId: chat.id, userId: user.id, question: 'Q', now: at(1) });
      expect(await storage.users.delete(user.id)).toBe(true);
      expect(await storage.users.findById(user.id)).toBeUndefined();
      expect(await storage.chats.findById(chat.id)).toBeUndefined();
      expect(await storage.pairs.find(asked.pair.id)).toBeUndefined();
      expect(await storage.chats.countForUser(user.id)).toBe(0);
      expect(await storage.users.delete(user.id)).toBe(false);
    });
  });
});
