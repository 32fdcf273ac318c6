import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRow, UserRow } from '../../src/domain/types.js';
import type { Storage } from '../../src/repositories/contract.js';
import { createStorage } from '../../src/repositories/index.js';
import {
  after,
  answered,
  askAndAnswer,
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
 * Versions: the validators of every view (ETags, the view cache). A chat's version goes up
 * with every change to its row, its pairs or its branches, in the change's transaction;
 * its owner's chat-list version goes up with every change to any of their chats. Reads
 * and other users' changes move neither.
 */
describe.each(engines)('versions on %s', (engine) => {
  let opened: OpenedStorage;
  let storage: Storage;

  beforeAll(async () => {
    opened = await openStorage(engine);
    storage = opened.storage;
  });
  afterAll(() => opened.close());

  interface Versions {
    chat: number | undefined;
    list: number | undefined;
  }
  const versionsOf = async (chat: Pick<ChatRow, 'id' | 'userId'>): Promise<Versions> => ({
    chat: (await storage.chats.findById(chat.id))?.version,
    list: (await storage.users.findById(chat.userId))?.chatsVersion,
  });

  /**
   * Runs `change` and checks that the chat's version and the list's went up (by any
   * amount), and that a bystander chat of another user kept both of its versions.
   */
  async function expectBumped(chat: ChatRow, change: () => Promise<unknown>, expected = { chat: true, list: true }) {
    const bystander = (await seedChat(storage, await seedUser(storage, 'Bystander'))).chat;
    const bystanderBefore = await versionsOf(bystander);
    const before = await versionsOf(chat);
    await change();
    const now = await versionsOf(chat);
    if (expected.chat) expect(now.chat ?? 0).toBeGreaterThan(before.chat ?? 0);
    else expect(now.chat).toBe(before.chat);
    if (expected.list) expect(now.list ?? 0).toBeGreaterThan(before.list ?? 0);
    else expect(now.list).toBe(before.list);
    expect(await versionsOf(bystander)).toEqual(bystanderBefore);
  }

  async function freshChat(): Promise<{ user: UserRow; chat: ChatRow; mainBranchId: string }> {
    const user = await seedUser(storage);
    return { user, ...(await seedChat(storage, user)) };
  }

  it('a new chat starts at version 1; creating one moves its owner’s list only', async () => {
    const user = await seedUser(storage);
    expect(user.chatsVersion).toBe(1);
    const { chat } = await seedChat(storage, user);
    expect(chat.version).toBe(1);
    expect((await storage.users.findById(user.id))?.chatsVersion).toBeGreaterThan(1);
  });

  it('an ask moves both when it begins and again when it completes', async () => {
    const { user, chat } = await freshChat();
    let pairId = '';
    await expectBumped(chat, async () => {
      pairId = (await begin(storage, { chatId: chat.id, userId: user.id, question: 'Q', now: at(1) })).pair.id;
    });
    await expectBumped(chat, () => storage.pairs.complete(pairId, answered('A', at(2))));
  });

  it('an ask that creates its chat moves the list', async () => {
    const user = await seedUser(storage);
    const listBefore = user.chatsVersion;
    const chatId = randomUUID();
    await begin(storage, {
      chatId,
      userId: user.id,
      question: 'Q',
      now: at(1),
      newChat: { title: 'New', mainBranchId: randomUUID() },
    });
    expect((await storage.users.findById(user.id))?.chatsVersion).toBeGreaterThan(listBefore);
    expect((await storage.chats.findById(chatId))?.version).toBeGreaterThanOrEqual(1);
  });

  it('rename and settings move both; a chat that is not there moves nothing', async () => {
    const { chat } = await freshChat();
    await expectBumped(chat, () => storage.chats.update(chat.id, { title: 'Renamed' }, at(3)));
    await expectBumped(chat, () => storage.chats.update(chat.id, { settings: { model: 'm' } }, at(4)));
    const before = await versionsOf(chat);
    await storage.chats.update(randomUUID(), { title: 'Nobody' }, at(5));
    expect(await versionsOf(chat)).toEqual(before);
  });

  it('branch creation, switching, renaming and deletion move the chat’s version', async () => {
    const { user, chat, mainBranchId } = await freshChat();
    const first = await askAndAnswer(storage, { chatId: chat.id, userId: user.id, question: 'Q1', now: at(1) });
    let sideId = '';
    await expectBumped(chat, async () => {
      sideId = (await seedBranch(storage, chat, { forkPairId: first.pair.id, headPairId: first.pair.id })).id;
    });
    await expectBumped(chat, () => storage.branches.activate(chat.id, mainBranchId));
    await expectBumped(chat, () => storage.branches.rename(sideId, 'side', at(2)));
    await expectBumped(chat, () => storage.branches.delete({ chatId: chat.id, branchId: sideId }));
  });

  it('an edit (an ask after an earlier pair, on a new branch) moves both', async () => {
    const { user, chat } = await freshChat();
    await askAndAnswer(storage, { chatId: chat.id, userId: user.id, question: 'Q1', now: at(1) });
    await expectBumped(chat, () =>
      begin(storage, { chatId: chat.id, userId: user.id, question: 'Q1 again', now: at(2), placement: after(null) }),
    );
  });

  it('deleting a chat moves its owner’s list', async () => {
    const { user, chat } = await freshChat();
    const before = (await storage.users.findById(user.id))?.chatsVersion ?? 0;
    await storage.chats.delete(chat.id);
    expect((await storage.users.findById(user.id))?.chatsVersion).toBeGreaterThan(before);
  });

  it('an import and a fork move the list; the source of a fork keeps its version', async () => {
    const { user, chat } = await freshChat();
    const first = await askAndAnswer(storage, { chatId: chat.id, userId: user.id, question: 'Q1', now: at(1) });
    const sourceBefore = await versionsOf(chat);
    const forked = await storage.transfer.forkChat({
      sourceChatId: chat.id,
      pairId: first.pair.id,
      chat: { id: randomUUID(), userId: user.id, title: 'Fork', createdAt: at(2), updatedAt: at(2) },
      mainBranchId: randomUUID(),
      newPairId: () => randomUUID(),
    });
    expect(forked.version).toBe(1);
    const afterFork = await versionsOf(chat);
    expect(afterFork.chat).toBe(sourceBefore.chat);
    expect(afterFork.list ?? 0).toBeGreaterThan(sourceBefore.list ?? 0);

    const imported = await storage.transfer.importChat({
      userId: user.id,
      newId: () => randomUUID(),
      chat: {
        sourceId: `test:${randomUUID()}`,
        title: 'Imported',
        createdAt: at(3),
        updatedAt: at(3),
        settings: {},
        pairs: [],
        branches: [{ key: 'b', name: 'main', forkKey: null, headKey: null, createdAt: at(3), updatedAt: at(3) }],
        activeBranchKey: 'b',
      },
    });
    expect(imported.status).toBe('imported');
    expect((await storage.users.findById(user.id))?.chatsVersion ?? 0).toBeGreaterThan(afterFork.list ?? 0);
  });

  it('failing orphaned pairs moves the versions of their chats', async () => {
    const { user, chat } = await freshChat();
    // On PostgreSQL a pair is an orphan once no live instance owns it: one begun by another
    // instance (a second storage has its own id) that never beat.
    const owner = engine === 'pg' ? await createStorage(opened.database) : storage;
    await begin(owner, { chatId: chat.id, userId: user.id, question: 'Left running', now: at(1) });
    const before = await versionsOf(chat);
    const failed = await storage.liveness.failOrphans('INTERRUPTED', 'stopped', at(2));
    expect(failed).toBeGreaterThanOrEqual(1);
    const now = await versionsOf(chat);
    expect(now.chat ?? 0).toBeGreaterThan(before.chat ?? 0);
    expect(now.list ?? 0).toBeGreaterThan(before.list ?? 0);
  });

  it('reads move nothing', async () => {
    const { user, chat, mainBranchId } = await freshChat();
    const pair = await askAndAnswer(storage, { chatId: chat.id, userId: user.id, question: 'Q', now: at(1) });
    const before = await versionsOf(chat);
    await storage.chats.listForUser(user.id, 10);
    await storage.pairs.listPath(pair.pair.id);
    await storage.pairs.listTree(chat.id);
    await storage.branches.listOfChat(chat.id);
    await storage.branches.find(mainBranchId);
    expect(await versionsOf(chat)).toEqual(before);
  });
});
