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

/**
 * An instance's life around its asks, in one place. At start-up it fails the pairs left
 * unfinished by a stopped process: on SQLite (one process) all of them; on PostgreSQL only
 * those of instances whose heartbeat expired, which it then also sweeps for on every
 * heartbeat of its own. On close it lets running asks finish within the grace period,
 * stores the rest as failed (INTERRUPTED), and deregisters the instance.
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
      if (running > 0) fastify.log.info({ running, graceMs: options.shutdownGraceMs }, 'waiting for running asks');
      await conversation.drain(options.shutdownGraceMs);
      clearInterval(timer);
      await beating;
      await backfilling;
      await liveness.leave().catch((err: unknown) => fastify.log.warn({ err }, 'could not deregister this instance'));
    });
  },
  { name: 'lifecycle', dependencies: ['services'] },
);
