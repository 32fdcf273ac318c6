import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { ApiClient } from './client.js';
import { ApiError, isErrorBody } from './errors.js';
import type { AskBody, AskResponse, SearchResult } from './types.js';

/** What the streaming ask reports, in order (the events of POST /search with `stream: true`). */
export type AskEvent =
  | { type: 'start'; chatId: string; qaPairId: string }
  | { type: 'search_results'; searchResults: SearchResult[] }
  | { type: 'token'; text: string }
  | { type: 'done'; result: AskResponse };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** One SSE event as an AskEvent; an `error` event is thrown. Unknown events are skipped. */
function toAskEvent(event: string | undefined, data: string): AskEvent | undefined {
  const body: unknown = JSON.parse(data);
  if (!isRecord(body)) return undefined;
  switch (event) {
    case 'start':
      return typeof body.chat_id === 'string' && typeof body.qa_pair_id === 'string'
        ? { type: 'start', chatId: body.chat_id, qaPairId: body.qa_pair_id }
        : undefined;
    case 'search_results':
      return Array.isArray(body.search_results)
        ? { type: 'search_results', searchResults: body.search_results as SearchResult[] }
        : undefined;
    case 'token':
      return typeof body.text === 'string' ? { type: 'token', text: body.text } : undefined;
    case 'done':
      return isRecord(body.qa_pair) ? { type: 'done', result: body as unknown as AskResponse } : undefined;
    case 'error':
      throw ApiError.from(isErrorBody(body) ? body.statusCode : 0, body);
    default:
      return undefined;
  }
}

/**
 * Asks with the answer streamed as Server-Sent Events, through the typed client (fetch, so
 * the key travels in the Authorization header: EventSource could not send it). Calls
 * `onEvent` as each event arrives; resolves with the stored pair once `done` came, and
 * throws an ApiError for an error answered as JSON (before the question was stored) or as
 * an `error` event (the pair is then stored as failed: `qaPairId` names it).
 */
export async function askStreaming(
  client: ApiClient,
  body: Omit<AskBody, 'stream'>,
  onEvent: (event: AskEvent) => void,
  signal?: AbortSignal,
): Promise<AskResponse> {
  const result = await client.POST('/search', {
    body: { ...body, stream: true },
    headers: { accept: 'text/event-stream' },
    parseAs: 'stream',
    ...(signal ? { signal } : {}),
  });
  return readAskStream(result, onEvent);
}

/** Where a pair is: the path of the reattach route. */
export interface PairLocation {
  userId: string;
  chatId: string;
  pairId: string;
}

/**
 * Follows a pair still being answered (here or in another tab, device or instance) through
 * the reattach route: the same events as its ask stream (`start`, the text so far as one
 * `token`, every later token, then `done`), or a final pair's `done` at once. Resolves and
 * throws as askStreaming does.
 */
export async function reattachStreaming(
  client: ApiClient,
  where: PairLocation,
  onEvent: (event: AskEvent) => void,
  signal?: AbortSignal,
): Promise<AskResponse> {
  const result = await client.GET('/v1/users/{user_id}/chats/{chat_id}/qa_pairs/{qa_pair_id}/stream', {
    params: { path: { user_id: where.userId, chat_id: where.chatId, qa_pair_id: where.pairId } },
    headers: { accept: 'text/event-stream' },
    parseAs: 'stream',
    ...(signal ? { signal } : {}),
  });
  return readAskStream(result, onEvent);
}

/** Reads an answer's SSE stream (or the JSON error answered instead) into AskEvents. */
async function readAskStream(
  { data, error, response }: { data?: Response['body']; error?: unknown; response: Response },
  onEvent: (event: AskEvent) => void,
): Promise<AskResponse> {
  if (!response.ok || !data) {
    // parseAs: 'stream' leaves an error body unread; openapi-fetch hands it over as text or JSON.
    let parsed: unknown = error;
    if (typeof error === 'string') {
      try {
        parsed = JSON.parse(error);
      } catch {
        parsed = undefined;
      }
    }
    throw ApiError.from(response.status, parsed);
  }
  const events = data.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  let done: AskResponse | undefined;
  for await (const message of streamIterator(events)) {
    const event = toAskEvent(message.event, message.data);
    if (!event) continue;
    if (event.type === 'done') done = event.result;
    onEvent(event);
  }
  if (!done) throw new ApiError(0, 'STREAM_ENDED', 'The answer stopped before it was complete');
  return done;
}

/** A ReadableStream as an async iterable (not every browser iterates streams natively yet). */
async function* streamIterator<T>(stream: ReadableStream<T>): AsyncGenerator<T> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
