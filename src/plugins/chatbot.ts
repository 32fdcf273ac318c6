import fp from 'fastify-plugin';
import type { AppConfig } from '../config.js';
import { createChatbotProvider, type ChatbotProvider } from '../chatbot/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    chatbot: ChatbotProvider;
  }
}

/** Wires the configured chatbot provider in and releases its connections on close. */
export default fp<{ config: AppConfig['chatbot']; provider?: ChatbotProvider }>(
  async (fastify, options) => {
    const chatbot =
      options.provider ??
      (await createChatbotProvider(options.config, {
        onRetry: (reason) => fastify.telemetry.upstreamRetry(options.config.provider, reason),
      }));
    // The server's start-up line names it too, with the reason (src/cli/serve.ts).
    fastify.log.debug({ provider: chatbot.name, reason: options.config.providerReason }, 'chatbot provider selected');
    fastify.decorate('chatbot', chatbot);
    fastify.addHook('onClose', async () => chatbot.close());
  },
  { name: 'chatbot', dependencies: ['metrics'] },
);
