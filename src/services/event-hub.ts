import { DomainError } from '../domain/errors.js';
import { eventJson, type EventType, type StoredEvent } from '../domain/events.js';
import type { EventSignal, EventStore, PairStore } from '../repositories/contract.js';

/** A frame for a listener: the event's JSON text, written once for every listener. */
export interface LiveEvent {
  /** The event's id; for `pair.token` and `resync`, the id of the latest retained event. */
  id: number;
  type: EventType | 'resync' | 'ready';
  /** `pair.token` is not in the log: a client resuming from its id does not expect it again. */
  retained: boolean;
  json: string;
  /** `json` as UTF-8, encoded once for every WebSocket it goes to (not once per socket). */
  readonly bytes: Buffer;
}

function liveEvent(fields: Omit<LiveEvent, 'bytes'>): LiveEvent {
  let bytes: Buffer | undefined;
  return {
    ...fields,
    get bytes() {
      bytes ??= Buffer.from(fields.json);
      return bytes;
    },
  };
}

export type ListenerCloseReason = 'slow_consumer' | 'shutdown';

/** Where a listener's frames go: an SSE response or a WebSocket. */
export interface ListenerSink {
  /** Queues a frame; never throws (a gone client is the transport's to notice). */
  write(event: LiveEvent): void;
  /** Bytes queued for this connection and not yet handed to the network. */
  bufferedBytes(): number;
  close(reason: ListenerCloseReason): void;
}

export interface EventHubOptions {
  /** Past this many bytes queued for one connection it is closed (it can resume from its last id). */
  maxBufferedBytes: number;
  /** Connections per user on this instance; one more is refused with 429. */
  maxListenersPerUser: number;
}

interface Listener {
  sink: ListenerSink;
  /** The last retained id this listener has been given. */
  cursor: number;
}

interface Channel {
  userId: string;
  listeners: Set<Listener>;
  /** Listeners being replayed to, not live yet (they count towards the bound). */
  joining: number;
  /** The last retained id read from the log and given to the listeners. */
  cursor: number;
  /** Everything a channel does runs in this order: replays, log reads, tokens. */
  queue: Promise<void>;
  /**
   * Streaming pairs of another instance, with how much of their text was relayed: their
   * tokens come here only as saved progress (PostgreSQL), and what is missing when the pair
   * completes is relayed before its `pair.completed`.
   */
  remote: Map<string, number>;
  /** A failed log read's retry, while one is scheduled. */
  retry?: NodeJS.Timeout | undefined;
}

const PAGE = 500;
/** How long after a failed log read it is tried again. */
const READ_RETRY_MS = 1_000;

/** Thrown past EventHubOptions.maxListenersPerUser. */
export const tooManyListeners = () =>
  new DomainError('TOO_MANY_LISTENERS', 429, 'This user has too many event streams open on this server', {
    retryAfterSeconds: 5,
  });

/** A frame of the stream itself, not of the log: `resync`, `ready`. */
function streamEvent(type: 'resync' | 'ready', lastId: number, at: Date): LiveEvent {
  return liveEvent({
    id: lastId,
    type,
    retained: false,
    json: JSON.stringify({ id: lastId, type, chat_id: null, at: at.toISOString(), data: { last_event_id: lastId } }),
  });
}
const resyncEvent = (lastId: number, at: Date) => streamEvent('resync', lastId, at);

/**
 * Fans a user's events out to their listeners on this instance. Per user, one channel reads
 * the log when a signal says it grew (one read for all of the user's connections) and hands
 * every listener each event once, in id order; a listener joining with a last id is given
 * what it missed first, inside the same queue, so nothing is lost or repeated between the
 * replay and the live events. A slow listener only fills its own buffer, and is closed when
 * that passes the bound: nothing here ever waits for a client.
 */
export function createEventHub(deps: {
  events: EventStore;
  pairs: Pick<PairStore, 'progressOf'>;
  options: EventHubOptions;
  onError?: (error: unknown) => void;
}) {
  const { events, options } = deps;
  const channels = new Map<string, Channel>();
  /**
   * Pairs this instance streams: their tokens are published here, not relayed from saved
   * progress. A pair stays here until its user's queue has gone past its end, so its
   * `pair.started` is always read while it counts as local, however late the read.
   */
  const localPairs = new Set<string>();
  const isLocal = (pairId: string) => localPairs.has(pairId);
  let closed = false;

  function deliver(channel: Channel, event: LiveEvent): void {
    for (const listener of channel.listeners) {
      if (event.retained) {
        if (event.id <= listener.cursor) continue;
        listener.cursor = event.id;
      }
      listener.sink.write(event);
      if (listener.sink.bufferedBytes() > options.maxBufferedBytes) {
        channel.listeners.delete(listener);
        listener.sink.close('slow_consumer');
      }
    }
  }

  const liveEventOf = (stored: StoredEvent): LiveEvent =>
    liveEvent({ id: stored.id, type: stored.type, retained: true, json: eventJson(stored) });

  function tokenEvent(channel: Channel, chatId: string, pairId: string, text: string): LiveEvent {
    const data = JSON.stringify({ qa_pair_id: pairId, text });
    return liveEvent({
      id: channel.cursor,
      type: 'pair.token',
      retained: false,
      json: eventJson({ id: channel.cursor, type: 'pair.token', chatId, at: new Date(), data }),
    });
  }

  /** Notes the other instances' streaming pairs, and completes their relayed text. */
  function followRemote(channel: Channel, stored: StoredEvent): void {
    if (stored.type !== 'pair.started' && stored.type !== 'pair.completed') return;
    const data = JSON.parse(stored.data) as { qa_pair: { id: string; status: string; answer: string | null } };
    const pair = data.qa_pair;
    if (isLocal(pair.id)) return;
    if (stored.type === 'pair.started') {
      if (pair.status === 'streaming') channel.remote.set(pair.id, 0);
      return;
    }
    const relayed = channel.remote.get(pair.id);
    if (relayed === undefined) return;
    channel.remote.delete(pair.id);
    const answer = pair.answer ?? '';
    if (answer.length > relayed) deliver(channel, tokenEvent(channel, stored.chatId, pair.id, answer.slice(relayed)));
  }

  /** Reads what the log has past the channel's cursor and hands it out. */
  async function readLog(channel: Channel): Promise<void> {
    for (;;) {
      const page = await events.listAfter(channel.userId, channel.cursor, PAGE);
      for (const stored of page) {
        followRemote(channel, stored);
        channel.cursor = stored.id;
        deliver(channel, liveEventOf(stored));
      }
      if (page.length < PAGE) return;
    }
  }

  async function relayProgress(channel: Channel, chatId: string, pairId: string): Promise<void> {
    const relayed = channel.remote.get(pairId);
    if (relayed === undefined) return;
    const text = (await deps.pairs.progressOf(pairId)) ?? '';
    if (text.length <= relayed) return;
    channel.remote.set(pairId, text.length);
    deliver(channel, tokenEvent(channel, chatId, pairId, text.slice(relayed)));
  }

  function enqueue(channel: Channel, work: () => Promise<void> | void): Promise<void> {
    const run = channel.queue.then(work).catch((error: unknown) => deps.onError?.(error));
    channel.queue = run;
    return run;
  }

  /**
   * Reads the log for a channel; a failed read (the database away for a moment) is tried
   * again a second later, so listeners are never left behind until the next signal.
   */
  function readSoon(channel: Channel): void {
    void enqueue(channel, async () => {
      try {
        await readLog(channel);
      } catch (error) {
        deps.onError?.(error);
        if (channel.retry === undefined) {
          channel.retry = setTimeout(() => {
            channel.retry = undefined;
            if (channels.get(channel.userId) === channel) readSoon(channel);
          }, READ_RETRY_MS);
          channel.retry.unref();
        }
      }
    });
  }

  const unsubscribe = events.subscribe((signal: EventSignal) => {
    if (signal.kind === 'reconnected') {
      for (const channel of channels.values()) readSoon(channel);
      return;
    }
    const channel = channels.get(signal.userId);
    if (!channel) return;
    if (signal.kind === 'events') readSoon(channel);
    else void enqueue(channel, () => relayProgress(channel, signal.chatId, signal.pairId));
  });

  function forget(channel: Channel): void {
    if (channel.listeners.size + channel.joining === 0 && channels.get(channel.userId) === channel) {
      channels.delete(channel.userId);
      clearTimeout(channel.retry);
    }
  }

  /**
   * Writes what `sink` missed after `afterId` up to the channel's cursor, straight from the
   * log; a `resync` instead of what the log no longer holds.
   */
  async function replay(channel: Channel, afterId: number, sink: ListenerSink): Promise<'replayed' | 'closed'> {
    let cursor = afterId;
    while (cursor < channel.cursor) {
      const page = await events.listAfter(channel.userId, cursor, PAGE);
      if (page[0]?.id !== cursor + 1) {
        sink.write(resyncEvent(channel.cursor, new Date()));
        return 'replayed';
      }
      for (const stored of page) {
        if (stored.id > channel.cursor) return 'replayed';
        sink.write(liveEventOf(stored));
        cursor = stored.id;
        // A client that does not read its replay is bounded like a live one: it can
        // resume from the last id it did read.
        if (sink.bufferedBytes() > options.maxBufferedBytes) {
          sink.close('slow_consumer');
          return 'closed';
        }
      }
      if (page.length < PAGE) return 'replayed';
    }
    return 'replayed';
  }

  return {
    /**
     * Starts relaying `userId`'s events to `sink`: from the live moment on, or first
     * everything after `afterId` (a `resync` event instead, when the log no longer holds
     * what follows it). Resolves once the listener is live; the returned function detaches it.
     */
    async listen(userId: string, afterId: number | undefined, sink: ListenerSink): Promise<() => void> {
      if (closed) throw new DomainError('SHUTTING_DOWN', 503, 'The server is shutting down');
      // Other instances' signals must be arriving before the listener counts as live.
      await events.listening();
      let channel = channels.get(userId);
      if (channel && channel.listeners.size + channel.joining >= options.maxListenersPerUser) throw tooManyListeners();
      if (!channel) {
        const created: Channel = {
          userId,
          listeners: new Set(),
          joining: 0,
          cursor: 0,
          queue: Promise.resolve(),
          remote: new Map(),
        };
        const start = events.lastId(userId).then((id) => {
          created.cursor = id ?? 0;
        });
        created.queue = start.catch(() => undefined);
        channels.set(userId, created);
        channel = created;
        try {
          await start;
        } catch (error) {
          channels.delete(userId);
          throw error;
        }
      }
      const joined = channel;
      const listener: Listener = { sink, cursor: 0 };
      // A place is held while the replay runs, so the bound holds under a burst of connections.
      joined.joining += 1;
      let failure: unknown;
      await enqueue(joined, async () => {
        try {
          // Its channel failed to start (the user's last id could not be read).
          if (channels.get(userId) !== joined) throw new Error('the event stream could not start');
          // Past what this instance has read: its signal may just not have come yet (a
          // client moving over from another instance), so the log is read first.
          if (afterId !== undefined && afterId > joined.cursor) await readLog(joined);
          if (afterId === undefined || afterId === joined.cursor) {
            listener.cursor = joined.cursor;
          } else if (afterId > joined.cursor) {
            // An id this log never gave (another database, or a client's mistake).
            listener.cursor = joined.cursor;
            sink.write(resyncEvent(joined.cursor, new Date()));
          } else {
            if ((await replay(joined, afterId, sink)) === 'closed') return;
            listener.cursor = joined.cursor;
          }
          if (closed) {
            sink.close('shutdown');
            return;
          }
          // Live from here on: what the stream starts at.
          sink.write(streamEvent('ready', joined.cursor, new Date()));
          joined.listeners.add(listener);
        } catch (error) {
          failure = error;
        }
      });
      joined.joining -= 1;
      if (failure !== undefined) {
        forget(joined);
        throw failure;
      }
      if (!joined.listeners.has(listener)) {
        // Closed while it joined (too slow for its replay, or the server stopping).
        forget(joined);
        return () => undefined;
      }
      return () => {
        joined.listeners.delete(listener);
        forget(joined);
      };
    },

    /** Whether one more listener of `userId` fits the per-user bound now. */
    hasRoomFor(userId: string): boolean {
      const channel = channels.get(userId);
      return !channel || channel.listeners.size + channel.joining < options.maxListenersPerUser;
    },

    /**
     * Something of the user's was committed by this instance: read their log now, before
     * whatever is published next (an answer's first token must follow its `pair.started`,
     * whichever way the signal travels).
     */
    poke(userId: string): void {
      const channel = channels.get(userId);
      if (channel) readSoon(channel);
    },

    /** An answer this instance streams has begun (before its first token is published). */
    startLocal(pairId: string): void {
      localPairs.add(pairId);
    },

    /** It has ended: forgotten once everything queued for its user before now has run. */
    endLocal(userId: string, pairId: string): void {
      const channel = channels.get(userId);
      if (channel) void enqueue(channel, () => void localPairs.delete(pairId));
      else localPairs.delete(pairId);
    },

    /** Relays a token of an answer this instance is streaming, after everything queued before it. */
    publishToken(userId: string, chatId: string, pairId: string, text: string): void {
      const channel = channels.get(userId);
      if (channel) void enqueue(channel, () => deliver(channel, tokenEvent(channel, chatId, pairId, text)));
    },

    /** Listeners on this instance, for metrics. */
    get listenerCount(): number {
      let count = 0;
      for (const channel of channels.values()) count += channel.listeners.size;
      return count;
    },

    /** Closes every listener (they resume on another instance) and stops listening for signals. */
    close(): void {
      closed = true;
      unsubscribe();
      for (const channel of channels.values()) {
        for (const listener of channel.listeners) listener.sink.close('shutdown');
        channel.listeners.clear();
      }
      channels.clear();
    },
  };
}

export type EventHub = ReturnType<typeof createEventHub>;
