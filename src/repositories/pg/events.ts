import { and, asc, eq, gt, lt, sql } from 'drizzle-orm';
import type pg from 'pg';
import type { PgDb } from '../../db/pg/client.js';
import { events, eventTickets, users, webhookDeliveries, webhooks } from '../../db/pg/schema.js';
import { eventJsonAfterId, type RetainedEventDraft, type StoredEvent } from '../../domain/events.js';
import type { EventSignal, EventStore, EventTicketStore } from '../contract.js';
import type { Runner, Tx } from './shared.js';

/**
 * The event log on PostgreSQL, shared by every instance. A transaction that records an
 * event also NOTIFYs its user's id on one channel; PostgreSQL delivers notifications only
 * when (and if) that transaction commits, in commit order, to every instance's listening
 * connection. The payload is only ids (never the event: NOTIFY is capped at 8,000 bytes);
 * listeners read the events from the log.
 */
export const EVENTS_CHANNEL = 'chat_events';

type SignalPayload = { u: string } | { u: string; c: string; p: string };

function parseSignal(payload: string | undefined): EventSignal | undefined {
  if (payload === undefined) return undefined;
  try {
    const parsed = JSON.parse(payload) as Partial<{ u: string; c: string; p: string }>;
    if (typeof parsed.u !== 'string') return undefined;
    if (typeof parsed.p === 'string' && typeof parsed.c === 'string') {
      return { kind: 'progress', userId: parsed.u, chatId: parsed.c, pairId: parsed.p };
    }
    return { kind: 'events', userId: parsed.u };
  } catch {
    return undefined;
  }
}

const payloadOf = (signal: SignalPayload) => JSON.stringify(signal);

/**
 * Records one event in `tx`: the user's next id (their row is already locked by the
 * change's version bump, which orders ids by commit), the row and the notification, in one
 * statement. Undefined when the user is gone.
 */
export async function recordEvent(tx: Tx, draft: RetainedEventDraft): Promise<StoredEvent | undefined> {
  const data = JSON.stringify(draft.data);
  const result = await tx.execute<{ id: string }>(sql`
    WITH next AS (
      UPDATE ${users} SET last_event_id = last_event_id + 1 WHERE id = ${draft.userId} RETURNING last_event_id AS id
    ),
    inserted AS (
      INSERT INTO ${events} (user_id, id, chat_id, type, at, data)
      SELECT ${draft.userId}, id, ${draft.chatId}, ${draft.type}, ${draft.at.toISOString()}::timestamptz, ${data}
      FROM next RETURNING id
    ),
    -- The outbox: a delivery per webhook of the user subscribed to this type.
    outbox AS (
      INSERT INTO ${webhookDeliveries}
        (webhook_id, event_id, user_id, event_type, payload, status, attempts, next_attempt_at, created_at)
      SELECT w.id, inserted.id, ${draft.userId}, ${draft.type}, '{"id":' || inserted.id || ${eventJsonAfterId({ ...draft, data })},
        'pending', 0, now(), now()
      FROM ${webhooks} w, inserted
      WHERE w.user_id = ${draft.userId}
        AND (w.event_types @> jsonb_build_array(${draft.type}::text) OR w.event_types @> '["*"]'::jsonb)
    )
    SELECT id, pg_notify(${EVENTS_CHANNEL}, ${payloadOf({ u: draft.userId })}) FROM inserted`);
  const row = result.rows[0];
  if (!row) return undefined;
  return { id: Number(row.id), userId: draft.userId, chatId: draft.chatId, type: draft.type, at: draft.at, data };
}

/** Tells every instance that a streaming answer saved its text so far. */
export async function notifyProgress(runner: Runner, signal: { userId: string; chatId: string; pairId: string }) {
  await runner.execute(
    sql`SELECT pg_notify(${EVENTS_CHANNEL}, ${payloadOf({ u: signal.userId, c: signal.chatId, p: signal.pairId })})`,
  );
}

/** How long the listener waits before connecting again after losing its connection. */
const RECONNECT_DELAYS_MS = [100, 500, 1_000, 2_000, 5_000];

export function createPgEventLog(db: PgDb, options: { createClient: () => pg.Client }) {
  const listeners = new Set<(signal: EventSignal) => void>();
  let client: pg.Client | undefined;
  let connecting: Promise<void> | undefined;
  let closed = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;

  const emit = (signal: EventSignal) => {
    for (const listener of listeners) listener(signal);
  };

  /**
   * One connection LISTENs for the whole instance. When it is lost, it is made again, and
   * listeners are told to read their logs again (notifications sent meanwhile are lost
   * with the connection, the events are not).
   */
  function listen(): Promise<void> {
    if (closed || client || connecting) return connecting ?? Promise.resolve();
    const next = options.createClient();
    const lost = () => {
      if (client !== next) return;
      client = undefined;
      next.removeAllListeners('notification');
      void next.end().catch(() => undefined);
      if (closed) return;
      const delay = RECONNECT_DELAYS_MS[Math.min(failures, RECONNECT_DELAYS_MS.length - 1)];
      failures += 1;
      retry = setTimeout(() => void listen().catch(() => undefined), delay);
      retry.unref();
    };
    next.on('error', lost);
    next.on('end', lost);
    next.on('notification', (message) => {
      if (message.channel !== EVENTS_CHANNEL) return;
      const signal = parseSignal(message.payload);
      if (signal) emit(signal);
    });
    connecting = (async () => {
      try {
        await next.connect();
        await next.query(`LISTEN ${EVENTS_CHANNEL}`);
        client = next;
        const reconnected = failures > 0;
        failures = 0;
        if (reconnected) emit({ kind: 'reconnected' });
      } catch (error) {
        client = next;
        lost();
        throw error;
      } finally {
        connecting = undefined;
      }
    })();
    return connecting;
  }

  const after = db
    .select()
    .from(events)
    .where(and(eq(events.userId, sql.placeholder('userId')), gt(events.id, sql.placeholder('afterId'))))
    .orderBy(asc(events.id))
    .limit(sql.placeholder('limit'))
    .prepare('events_after');

  const store: EventStore = {
    listening: listen,

    async append(drafts) {
      if (drafts.length === 0) return [];
      return db.transaction(async (tx) => {
        const recorded: StoredEvent[] = [];
        for (const draft of drafts) {
          const event = await recordEvent(tx, draft);
          if (event) recorded.push(event);
        }
        return recorded;
      });
    },

    async listAfter(userId, afterId, limit) {
      return after.execute({ userId, afterId, limit });
    },

    async lastId(userId) {
      const [row] = await db.select({ id: users.lastEventId }).from(users).where(eq(users.id, userId));
      return row?.id;
    },

    async prune({ keepCount, keepSince }) {
      const deleted = await db
        .delete(events)
        .where(
          and(
            lt(events.at, keepSince),
            sql`${events.id} <= (SELECT ${users.lastEventId} FROM ${users} WHERE ${users.id} = ${events.userId}) - ${keepCount}`,
          ),
        )
        .returning({ id: events.id });
      return deleted.length;
    },

    subscribe(listener) {
      listeners.add(listener);
      // The first listener opens the instance's listening connection; a failure to connect
      // is retried in the background.
      void listen().catch(() => undefined);
      return () => listeners.delete(listener);
    },

    async close() {
      closed = true;
      clearTimeout(retry);
      listeners.clear();
      const open = client;
      client = undefined;
      if (open) await open.end().catch(() => undefined);
    },
  };

  const tickets: EventTicketStore = {
    async create(ticket) {
      await db.insert(eventTickets).values(ticket);
    },

    async redeem(ticketHash, now) {
      const [row] = await db.delete(eventTickets).where(eq(eventTickets.ticketHash, ticketHash)).returning();
      return row && row.expiresAt > now ? row.userId : undefined;
    },

    async purgeExpired(now) {
      const deleted = await db
        .delete(eventTickets)
        .where(lt(eventTickets.expiresAt, now))
        .returning({ hash: eventTickets.ticketHash });
      return deleted.length;
    },
  };

  return { store, tickets };
}
