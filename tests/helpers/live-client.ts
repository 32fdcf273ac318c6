import { createParser } from 'eventsource-parser';
import WebSocket from 'ws';

/** A frame of a user's event stream, as both transports carry it. */
export interface LiveFrame {
  id: number;
  type: string;
  chat_id: string | null;
  at: string;
  data: Record<string, unknown>;
}

/** Frames handed out in arrival order, with a wait for the next one (bounded by the test's timeout, never a clock). */
function frameQueue<T>() {
  const received: T[] = [];
  const waiters: (() => void)[] = [];
  let ended = false;
  let cursor = 0;
  const wake = () => waiters.splice(0).forEach((resolve) => resolve());
  return {
    received,
    push(frame: T) {
      received.push(frame);
      wake();
    },
    end() {
      ended = true;
      wake();
    },
    get ended() {
      return ended;
    },
    /** The next frame not yet taken; undefined once the stream has ended. */
    async next(): Promise<T | undefined> {
      while (cursor >= received.length && !ended) await new Promise<void>((resolve) => waiters.push(resolve));
      return received[cursor++];
    },
    /** Takes frames until one matches, returning every frame taken (the match last). */
    async until(match: (frame: T) => boolean): Promise<T[]> {
      const taken: T[] = [];
      for (;;) {
        const frame = await this.next();
        if (frame === undefined) throw new Error(`the stream ended before the frame awaited: ${JSON.stringify(taken)}`);
        taken.push(frame);
        if (match(frame)) return taken;
      }
    },
  };
}

/** A user's event stream over SSE (fetch), with the SSE id of every frame. */
export async function openSseEvents(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const queue = frameQueue<LiveFrame & { sseId: string | undefined; event: string | undefined }>();
  const parser = createParser({
    onEvent(message) {
      queue.push({ ...(JSON.parse(message.data) as LiveFrame), sseId: message.id, event: message.event });
    },
  });
  const pump = (async () => {
    if (!response.ok || !response.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
    } catch {
      // Aborted by the test, or cut by the server.
    } finally {
      queue.end();
    }
  })();
  if (!response.ok) queue.end();
  return {
    response,
    ...queue,
    next: queue.next.bind(queue),
    until: queue.until.bind(queue),
    /** Resolves when the server has ended the stream. */
    closed: pump,
    disconnect() {
      controller.abort();
    },
  };
}

/** A user's event stream over a WebSocket: JSON text frames, and how the server closed it. */
export async function openWsEvents(url: string, headers: Record<string, string> = {}) {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), { headers });
  const queue = frameQueue<LiveFrame>();
  let resolveClosed: (close: { code: number; reason: string }) => void = () => undefined;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    resolveClosed = resolve;
  });
  let rejection: { status: number } | undefined;
  socket.on('message', (data) => queue.push(JSON.parse(String(data)) as LiveFrame));
  socket.on('close', (code, reason) => {
    queue.end();
    resolveClosed({ code, reason: String(reason) });
  });
  socket.on('unexpected-response', (_request, response) => {
    rejection = { status: response.statusCode ?? 0 };
    queue.end();
    resolveClosed({ code: 0, reason: 'http' });
    socket.terminate();
  });
  socket.on('error', () => queue.end());
  await new Promise<void>((resolve) => {
    socket.once('open', () => resolve());
    socket.once('close', () => resolve());
    socket.once('unexpected-response', () => resolve());
    socket.once('error', () => resolve());
  });
  return {
    socket,
    ...queue,
    next: queue.next.bind(queue),
    until: queue.until.bind(queue),
    closed,
    /** The HTTP status the upgrade was refused with, if it was. */
    get rejectedWith() {
      return rejection?.status;
    },
    close() {
      socket.close();
    },
  };
}

export const isReady = (frame: LiveFrame) => frame.type === 'ready';
