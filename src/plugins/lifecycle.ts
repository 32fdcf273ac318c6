import type { IncomingMessage, Server } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import fp from 'fastify-plugin';

export interface LifecycleOptions {
  /** How long closing waits for running asks and streams before storing them as interrupted. */
  shutdownGraceMs: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Set once closing has begun: /ready then answers 503. */
    lifecycle: { shuttingDown: boolean };
  }
}

const INTERRUPTED_MESSAGE = 'The server stopped before the answer was stored';

/** Pairs rendered per transaction by the backfill: small enough to keep each write short. */
const BACKFILL_BATCH = 500;

const hasBody = (request: IncomingMessage) =>
  request.headers['transfer-encoding'] !== undefined ||
  (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0');

/** Resolves once the request's body has come in (and been read) or its connection is gone. */
const arrived = (request: IncomingMessage) =>
  new Promise<void>((resolve) => {
    request.once('end', resolve).once('close', resolve);
  });

/**
 * Requests whose body is still arriving. Node stops timing requests out (REQUEST_TIMEOUT_MS)
 * once the server closes, so at shutdown a stalled upload would hold `server.close()`, and
 * the exit, until close-with-grace gives up with exit code 1.
 */
function trackUploads(server: Server) {
  const arriving = new Set<IncomingMessage>();
  server.on('request', (request: IncomingMessage) => {
    if (!hasBody(request)) return;
    arriving.add(request);
    const settle = () => arriving.delete(request);
    request.once('end', settle).once('close', settle);
  });
  return {
    get count() {
      return arriving.size;
    },
    /** Waits up to `graceMs` for the uploads under way, then closes the connections of the rest. */
    async settle(graceMs: number): Promise<number> {
      if (arriving.size > 0) {
        await Promise.race([Promise.all([...arriving].map(arrived)), delay(graceMs, undefined, { ref: false })]);
      }
      const cut = arriving.size;
      for (const request of arriving) request.socket.destroy();
      return cut;
    },
  };
}

/**
 * An instance's life around its asks, in one place. At start-up it fails the pairs left
 * unfinished by a stopped process: on SQLite (one process) all of them; on PostgreSQL only
 * those of instances whose heartbeat expired, which it then also sweeps for on every
 * heartbeat of its own. On close it lets running asks finish within the grace period,
 * stores the rest as failed (INTERRUPTED), closes the connections of uploads that have not
 * come in by then, and deregisters the instance.
 *
 * In the background it stores the renderings of final pairs that have none (those of a
 * database from before renderings, and pairs failed by a sweep), in short batches that
 * yield to requests between them; reads render such pairs live meanwhile.
 */
export default fp<LifecycleOptions>(
  async (fastify, options) => {
    const { liveness } = fastify.storage;
    const { conversation } = fastify.services;
    fastify.decorate('lifecycle', { shuttingDown: false });
    const uploads = trackUploads(fastify.server);

    let closing = false;
    let backfilling: Promise<void> | undefined;
    const backfill = () => {
      backfilling ??= (async () => {
        let rendered = 0;
        for (;;) {
          const batch = await fastify.storage.pairs.renderMissing(BACKFILL_BATCH);
          rendered += batch;
          if (batch < BACKFILL_BATCH || closing) break;
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (rendered > 0) fastify.log.info({ count: rendered }, 'stored the renderings of answered and failed pairs');
      })()
        .catch((err: unknown) => fastify.log.warn({ err }, 'could not store pair renderings; reads render them live'))
        .finally(() => {
          backfilling = undefined;
        });
    };

    const sweep = async (message: string) => {
      const failed = await liveness.failOrphans('INTERRUPTED', INTERRUPTED_MESSAGE, new Date());
      if (failed > 0) {
        fastify.log.warn({ count: failed }, message);
        backfill();
      }
    };
    await liveness.beat();
    await sweep('marked pairs left unfinished by a stopped instance as failed');
    fastify.addHook('onReady', async () => backfill());

    let beating: Promise<void> = Promise.resolve();
    const timer =
      liveness.heartbeatMs === undefined
        ? undefined
        : setInterval(() => {
            beating = (async () => {
              await liveness.beat();
              await sweep('marked pairs of a stopped instance as failed');
            })().catch((err: unknown) => fastify.log.warn({ err }, 'instance heartbeat failed'));
          }, liveness.heartbeatMs);
    timer?.unref();

    fastify.addHook('preClose', async () => {
      fastify.lifecycle.shuttingDown = true;
      closing = true;
      const running = conversation.inFlight;
      const uploading = uploads.count;
      if (running > 0 || uploading > 0) {
        fastify.log.info(
          { running, uploading, graceMs: options.shutdownGraceMs },
          'waiting for running asks and uploads',
        );
      }
      // Uploads under way get the same grace as asks, then their connections are closed;
      // responses in flight are never cut (idle connections Node closes by itself).
      const [cut] = await Promise.all([
        uploads.settle(options.shutdownGraceMs),
        conversation.drain(options.shutdownGraceMs),
      ]);
      if (cut > 0) fastify.log.warn({ count: cut }, 'closed the connections of uploads still arriving');
      // An ask whose body came in during the grace started late: the grace is over for it too.
      await conversation.drain(0);
      clearInterval(timer);
      await beating;
      await backfilling;
      await liveness.leave().catch((err: unknown) => fastify.log.warn({ err }, 'could not deregister this instance'));
    });
  },
  { name: 'lifecycle', dependencies: ['services'] },
);
