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

/**
 * An instance's life around its asks, in one place. At start-up it fails the pairs left
 * unfinished by a stopped process: on SQLite (one process) all of them; on PostgreSQL only
 * those of instances whose heartbeat expired, which it then also sweeps for on every
 * heartbeat of its own. On close it lets running asks finish within the grace period,
 * stores the rest as failed (INTERRUPTED), and deregisters the instance.
 */
export default fp<LifecycleOptions>(
  async (fastify, options) => {
    const { liveness } = fastify.storage;
    const { conversation } = fastify.services;
    fastify.decorate('lifecycle', { shuttingDown: false });

    const sweep = async (message: string) => {
      const failed = await liveness.failOrphans('INTERRUPTED', INTERRUPTED_MESSAGE, new Date());
      if (failed > 0) fastify.log.warn({ count: failed }, message);
    };
    await liveness.beat();
    await sweep('marked pairs left unfinished by a stopped instance as failed');

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
      const running = conversation.inFlight;
      if (running > 0) fastify.log.info({ running, graceMs: options.shutdownGraceMs }, 'waiting for running asks');
      await conversation.drain(options.shutdownGraceMs);
      clearInterval(timer);
      await beating;
      await liveness.leave().catch((err: unknown) => fastify.log.warn({ err }, 'could not deregister this instance'));
    });
  },
  { name: 'lifecycle', dependencies: ['services'] },
);
