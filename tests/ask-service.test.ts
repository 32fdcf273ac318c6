import { describe, expect, it } from 'vitest';
import { DomainError } from '../src/domain/errors.js';
import type { QaPairRow } from '../src/domain/types.js';
import { toAskResponse } from '../src/schemas/chats.js';
import type { Actor } from '../src/services/access.js';
import { createAskService, type AskEvent, type AskRequest } from '../src/services/ask.js';
import type { AskOptions, AskResult, ConversationService } from '../src/services/conversation.js';
import type { IdempotencyService, RecordedResponse } from '../src/services/idempotency.js';

// The ask service's decisions, with the conversation and the idempotency store replaced by
// scripted stand-ins: what streams and what is JSON, what is recorded for a key, and how a
// failure before and after the stream's start reaches the client.

const actor: Actor = { kind: 'user', userId: 'user-1' };
const pair: QaPairRow = {
  id: 'pair-1',
  chatId: 'chat-1',
  userId: 'user-1',
  parentId: null,
  seq: 1,
  question: 'Two days in Lisbon?',
  answer: 'Alfama, then Belém.',
  searchResults: [],
  status: 'answered',
  errorCode: null,
  errorMessage: null,
  provider: 'you',
  model: null,
  upstreamRequestId: null,
  historyTurns: 0,
  latencyMs: 10,
  createdAt: new Date(Date.UTC(2025, 4, 1, 9)),
  answeredAt: new Date(Date.UTC(2025, 4, 1, 9, 0, 1)),
  rendered: null,
  renderedNode: null,
};
const result: AskResult = { chatId: 'chat-1', branchId: 'branch-1', pair };
const upstreamFailure = () =>
  new DomainError('UPSTREAM_RATE_LIMITED', 503, 'The chatbot is rate limiting this service; try again later', {
    qaPairId: 'pair-1',
    retryAfterSeconds: 7,
  });

type Script = (options: AskOptions) => Promise<AskResult>;

/** A conversation that runs `script` for every ask, recording the options each ask got. */
function conversationOf(script: Script) {
  const calls: AskOptions[] = [];
  const conversation: Pick<ConversationService, 'ask'> = {
    ask: (_actor, _input, options = {}) => {
      calls.push(options);
      return script(options);
    },
  };
  return { conversation, calls };
}

/** Streams a start, a token and the answer, as the conversation does. */
const streamsAnswer: Script = async ({ stream }) => {
  stream?.onStart({ chatId: 'chat-1', branchId: 'branch-1', pair: { ...pair, status: 'streaming', answer: null } });
  stream?.onEvent({ type: 'token', text: 'Alfama' });
  return result;
};

/** An idempotency store that runs the work for a new key and replays `recorded` for a known one. */
function idempotencyOf(recorded?: RecordedResponse) {
  const completed: RecordedResponse[] = [];
  const idempotency: Pick<IdempotencyService, 'run'> = {
    run: async (_actor, _claim, work) => {
      if (recorded) return { response: recorded, replayed: true };
      const response = await work();
      completed.push(response);
      return { response, replayed: false };
    },
  };
  return { idempotency, completed };
}

/** Opens streams that keep what they were sent. */
function streams() {
  const opened: { replayed: boolean; events: AskEvent[]; failures: unknown[] }[] = [];
  const open = (replayed: boolean) => {
    const stream = { replayed, events: [] as AskEvent[], failures: [] as unknown[] };
    opened.push(stream);
    return {
      send: (event: AskEvent) => void stream.events.push(event),
      failed: (error: unknown) => void stream.failures.push(error),
      flush: () => Promise.resolve(),
    };
  };
  return { opened, open };
}

const request = (fields: Partial<AskRequest> = {}): AskRequest => ({
  input: { userId: 'user-1', question: 'Two days in Lisbon?' },
  stream: undefined,
  acceptsEventStream: false,
  ...fields,
});

describe('ask service: JSON or a stream', () => {
  it.each([
    { stream: true, acceptsEventStream: false, streamed: true },
    { stream: undefined, acceptsEventStream: true, streamed: true },
    { stream: false, acceptsEventStream: true, streamed: false },
    { stream: undefined, acceptsEventStream: false, streamed: false },
  ])('streams for stream=$stream and Accept text/event-stream=$acceptsEventStream: $streamed', async (choice) => {
    const { conversation } = conversationOf(streamsAnswer);
    const { opened, open } = streams();
    const ask = createAskService({ conversation, idempotency: idempotencyOf().idempotency });
    const outcome = await ask.respond(actor, request(choice), open);
    if (choice.streamed) {
      expect(outcome).toEqual({ kind: 'streamed' });
      expect(opened.map((stream) => stream.events.map((event) => event.event))).toEqual([['start', 'token', 'done']]);
    } else {
      expect(outcome).toEqual({ kind: 'json', statusCode: 200, body: toAskResponse(result), replayed: false });
      expect(opened).toEqual([]);
    }
  });

  it('lets the client leaving cancel only a plain ask without a key', async () => {
    const signal = new AbortController().signal;
    const { conversation, calls } = conversationOf(streamsAnswer);
    const ask = createAskService({ conversation, idempotency: idempotencyOf().idempotency });
    await ask.respond(actor, request({ signal }), streams().open);
    await ask.respond(actor, request({ signal, stream: true }), streams().open);
    await ask.respond(actor, request({ signal, idempotency: { key: 'k', body: {} } }), streams().open);
    expect(calls.map((options) => options.signal)).toEqual([signal, undefined, undefined]);
  });
});

describe('ask service: failures', () => {
  it('throws a failure from before the stream started, having sent nothing', async () => {
    const refused = new DomainError('CHAT_NOT_FOUND', 404, 'Chat not found');
    const { conversation } = conversationOf(() => Promise.reject(refused));
    const { opened, open } = streams();
    const ask = createAskService({ conversation, idempotency: idempotencyOf().idempotency });
    await expect(ask.respond(actor, request({ stream: true }), open)).rejects.toBe(refused);
    expect(opened.flatMap((stream) => stream.events)).toEqual([]);
  });

  it('tells a failure after the start as an error event, and records that event for the key', async () => {
    const failure = upstreamFailure();
    const { conversation } = conversationOf(async (options) => {
      await streamsAnswer(options);
      throw failure;
    });
    const { idempotency, completed } = idempotencyOf();
    const { opened, open } = streams();
    const ask = createAskService({ conversation, idempotency });
    const outcome = await ask.respond(actor, request({ stream: true, idempotency: { key: 'k', body: {} } }), open);
    expect(outcome).toEqual({ kind: 'streamed' });
    const [stream] = opened;
    const body = {
      statusCode: 503,
      code: 'UPSTREAM_RATE_LIMITED',
      error: 'Service Unavailable',
      message: 'The chatbot is rate limiting this service; try again later',
      qa_pair_id: 'pair-1',
    };
    expect(stream?.events.at(-1)).toEqual({ event: 'error', data: body });
    expect(stream?.failures).toEqual([failure]);
    expect(completed).toEqual([{ statusCode: 503, body }]);
  });

  it('tells an unexpected failure after the start without its message', async () => {
    const { conversation } = conversationOf(async (options) => {
      await streamsAnswer(options);
      throw new Error('connection string postgres://secret');
    });
    const { opened, open } = streams();
    const ask = createAskService({ conversation, idempotency: idempotencyOf().idempotency });
    await ask.respond(actor, request({ stream: true }), open);
    expect(opened[0]?.events.at(-1)).toEqual({
      event: 'error',
      data: {
        statusCode: 500,
        code: 'INTERNAL_ERROR',
        error: 'Internal Server Error',
        message: 'Internal server error',
      },
    });
  });

  it('records a failure stored on its pair for the key, with its Retry-After', async () => {
    const { conversation } = conversationOf(() => Promise.reject(upstreamFailure()));
    const { idempotency, completed } = idempotencyOf();
    const ask = createAskService({ conversation, idempotency });
    const outcome = await ask.respond(actor, request({ idempotency: { key: 'k', body: {} } }), streams().open);
    expect(outcome).toMatchObject({ kind: 'json', statusCode: 503, replayed: false, retryAfterSeconds: 7 });
    expect(completed).toHaveLength(1);
  });

  it('throws, recording nothing, a failure that stored no pair: a retry with the key runs again', async () => {
    const refused = new DomainError('CHAT_BUSY', 429, 'Too many questions are waiting in this chat', {
      retryAfterSeconds: 5,
    });
    const { conversation } = conversationOf(() => Promise.reject(refused));
    const { idempotency, completed } = idempotencyOf();
    const ask = createAskService({ conversation, idempotency });
    await expect(ask.respond(actor, request({ idempotency: { key: 'k', body: {} } }), streams().open)).rejects.toBe(
      refused,
    );
    expect(completed).toEqual([]);
  });
});

describe('ask service: replays', () => {
  it.each([
    { statusCode: 200, body: toAskResponse(result), event: 'done' },
    { statusCode: 503, body: { statusCode: 503, code: 'UPSTREAM_RATE_LIMITED' }, event: 'error' },
  ])('replays a recorded $statusCode to a stream as one $event event, without asking', async (recorded) => {
    const { conversation, calls } = conversationOf(streamsAnswer);
    const { opened, open } = streams();
    const ask = createAskService({ conversation, idempotency: idempotencyOf(recorded).idempotency });
    const outcome = await ask.respond(actor, request({ stream: true, idempotency: { key: 'k', body: {} } }), open);
    expect(outcome).toEqual({ kind: 'streamed' });
    expect(opened).toEqual([
      { replayed: true, events: [{ event: recorded.event, data: recorded.body }], failures: [] },
    ]);
    expect(calls).toEqual([]);
  });

  it('replays a recorded answer as JSON, saying it is a replay', async () => {
    const recorded = { statusCode: 200, body: toAskResponse(result) };
    const { conversation } = conversationOf(streamsAnswer);
    const ask = createAskService({ conversation, idempotency: idempotencyOf(recorded).idempotency });
    const outcome = await ask.respond(actor, request({ idempotency: { key: 'k', body: {} } }), streams().open);
    expect(outcome).toEqual({ kind: 'json', statusCode: 200, body: recorded.body, replayed: true });
  });
});
