import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserRow } from '../../src/domain/types.js';
import type { Storage } from '../../src/repositories/contract.js';
import { at, engines, openStorage, seedUser, type OpenedStorage } from '../helpers/storage.js';

/** IdempotencyStore: one row per (user, key); a live row is reported, an expired one taken over. */
describe.each(engines)('idempotency keys on %s', (engine) => {
  let opened: OpenedStorage;
  let storage: Storage;

  beforeAll(async () => {
    opened = await openStorage(engine);
    storage = opened.storage;
  });
  afterAll(() => opened.close());

  const claim = (user: UserRow, key: string, requestHash: string, now: Date, expiresAt: Date) =>
    storage.idempotency.claim({ userId: user.id, key, requestHash, now, expiresAt });

  it('claims a new key as a running row', async () => {
    const user = await seedUser(storage);
    expect(await claim(user, 'k', 'hash-1', at(0), at(60))).toEqual({ kind: 'claimed' });
    expect(await storage.idempotency.find(user.id, 'k')).toEqual({
      userId: user.id,
      key: 'k',
      requestHash: 'hash-1',
      state: 'running',
      statusCode: null,
      response: null,
      createdAt: at(0),
      expiresAt: at(60),
    });
  });

  it('reports a live key as existing, running then done, whatever the new request is', async () => {
    const user = await seedUser(storage);
    await claim(user, 'k', 'hash-1', at(0), at(60));
    const running = await claim(user, 'k', 'hash-2', at(1), at(61));
    expect(running).toMatchObject({ kind: 'existing', row: { state: 'running', requestHash: 'hash-1' } });

    await storage.idempotency.complete(user.id, 'k', 200, '{"ok":true}');
    expect(await claim(user, 'k', 'hash-1', at(59), at(119))).toEqual({
      kind: 'existing',
      row: {
        userId: user.id,
        key: 'k',
        requestHash: 'hash-1',
        state: 'done',
        statusCode: 200,
        response: '{"ok":true}',
        createdAt: at(0),
        expiresAt: at(60),
      },
    });
  });

  it('takes over an expired key, from its expiry on, as a fresh running row', async () => {
    const user = await seedUser(storage);
    await claim(user, 'k', 'hash-1', at(0), at(60));
    await storage.idempotency.complete(user.id, 'k', 201, 'first');
    // Exactly at its expiry the row no longer holds the key.
    expect(await claim(user, 'k', 'hash-2', at(60), at(120))).toEqual({ kind: 'claimed' });
    expect(await storage.idempotency.find(user.id, 'k')).toEqual({
      userId: user.id,
      key: 'k',
      requestHash: 'hash-2',
      state: 'running',
      statusCode: null,
      response: null,
      createdAt: at(60),
      expiresAt: at(120),
    });
  });

  it('release gives the key back; keys are per user', async () => {
    const user = await seedUser(storage);
    const other = await seedUser(storage, 'Bob');
    await claim(user, 'k', 'hash-1', at(0), at(60));
    expect(await claim(other, 'k', 'hash-9', at(0), at(60))).toEqual({ kind: 'claimed' });
    await storage.idempotency.release(user.id, 'k');
    expect(await storage.idempotency.find(user.id, 'k')).toBeUndefined();
    expect(await storage.idempotency.find(other.id, 'k')).toMatchObject({ requestHash: 'hash-9' });
    expect(await claim(user, 'k', 'hash-3', at(1), at(61))).toEqual({ kind: 'claimed' });
  });

  it('purgeExpired removes the rows expired by `now` (as claim counts them), counting them, and keeps the live ones', async () => {
    const user = await seedUser(storage);
    // The other tests' rows expire within two hours: purged first, so the count below is ours alone.
    await storage.idempotency.purgeExpired(at(99_000));
    const now = at(100_000);
    const keys = { old: randomUUID(), older: randomUUID(), live: randomUUID(), edge: randomUUID() };
    await claim(user, keys.older, 'h', at(99_000), at(99_500));
    // Expiring exactly now: claim takes such a key over, so purge removes it too.
    await claim(user, keys.edge, 'h', at(99_950), now);
    await claim(user, keys.old, 'h', at(99_900), at(99_999));
    await claim(user, keys.live, 'h', at(99_990), at(100_001));
    await storage.idempotency.complete(user.id, keys.old, 200, 'done');
    expect(await storage.idempotency.purgeExpired(now)).toBe(3);
    expect(await storage.idempotency.find(user.id, keys.edge)).toBeUndefined();
    expect(await storage.idempotency.find(user.id, keys.old)).toBeUndefined();
    expect(await storage.idempotency.find(user.id, keys.older)).toBeUndefined();
    expect(await storage.idempotency.find(user.id, keys.live)).toMatchObject({ state: 'running' });
    expect(await storage.idempotency.purgeExpired(now)).toBe(0);
  });
});
