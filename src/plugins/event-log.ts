import fp from 'fastify-plugin';
import client from 'prom-client';

/** How often each user's event log is pruned, expired stream tickets purged and old deliveries forgotten. */
const PRUNE_INTERVAL_MS = 10 * 60_000;

/**
 * Keeps the event log bounded (at least the latest 1,000 events or 24 hours per user stay,
 * whichever is more) and closes every live stream at shutdown, once running asks have
 * been drained (registered after the lifecycle plugin, so its preClose runs after that
 * one's): listeners reconnect to another instance and resume from their last id.
 */
export default fp(
  async (fastify) => {
    const { events, hub } = fastify.services;
    // Read when /metrics is scraped: whether EVENTS_MAX_STREAMS_PER_USER and the buffers fit.
    new client.Gauge({
      name: 'chat_event_streams_open',
      help: 'Event streams (SSE and WebSocket) open on this instance',
      collect() {
        this.set(hub.listenerCount);
      },
    });
    let running: Promise<void> | undefined;
    const run = () => {
      running ??= (async () => {
        await events.pruneLog();
        await events.purgeExpiredTickets();
        await fastify.services.webhooks.pruneLog();
      })()
        .catch((err: unknown) => fastify.log.warn({ err }, 'could not prune the event log'))
        .finally(() => {
          running = undefined;
        });
    };
    const timer = setInterval(run, PRUNE_INTERVAL_MS);
    timer.unref();
    fastify.addHook('preClose', async () => {
      clearInterval(timer);
      events.close();
      await running;
    });
    fastify.addHook('onClose', async () => {
      await fastify.storage.events.close();
    });
  },
  { name: 'event-log', dependencies: ['services', 'lifecycle'] },
);
