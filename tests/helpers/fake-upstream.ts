import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The client's port: equal ports mean one reused connection. */
  remotePort: number | undefined;
  rawBody: string;
  /** The parsed JSON body (undefined when it was not JSON). */
  body: unknown;
}

export type UpstreamHandler = (request: RecordedRequest, res: ServerResponse) => void | Promise<void>;

/** Answers like You.com's chat API, echoing how many messages it received. */
export const defaultHandler: UpstreamHandler = (request, res) => {
  const messages = (request.body as { messages?: unknown[] } | undefined)?.messages ?? [];
  sendJson(res, 200, {
    answer: `answer #${messages.length}`,
    search_results: [{ url: 'https://example.com/a', name: 'Example', snippet: 'An example source' }],
  });
};

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * A real HTTP server on 127.0.0.1 standing in for the chatbot. It records every request;
 * tests choose how it answers, one handler for all requests or a queue of one-offs.
 * Created at once and listening after `start` (so a test file can hold it in a const and
 * start it in `beforeAll`: see `useFakeUpstream`); `url` and `port` exist once it listens.
 */
export function createFakeUpstream() {
  const requests: RecordedRequest[] = [];
  const queue: UpstreamHandler[] = [];
  let fallback: UpstreamHandler = defaultHandler;
  const sockets = new Set<Socket>();
  let listeningPort: number | undefined;

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      remotePort: req.socket.remotePort,
      rawBody,
      body,
    };
    requests.push(recorded);
    const handler = queue.shift() ?? fallback;
    await handler(recorded, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const port = (): number => {
    if (listeningPort === undefined) throw new Error('the fake upstream is not listening yet: start() it first');
    return listeningPort;
  };

  return {
    async start() {
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      listeningPort = (server.address() as AddressInfo).port;
    },
    get url() {
      return `http://127.0.0.1:${port()}/smart`;
    },
    get port() {
      return port();
    },
    requests,
    /** Messages of the n-th recorded request (0-based). */
    messagesOf(index: number): unknown {
      return (requests[index]?.body as { messages?: unknown } | undefined)?.messages;
    },
    /** How every later request is answered. */
    setHandler(handler: UpstreamHandler) {
      fallback = handler;
    },
    /** How the next request (then the one after...) is answered, before the fallback. */
    enqueue(...handlers: UpstreamHandler[]) {
      queue.push(...handlers);
    },
    reset() {
      requests.length = 0;
      queue.length = 0;
      fallback = defaultHandler;
    },
    openSockets: () => sockets.size,
    /** Stops it; nothing to do if it never started. */
    async close() {
      if (!server.listening) return;
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A fake upstream already listening (for one test, or several in one file: see `useFakeUpstream`). */
export async function startFakeUpstream(): Promise<FakeUpstream> {
  const upstream = createFakeUpstream();
  await upstream.start();
  return upstream;
}

export type FakeUpstream = ReturnType<typeof createFakeUpstream>;

/** Starts an SSE answer: status 200 and the event-stream content type. */
export function startSse(res: ServerResponse, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
}

/** Writes one SSE event (You.com style when `event` is given; OpenAI style `data:` only otherwise). */
export function writeSse(res: ServerResponse, data: unknown, event?: string): void {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  res.write(`${event ? `event: ${event}\n` : ''}data: ${text}\n\n`);
}
