import { createParser } from 'eventsource-parser';

export interface ReceivedEvent {
  event: string;
  data: unknown;
}

/**
 * A real SSE client over fetch: events are handed out as they arrive, so a test can act
 * between two events (hold the upstream back, disconnect mid-answer).
 */
export async function openEventStream(
  url: string,
  init: { headers: Record<string, string>; body?: unknown; method?: 'GET' | 'POST' },
) {
  const controller = new AbortController();
  const response = await fetch(
    url,
    init.method === 'GET'
      ? { headers: { accept: 'text/event-stream', ...init.headers }, signal: controller.signal }
      : {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...init.headers },
          body: JSON.stringify(init.body),
          signal: controller.signal,
        },
  );
  const received: ReceivedEvent[] = [];
  const waiters: (() => void)[] = [];
  let ended = false;
  const parser = createParser({
    onEvent(message) {
      received.push({ event: message.event ?? 'message', data: JSON.parse(message.data) as unknown });
      waiters.splice(0).forEach((wake) => wake());
    },
  });
  const pump = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
    } catch {
      // Aborted by the test.
    } finally {
      ended = true;
      waiters.splice(0).forEach((wake) => wake());
    }
  })();

  let cursor = 0;
  return {
    response,
    received,
    /** The next event not yet taken; undefined once the stream has ended. */
    async next(): Promise<ReceivedEvent | undefined> {
      while (cursor >= received.length && !ended) await new Promise<void>((resolve) => waiters.push(resolve));
      return received[cursor++];
    },
    /** Every remaining event, until the server ends the stream. */
    async rest(): Promise<ReceivedEvent[]> {
      await pump;
      const remaining = received.slice(cursor);
      cursor = received.length;
      return remaining;
    },
    disconnect() {
      controller.abort();
    },
  };
}

/** A promise with its resolve function, for holding a fake upstream back until a test says so. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
