import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/domain/events.js';
import type { EventSignal, Storage } from '../../src/repositories/contract.js';
import {
  after,
  answered,
  askAndAnswer,
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

const typesOf = (events: StoredEvent[]) => events.map((event) => event.type);
const parsed = (event: StoredEvent | undefined): Record<string, unknown> =>
  JSON.parse(event?.data ?? 'null') as Record<string, unknown>;

/**
 * The event log (EventStore) and the events every store records in the transaction of its
 * change: which events, in which order, with ids 1, 2, 3... per user; the signals that wake
 * listeners; pruning; the progress of streaming answers; the stream's tickets.
 */
describe.each(engines)('events on %s', (engine) => {
  let opened: OpenedStorage;
  let storage: Storage;

  beforeAll(async () => {
    opened = await openStorage(engine, { heartbeatMs: 1_000, staleAfterMs: 60_000 });
    storage = opened.storage;
    await storage.events.listening();
  });
  afterAll(() => opened.close());

  const all = (userId: string) => storage.events.listAfter(userId, 0, 10_000);

  /** Resolves with the first signal matching `match` that arrives after the call. */
  function nextSignal(match: (signal: EventSignal) => boolean): Promise<EventSignal> {
    return new Promise((resolve) => {
      const stop = storage.events.subscribe((signal) => {
        if (!match(signal)) return;
        stop();
        resolve(signal);
      });
    });
  }

  it('numbers each user’s events 1, 2, 3... and records every kind of chat change', async () => {
    const user = await seedUser(storage);
    const other = await seedUser(storage, 'Bo');
    const { chat, mainBranchId } = await seedChat(storage, user);
    await seedChat(storage, other);
    const first = await askAndAnswer(storage, { chatId: chat.id, userId: user.id, question: 'Q1', now: at(1) });
    // A new first question forks a branch, which becomes the active one.
    const forked = await begin(storage, {
      chatId: chat.id,
      userId: user.id,
      question: 'Q2',
      placement: after(null),
      now: at(2),
    });
    await storage.pairs.complete(forked.pair.id, {
      status: 'failed',
      errorCode: 'UPSTREAM_ERROR',
      errorMessage: 'down',
      partialAnswer: 'par',
      searchResults: [],
      answeredAt: at(3),
      latencyMs: 5,
      model: null,
      upstreamRequestId: null,
    });
    await storage.chats.update(chat.id, { title: 'Renamed' }, at(4));
    const named = await seedBranch(storage, chat, { forkPairId: first.pair.id, headPairId: first.pair.id });
    await storage.branches.rename(named.id, 'side', at(5));
    await storage.branches.activate(chat.id, mainBranchId);
    await storage.branches.delete({ chatId: chat.id, branchId: forked.branchId, activateBranchId: mainBranchId });
    await storage.chats.delete(chat.id);

    const events = await all(user.id);
    expect(typesOf(events)).toEqual([
      'chat.created',
      'pair.started',
      'pair.completed',
      'branch.created',
      'branch.activated',
      'pair.started',
      'pair.completed',
      'chat.updated',
      'branch.created',
      'branch.activated',
      'branch.updated',
      'branch.activated',
      'branch.deleted',
      'branch.activated',
      'chat.deleted',
    ]);
    expect(events.map((event) => event.id)).toEqual(events.map((_, index) => index + 1));
    expect(events.every((event) => event.userId === user.id && event.chatId === chat.id)).toBe(true);
    expect(await storage.events.lastId(user.id)).toBe(events.length);
    // The other user's log is theirs alone, numbered from 1.
    expect(typesOf(await all(other.id))).toEqual(['chat.created']);
    expect((await all(other.id))[0]?.id).toBe(1);

    expect(parsed(events[0])).toMatchObject({ chat: { id: chat.id, title: 'A chat', user_id: user.id } });
    expect(parsed(events[1])).toMatchObject({
      branch_id: mainBranchId,
      qa_pair: { id: first.pair.id, question: 'Q1', status: 'pending', answer: null },
    });
    expect(parsed(events[2])).toMatchObject({ qa_pair: { id: first.pair.id, status: 'answered', answer: 'A: Q1' } });
    expect(parsed(events[3])).toMatchObject({ branch: { id: forked.branchId, head_qa_pair_id: forked.pair.id } });
    expect(parsed(events[6])).toMatchObject({
      qa_pair: { status: 'failed', answer: 'par', error: { code: 'UPSTREAM_ERROR', message: 'down' } },
    });
    expect(parsed(events[7])).toMatchObject({ chat: { title: 'Renamed' } });
    expect(parsed(events[10])).toMatchObject({ branch: { id: named.id, name: 'side' } });
    expect(parsed(events[12])).toEqual({ branch_id: forked.branchId, deleted_qa_pairs: 1 });
    expect(parsed(events[14])).toEqual({});
  });

  it('records nothing for a change that did not happen', async () => {
    const user = await seedUser(storage);
    const { chat } = await seedChat(storage, user);
    await seedBranch(storage, chat, { name: 'taken' });
    const before = await storage.events.lastId(user.id);
    expect((await storage.branches.create(branchRow(chat, { name: 'taken' }))).status).toBe('name_taken');
    expect(await storage.chats.update(randomUUID(), { title: 'x' }, at(1))).toBeUndefined();
    expect(await storage.events.lastId(user.id)).toBe(before);
  });

  it('records imports and forks as chat.created, with the chat as it ends up', async () => {
    const user = await seedUser(storage);
    const { chat } = await seedChat(storage, user);
    const asked = await askAndAnswer(storage, { chatId: chat.id, userId: user.id, question: 'Q1', now: at(1) });
    const fork = await storage.transfer.forkChat({
      sourceChatId: chat.id,
      pairId: asked.pair.id,
      chat: { id: randomUUID(), userId: user.id, title: 'Fork', createdAt: at(2), updatedAt: at(2) },
      mainBranchId: randomUUID(),
      newPairId: randomUUID,
    });
    const events = await all(user.id);
    expect(events.at(-1)?.type).toBe('chat.created');
    expect(events.at(-1)?.chatId).toBe(fork.id);
    expect(parsed(events.at(-1))).toMatchObject({ chat: { id: fork.id, qa_count: 1, last_question: 'Q1' } });
  });

  it('appends events no other write carries, and lists a log in pages', async () => {
    const user = await seedUser(storage);
    const { chat } = await seedChat(storage, user);
    const begun = await begin(storage, { chatId: chat.id, userId: user.id, question: 'Q', now: at(1) });
    const results = [{ url: 'https://example.com', name: 'Example', snippet: 'e.g.' }];
    const [appended] = await storage.events.append([
      {
        type: 'pair.search_results',
        userId: user.id,
        chatId: chat.id,
        at: at(2),
        data: { qa_pair_id: begun.pair.id, search_results: results },
      },
    ]);
    expect(appended).toMatchObject({ id: 3, type: 'pair.search_results', at: at(2) });
    expect(await storage.events.listAfter(user.id, 1, 1)).toMatchObject([{ id: 2, type: 'pair.started' }]);
    expect(await storage.events.listAfter(user.id, 2, 10)).toEqual([appended]);
    expect(await storage.events.listAfter(user.id, 3, 10)).toEqual([]);
    expect(await storage.events.lastId(randomUUID())).toBeUndefined();
  });

  it('signals the user once their events are committed', async () => {
    const user = await seedUser(storage);
    const signalled = nextSignal((signal) => signal.kind === 'events' && signal.userId === user.id);
    const { chat } = await seedChat(storage, user);
    await signalled;
    // By the time the signal arrives the event can be read.
    expect(typesOf(await all(user.id))).toEqual(['chat.created']);
    expect(chat.userId).toBe(user.id);
  });

  it('prunes only events both older than the bound and not among the latest of their user', async () => {
    const user = await seedUser(storage);
    const { chat } = await seedChat(storage, user);
    for (let i = 1; i <= 4; i += 1) await storage.chats.update(chat.id, { title: `T${i}` }, at(i));
    const ids = (await all(user.id)).map((event) => event.id);
    expect(ids).toEqual([1, 2, 3, 4, 5]);
    const quiet = await seedUser(storage);
    await seedChat(storage, quiet);

    // Every event is younger than the bound: nothing goes, however many there are.
    expect(await storage.events.prune({ keepCount: 1, keepSince: new Date(0) })).toBe(0);
    // Old enough, but only events beyond each user's latest two go.
    const future = new Date(Date.now() + 3_600_000);
    await storage.events.prune({ keepCount: 2, keepSince: future });
    expect((await all(user.id)).map((event) => event.id)).toEqual([4, 5]);
    expect((await all(quiet.id)).map((event) => event.id)).toEqual([1]);
    // Ids go on from the last one, not from what is left.
    await storage.chats.update(chat.id, { title: 'T5' }, at(9));
    expect((await all(user.id)).map((event) => event.id)).toEqual([4, 5, 6]);
  });

  it('saves a streaming answer’s progress while it is unfinished, and signals it', async () => {
    const user = await seedUser(storage);
    const { chat } = await seedChat(storage, user);
    const begun = await begin(storage, {
      chatId: chat.id,
      userId: user.id,
      question: 'Q',
      status: 'streaming',
      now: at(1),
    });
    expect(await storage.pairs.progressOf(begun.pair.id)).toBeUndefined();
    const signalled = nextSignal((signal) => signal.kind === 'progress' && signal.pairId === begun.pair.id);
    expect(await storage.pairs.saveProgress(begun.pair.id, 'Hel', at(2))).toBe(true);
    expect(await signalled).toEqual({ kind: 'progress', userId: user.id, chatId: chat.id, pairId: begun.pair.id });
    expect(await storage.pairs.saveProgress(begun.pair.id, 'Hello', at(3))).toBe(true);
    expect(await storage.pairs.progressOf(begun.pair.id)).toBe('Hello');

    await storage.pairs.complete(begun.pair.id, answered('Hello there', at(4)));
    expect(await storage.pairs.progressOf(begun.pair.id)).toBeUndefined();
    // A final pair's progress is never saved again.
    expect(await storage.pairs.saveProgress(begun.pair.id, 'late', at(5))).toBe(false);
    expect(await storage.pairs.progressOf(begun.pair.id)).toBeUndefined();
    expect(await storage.pairs.saveProgress(randomUUID(), 'x', at(5))).toBe(false);
  });

  it('keeps the saved progress of a pair failed by recovery, and tells of it', async () => {
    const user = await seedUser(storage);
    const { chat } = await seedChat(storage, user);
    const begun = await begin(storage, {
      chatId: chat.id,
      userId: user.id,
      question: 'Q',
      status: 'streaming',
      now: at(1),
    });
    await storage.pairs.saveProgress(begun.pair.id, 'So far', at(2));
    if (engine === 'pg') {
      // Another instance owned it and stopped beating long ago.
      if (opened.database.engine !== 'pg') throw new Error('pg expected');
      await opened.database.db.execute(
        sql`UPDATE pending_pairs SET instance_id = 'gone' WHERE qa_pair_id = ${begun.pair.id}`,
      );
    }
    await storage.liveness.failOrphans('INTERRUPTED', 'restarted', at(3));
    const failed = await storage.pairs.find(begun.pair.id);
    expect(failed).toMatchObject({ status: 'failed', answer: 'So far', errorCode: 'INTERRUPTED' });
    expect(await storage.pairs.progressOf(begun.pair.id)).toBeUndefined();
    const last = (await all(user.id)).at(-1);
    expect(last?.type).toBe('pair.completed');
    expect(parsed(last)).toMatchObject({ qa_pair: { id: begun.pair.id, status: 'failed', answer: 'So far' } });
  });

  it('redeems a ticket once, and never after it expires', async () => {
    const user = await seedUser(storage);
    const hash = (ticket: string) => createHash('sha256').update(ticket).digest('hex');
    await storage.eventTickets.create({ ticketHash: hash('t1'), userId: user.id, expiresAt: at(1) });
    await storage.eventTickets.create({ ticketHash: hash('t2'), userId: user.id, expiresAt: at(1) });
    expect(await storage.eventTickets.redeem(hash('t1'), at(0))).toBe(user.id);
    expect(await storage.eventTickets.redeem(hash('t1'), at(0))).toBeUndefined();
    // Expired: refused, and gone.
    expect(await storage.eventTickets.redeem(hash('t2'), at(1))).toBeUndefined();
    await storage.eventTickets.create({ ticketHash: hash('t3'), userId: user.id, expiresAt: at(1) });
    expect(await storage.eventTickets.purgeExpired(at(2))).toBeGreaterThanOrEqual(1);
    expect(await storage.eventTickets.redeem(hash('t3'), at(0))).toBeUndefined();
  });
});
