import { and, asc, eq, gt, lt, sql } from 'drizzle-orm';
import type { SqliteDb } from '../../db/sqlite/client.js';
import { events, eventTickets, users } from '../../db/sqlite/schema.js';
import type { RetainedEventDraft, StoredEvent } from '../../domain/events.js';
import type { EventSignal, EventStore, EventTicketStore } from '../contract.js';

/**
 * The event log on SQLite. One process serves the file, so signals are this process's own:
 * `record` runs inside a store's synchronous transaction and signals from a microtask,
 * which runs only once that transaction has committed (or rolled back: the listener then
 * reads nothing new, which costs one indexed read).
 */
export function createSqliteEventLog(db: SqliteDb, outbox: { enqueueDeliveries(event: StoredEvent): void }) {
  const p = sql.placeholder;
  const listeners = new Set<(signal: EventSignal) => void>();
  const signalledUsers = new Set<string>();

  function emit(signal: EventSignal): void {
    for (const listener of listeners) listener(signal);
  }

  function signalEvents(userId: string): void {
    // Several events of one transaction make one signal.
    if (signalledUsers.has(userId)) return;
    signalledUsers.add(userId);
    queueMicrotask(() => {
      signalledUsers.delete(userId);
      emit({ kind: 'events', userId });
    });
  }

  const nextId = db
    .update(users)
    .set({ lastEventId: sql`${users.lastEventId} + 1` })
    .where(eq(users.id, p('userId')))
    .returning({ id: users.lastEventId })
    .prepare();
  const insert = db
    .insert(events)
    .values({
      userId: p('userId'),
      id: p('id'),
      chatId: p('chatId'),
      type: p('type'),
      at: p('at'),
      data: p('data'),
    })
    .prepare();
  const after = db
    .select()
    .from(events)
    .where(and(eq(events.userId, p('userId')), gt(events.id, p('afterId'))))
    .orderBy(asc(events.id))
    .limit(p('limit'))
    .prepare();
  const lastId = db
    .select({ id: users.lastEventId })
    .from(users)
    .where(eq(users.id, p('userId')))
    .prepare();

  /**
   * Records one event in the caller's transaction: the user's next id, the row, the
   * signal. Undefined when the user is gone (their events went with them).
   */
  function record(draft: RetainedEventDraft): StoredEvent | undefined {
    const row = nextId.get({ userId: draft.userId });
    if (!row) return undefined;
    const event: StoredEvent = {
      id: row.id,
      userId: draft.userId,
      chatId: draft.chatId,
      type: draft.type,
      at: draft.at,
      data: JSON.stringify(draft.data),
    };
    insert.run({ ...event });
    outbox.enqueueDeliveries(event);
    signalEvents(draft.userId);
    return event;
  }

  const store: EventStore = {
    async append(drafts) {
      return db.transaction(() => drafts.flatMap((draft) => record(draft) ?? []));
    },

    async listAfter(userId, afterId, limit) {
      return after.all({ userId, afterId, limit });
    },

    async lastId(userId) {
      return lastId.get({ userId })?.id;
    },

    async prune({ keepCount, keepSince }) {
      return db
        .delete(events)
        .where(
          and(
            lt(events.at, keepSince),
            sql`${events.id} <= (SELECT ${users.lastEventId} FROM ${users} WHERE ${users.id} = ${events.userId}) - ${keepCount}`,
          ),
        )
        .run().changes;
    },

    async listening() {
      // Every signal is this process's own: nothing to connect to.
    },

    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async close() {
      listeners.clear();
    },
  };

  const tickets: EventTicketStore = {
    async create(ticket) {
      db.insert(eventTickets).values(ticket).run();
    },

    async redeem(ticketHash, now) {
      const row = db.delete(eventTickets).where(eq(eventTickets.ticketHash, ticketHash)).returning().get();
      return row && row.expiresAt > now ? row.userId : undefined;
    },

    async purgeExpired(now) {
      return db.delete(eventTickets).where(lt(eventTickets.expiresAt, now)).run().changes;
    },
  };

  return { record, emit, store, tickets };
}

export type SqliteEventLog = ReturnType<typeof createSqliteEventLog>;
