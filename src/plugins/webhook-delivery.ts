import fp from 'fastify-plugin';

export interface WebhookDeliveryOptions {
  /** How often the outbox is looked at; 0: never (deliveries then wait for an instance that does). */
  pollMs: number;
}

/**
 * Delivers the webhook outbox in the background: a round every `pollMs`, one at a time
 * (a round's tries run in parallel, bounded). Deliveries never run on the request path, so
 * a slow receiver never slows an ask. The last round is awaited at shutdown; what it had not
 * finished is tried again once its lease runs out, here or on another instance.
 */
export default fp<WebhookDeliveryOptions>(
  async (fastify, options) => {
    if (options.pollMs === 0) return;
    const { webhooks } = fastify.services;
    let running: Promise<void> | undefined;
    const run = () => {
      running ??= (async () => {
        // Rounds follow each other while they find work; then the timer waits.
        while ((await webhooks.deliverDue()) > 0 && !closing);
      })()
        .catch((err: unknown) => fastify.log.warn({ err }, 'webhook delivery round failed; it is tried again'))
        .finally(() => {
          running = undefined;
        });
    };
    let closing = false;
    const timer = setInterval(run, options.pollMs);
    timer.unref();
    fastify.addHook('preClose', async () => {
      closing = true;
      clearInterval(timer);
      await running;
    });
  },
  { name: 'webhook-delivery', dependencies: ['services'] },
);
