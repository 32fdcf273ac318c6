import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { AppDatabase } from '../../src/db/index.js';
import type { Storage } from '../../src/repositories/contract.js';
import { createStorage } from '../../src/repositories/index.js';
import {
  answered,
  askAndAnswer,
  at,
  begin,
  engines,
  openStorage,
  seedChat,
  seedUser,
  type OpenedStorage,
} from '../helpers/storage.js';

const CODE = 'INTERRUPTED';
const MESSAGE = 'The service restarted before the answer arrived';

/**
 * Orphan recovery (InstanceLiveness.failOrphans). The engines differ by design: SQLite has
 * one process per database, so every unfinished pair is an orphan; on PostgreSQL only the
 * pairs of instances whose heartbeat is stale are. Liveness is judged by the database's
 * clock, so "stale" is set up by moving an instance's heartbeat into the past, not by waiting.
 */
describe.each(engines)('orphan recovery on %s', (engine) => {
  let opened: OpenedStorage;
  let storage: Storage;

  beforeAll(async () => {
    // A minute is far longer than any test takes: an instance that just beat is live.
    opened = await openStorage(engine, { heartbeatMs: 1_000, staleAfterMs: 60_000 });
    storage = opened.storage;
  });
  afterAll(() => opened.close());

  /** One chat with an answered pair, then a pending and a streaming one begun by `by`. */
  async function unfinishedPairs(by: Storage) {
    const user = await seedUser(by);
    const { chat } = await seedChat(by, user);
    const ids = { chatId: chat.id, userId: user.id };
    const done = await askAndAnswer(by, { ...ids, question: 'Done', now: at(1) });
    const pending = await begin(by, { ...ids, question: 'Pending', now: at(2) });
    const streaming = await begin(by, { ...ids, question: 'Streaming', status: 'streaming', now: at(3) });
    // The tests share one database: pairs left unfinished would be the next test's orphans.
    onTestFinished(async () => {
      for (const { id } of [pending.pair, streaming.pair]) {
        const status = (await by.pairs.find(id))?.status;
        if (status === 'pending' || status === 'streaming') await by.pairs.complete(id, answered('settled', at(30)));
      }
    });
    return { done: done.pair, pending: pending.pair, streaming: streaming.pair };
  }

  async function expectFailed(pairIds: string[]) {
    for (const id of pairIds) {
      expect(await storage.pairs.find(id)).toMatchObject({
        status: 'failed',
        errorCode: CODE,
        errorMessage: MESSAGE,
        answeredAt: at(10),
      });
    }
  }

  async function statusOf(id: string) {
    return (await storage.pairs.find(id))?.status;
  }

  it('beats only where several instances can share the database', () => {
    expect(storage.liveness.heartbeatMs).toBe(engine === 'pg' ? 1_000 : undefined);
  });

  if (engine === 'sqlite') {
    it('fails every pending and streaming pair with the code and message, and counts them', async () => {
      const pairs = await unfinishedPairs(storage);
      expect(await storage.liveness.failOrphans(CODE, MESSAGE, at(10))).toBe(2);
      await expectFailed([pairs.pending.id, pairs.streaming.id]);
      // What had ended is left as it was, and a second sweep finds nothing.
      expect(await storage.pairs.find(pairs.done.id)).toEqual(pairs.done);
      expect(await storage.liveness.failOrphans(CODE, MESSAGE, at(11))).toBe(0);
    });
  }

  if (engine === 'pg') {
    /** Another instance on the same database: a second storage has an instance id of its own. */
    const peerOf = (database: AppDatabase) => createStorage(database, { heartbeatMs: 1_000, staleAfterMs: 60_000 });

    async function setHeartbeatAgo(instanceId: string, seconds: number) {
      if (opened.database.engine !== 'pg') throw new Error('PostgreSQL only');
      await opened.database.pool.query(
        `UPDATE app_instances SET heartbeat_at = now() - make_interval(secs => $2) WHERE id = $1`,
        [instanceId, seconds],
      );
    }

    it('leaves the pairs of a live instance, and of the sweeping one, alone', async () => {
      const peer = await peerOf(opened.database);
      await storage.liveness.beat();
      await peer.liveness.beat();
      const theirs = await unfinishedPairs(peer);
      const ours = await unfinishedPairs(storage);
      expect(await storage.liveness.failOrphans(CODE, MESSAGE, at(10))).toBe(0);
      for (const pair of [theirs.pending, theirs.streaming, ours.pending, ours.streaming]) {
        expect(await statusOf(pair.id)).toBe(pair.status);
      }
      await peer.liveness.leave();
    });

    it('never fails its own pairs, even while its own heartbeat looks stale', async () => {
      await storage.liveness.beat();
      const ours = await unfinishedPairs(storage);
      // A beat delayed past the limit (a busy database) must not make an instance sweep itself.
      await setHeartbeatAgo(storage.liveness.instanceId, 120);
      expect(await storage.liveness.failOrphans(CODE, MESSAGE, at(10))).toBe(0);
      expect(await statusOf(ours.pending.id)).toBe('pending');
      expect(await statusOf(ours.streaming.id)).toBe('streaming');
      await storage.liveness.beat();
    });

    it('fails the pairs of an instance whose heartbeat is stale, and only those', async () => {
      const stale = await peerOf(opened.database);
      const live = await peerOf(opened.database);
      await Promise.all([storage.liveness.beat(), stale.liveness.beat(), live.liveness.beat()]);
      const dead = await unfinishedPairs(stale);
      const running = await unfinishedPairs(live);
      // Two minutes silent, with staleAfterMs one minute.
      await setHeartbeatAgo(stale.liveness.instanceId, 120);

      expect(await storage.liveness.failOrphans(CODE, MESSAGE, at(10))).toBe(2);
      await expectFailed([dead.pending.id, dead.streaming.id]);
      expect(await storage.pairs.find(dead.done.id)).toEqual(dead.done);
      expect(await statusOf(running.pending.id)).toBe('pending');
      expect(await statusOf(running.streaming.id)).toBe('streaming');
      expect(await storage.liveness.failOrphans(CODE, MESSAGE, at(11))).toBe(0);
      await live.liveness.leave();
    });

    it('fails the pairs of an instance that left, or that never beat', async () => {
      const left = await peerOf(opened.database);
      const silent = await peerOf(opened.database);
      await storage.liveness.beat();
      await left.liveness.beat();
      const ofLeft = await unfinishedPairs(left);
      const ofSilent = await unfinishedPairs(silent);
      await left.liveness.leave();
      expect(await storage.liveness.failOrphans(CODE, MESSAGE, at(10))).toBe(4);
      await expectFailed([ofLeft.pending.id, ofLeft.streaming.id, ofSilent.pending.id, ofSilent.streaming.id]);
    });

    it('a beat brings a stale instance back: its pairs are no longer orphans', async () => {
      const peer = await peerOf(opened.database);
      await peer.liveness.beat();
      const pairs = await unfinishedPairs(peer);
      await setHeartbeatAgo(peer.liveness.instanceId, 120);
      await peer.liveness.beat();
      expect(await storage.liveness.failOrphans(CODE, MESSAGE, at(10))).toBe(0);
      expect(await statusOf(pairs.pending.id)).toBe('pending');
      await peer.liveness.leave();
    });
  }
});
