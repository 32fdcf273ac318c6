import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ChatbotError } from './errors.js';
import type { UpstreamResponse } from './http.js';

/**
 * Reads an upstream Server-Sent Events body incrementally, handing each event to
 * `onMessage` as soon as its last line arrives. `onMessage` returns 'stop' once the
 * stream is logically over; a body that ends before that is a truncated answer.
 */
export async function readEventStream(
  response: UpstreamResponse,
  onMessage: (message: EventSourceMessage) => 'continue' | 'stop',
): Promise<void> {
  let stopped = false;
  let failure: unknown;
  const parser = createParser({
    onEvent(message) {
      if (stopped || failure !== undefined) return;
      try {
        stopped = onMessage(message) === 'stop';
      } catch (error) {
        failure = error;
      }
    },
  });
  for await (const chunk of response.chunks()) {
    parser.feed(chunk);
    if (failure !== undefined) throw failure;
    if (stopped) return;
  }
  throw new ChatbotError('bad_response', "The chatbot's stream ended before the answer was complete");
}

/** A text chunk from an event's data: a JSON string, an object with a text field, or raw text. */
export function textOf(data: string): string {
  try {
    const parsed: unknown = JSON.parse(data);
    if (typeof parsed === 'string') return parsed;
    if (typeof parsed === 'object' && parsed !== null) {
      for (const key of ['token', 'text', 'content'] as const) {
        const value = (parsed as Record<string, unknown>)[key];
        if (typeof value === 'string') return value;
      }
    }
  } catch {
    // Not JSON: the data is the text itself.
  }
  return data;
}
