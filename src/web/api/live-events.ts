import type { ApiClient } from './client.js';
import { unwrap } from './client.js';
import { ApiError } from './errors.js';

/** One of the user's events, as the events route sends it over a WebSocket. */
export interface LiveEvent {
  id: number;
  type: string;
  /** null on the stream's own frames (`ready`, `resync`). */
  chat_id: string | null;
  at: string;
  data: Record<string, unknown>;
}

/** How the connection is doing: `live` once the server said `ready`. */
export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface LiveEventsOptions {
  client: ApiClient;
  userId: string;
  /** Every event of the log (and `pair.token`s), in id order. */
  onEvent: (event: LiveEvent) => void;
  /**
   * What is shown may be stale: the log no longer holds what was missed (`resync`), or the
   * stream started without a last id (the first connection: what loaded before it went live).
   */
  onResync: () => void;
  onStatus: (status: LiveStatus) => void;
}

/** Waits before reconnecting: 0.5 s, doubling up to 30 s, with jitter so tabs do not return in step. */
export const backoffMs = (attempt: number) => Math.min(30_000, 500 * 2 ** attempt) * (0.75 + Math.random() / 2);

/** Close codes after which trying again cannot help (4000 + an HTTP status: not yours, no such user). */
const FINAL_CLOSE_CODES = new Set([4401, 4403, 4404]);

function parseEvent(text: unknown): LiveEvent | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (
      typeof value === 'object' &&
      value !== null &&
      'id' in value &&
      typeof value.id === 'number' &&
      'type' in value &&
      typeof value.type === 'string' &&
      'data' in value &&
      typeof value.data === 'object' &&
      value.data !== null
    ) {
      return value as LiveEvent;
    }
  } catch {
    // Not JSON: not a frame of ours.
  }
  return undefined;
}

/**
 * Follows the user's events over a WebSocket until the returned function is called. The
 * socket opens with a single-use ticket (POST .../events/tickets, with the key in the
 * Authorization header): the key is never in a URL. When it closes (too slow: 4008, a
 * server restart: 1012, the network), it reconnects with a new ticket and `?after=` the last
 * kept event it saw, so nothing is missed or repeated; with backoff while that fails.
 */
export function connectLiveEvents(options: LiveEventsOptions): () => void {
  const { client, userId, onEvent, onResync, onStatus } = options;
  let stopped = false;
  let socket: WebSocket | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  /** The id of the last kept event seen (tokens carry the previous one's id). */
  let lastId: number | undefined;

  const retry = () => {
    if (stopped) return;
    onStatus('reconnecting');
    timer = setTimeout(() => void open(), backoffMs(attempt));
    attempt += 1;
  };

  const stop = (status: LiveStatus = 'stopped') => {
    stopped = true;
    clearTimeout(timer);
    socket?.close(1000);
    socket = undefined;
    onStatus(status);
  };

  async function open(): Promise<void> {
    let ticket: string;
    try {
      ticket = unwrap(
        await client.POST('/v1/users/{user_id}/events/tickets', { params: { path: { user_id: userId } } }),
      ).ticket;
    } catch (error) {
      // A refused key signs out elsewhere (GET /v1/users/me): nothing to retry.
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) stop();
      else retry();
      return;
    }
    if (stopped) return;
    const url = new URL(`/v1/users/${encodeURIComponent(userId)}/events`, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('ticket', ticket);
    const resumed = lastId !== undefined;
    if (lastId !== undefined) url.searchParams.set('after', String(lastId));
    const current = new WebSocket(url);
    socket = current;
    current.addEventListener('message', (message) => {
      if (stopped || socket !== current) return;
      const event = parseEvent(message.data);
      if (!event) return;
      if (event.type === 'ready') {
        attempt = 0;
        lastId = event.id;
        onStatus('live');
        if (!resumed) onResync();
        return;
      }
      if (event.type === 'resync') {
        lastId = event.id;
        onResync();
        return;
      }
      if (event.type !== 'pair.token') lastId = Math.max(lastId ?? 0, event.id);
      onEvent(event);
    });
    current.addEventListener('close', (closed) => {
      if (stopped || socket !== current) return;
      socket = undefined;
      if (FINAL_CLOSE_CODES.has(closed.code)) stop();
      else retry();
    });
  }

  onStatus('connecting');
  void open();
  return () => stop();
}
