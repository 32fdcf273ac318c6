import type { FastifyReply } from 'fastify';

/**
 * An AbortSignal that fires when the client goes away before the response is written.
 *
 * Not `request.signal`: Fastify ties that to the request stream's 'close' event, which
 * Node emits as soon as a POST body has been read, so it aborts every ask at once.
 * The response stream closing before it finished is the real "client disconnected".
 */
export function clientDisconnectSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const response = reply.raw;
  response.once('close', () => {
    if (!response.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return controller.signal;
}
