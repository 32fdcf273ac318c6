import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** Routes that load balancers and scrapers poll: their lines are debug, or they drown the rest. */
const PROBE_ROUTES = new Set(['/health', '/ready', '/metrics']);

/** A query parameter whose name says it carries a credential (api_key, token, ticket, password, secret ...). */
const SECRET_PARAM = /key|token|ticket|passw|secret|auth|credential|signature/i;

export const REDACTED = '[redacted]';

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    return raw;
  }
}

/**
 * The URL as logged: every query value whose parameter name suggests a secret replaced by
 * `[redacted]`. The rest is kept byte for byte (not re-encoded), so a line matches what the
 * client sent.
 */
export function redactUrl(url: string): string {
  const start = url.indexOf('?');
  if (start === -1) return url;
  const query = url
    .slice(start + 1)
    .split('&')
    .map((part) => {
      const equals = part.indexOf('=');
      const name = equals === -1 ? part : part.slice(0, equals);
      return equals !== -1 && SECRET_PARAM.test(decodedName(name)) ? `${name}=${REDACTED}` : part;
    })
    .join('&');
  return `${url.slice(0, start)}?${query}`;
}

/** What the request line says, also as fields (under `request`) for whoever reads the JSON. */
interface RequestLine {
  method: string;
  url: string;
  statusCode?: number;
  /** Our error code (the body's `code`) when the reply was an error. */
  code?: string;
  /** From the request's arrival to the response's end (none for an aborted request). */
  durationMs?: number;
  /** The client went away before the response was complete. */
  aborted?: true;
}

function logLine(request: FastifyRequest, line: RequestLine): void {
  const outcome = line.aborted ? 'aborted' : `${line.statusCode}${line.code ? ` ${line.code}` : ''}`;
  const message = `${line.method} ${line.url} ${outcome}${line.durationMs === undefined ? '' : ` ${line.durationMs} ms`}`;
  const probe = PROBE_ROUTES.has(request.routeOptions.url ?? '');
  if (probe) request.log.debug({ request: line }, message);
  else request.log.info({ request: line }, message);
}

/** What clientErrorHandler wrote on a socket by hand (a 408 for a request still arriving). */
const socketAnswers = new WeakMap<Socket, { statusCode: number; code: string }>();

/** Records the answer written on `socket` outside Fastify, for the line of its request. */
export function recordSocketAnswer(socket: Socket, statusCode: number, code: string): void {
  socketAnswers.set(socket, { statusCode, code });
}

/**
 * The line of an answered request. Also called by the `frameworkErrors` handler, whose
 * replies (what the router refuses) run no route hooks.
 */
export function logRequestLine(request: FastifyRequest, reply: FastifyReply): void {
  logLine(request, {
    method: request.method,
    url: redactUrl(request.url),
    statusCode: reply.statusCode,
    ...(reply.errorCode === null ? {} : { code: reply.errorCode }),
    durationMs: Math.round(reply.elapsedTime * 10) / 10,
  });
}

/**
 * One log line per request, once it is answered (Fastify's own two lines, "incoming request"
 * and "request completed", are turned off with `disableRequestLogging`): method, URL with
 * secret query values redacted, status, our error code, duration. Headers are never logged.
 */
export default fp(
  async (fastify) => {
    // An aborted request may still see its response "finish" into the closed socket: one line each.
    const aborted = new WeakSet<FastifyRequest>();

    fastify.addHook('onResponse', (request, reply, done) => {
      if (!aborted.has(request)) logRequestLine(request, reply);
      done();
    });

    // The connection closed before the response ended: the client left, or a request still
    // arriving was answered on the bare socket (408) and its connection closed.
    fastify.addHook('onRequestAbort', (request, done) => {
      aborted.add(request);
      const answer = socketAnswers.get(request.raw.socket);
      const outcome = answer ? { statusCode: answer.statusCode, code: answer.code } : { aborted: true as const };
      logLine(request, { method: request.method, url: redactUrl(request.url), ...outcome });
      done();
    });
  },
  { name: 'request-log', dependencies: ['error-handler'] },
);
