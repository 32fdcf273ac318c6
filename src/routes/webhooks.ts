import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../plugins/auth.js';
import { UserParams } from '../schemas/chats.js';
import { errorResponses } from '../schemas/common.js';
import {
  CreateWebhookBody,
  CreatedWebhook,
  DeliveriesQuery,
  DeliveryList,
  WebhookList,
  WebhookParams,
  toDelivery,
  toWebhook,
} from '../schemas/webhooks.js';

const WEBHOOKS = '/v1/users/:user_id/webhooks';

export const WEBHOOKS_DESCRIPTION = `
Every event of the chosen types (see GET .../events) is POSTed to the URL as JSON, the same
\`{id, type, chat_id, at, data}\` the event stream carries, following the Standard Webhooks
convention: headers \`webhook-id\` (the same on every try), \`webhook-timestamp\` (Unix seconds) and
\`webhook-signature\`: \`v1,\` + base64 HMAC-SHA256 of \`<webhook-id>.<webhook-timestamp>.<body>\`, keyed
with the base64-decoded part of the secret after \`whsec_\`. A 2xx answer delivers it; anything else,
no answer in 10 s or a refused address is tried again after 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h
and 4 h, then failed (the delivery log says why). Deliveries are written in the transaction of the
change they tell of: none is lost to a crash. Redirects are not followed.`;

/** A user's webhooks and their delivery log. */
const webhookRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.requireActor);
  const webhooks = () => fastify.services.webhooks;

  fastify.post(
    WEBHOOKS,
    {
      schema: {
        tags: ['webhooks'],
        operationId: 'createWebhook',
        summary: "Deliver the user's events to a URL, signed; the secret is shown once",
        description: WEBHOOKS_DESCRIPTION,
        params: UserParams,
        body: CreateWebhookBody,
        response: { 201: CreatedWebhook, ...errorResponses(400, 401, 403, 404, 409, 415) },
      },
    },
    async (request, reply) => {
      const { webhook, secret } = await webhooks().create(actorOf(request), request.params.user_id, request.body);
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({ ...toWebhook(webhook), secret });
    },
  );

  fastify.get(
    WEBHOOKS,
    {
      schema: {
        tags: ['webhooks'],
        operationId: 'listWebhooks',
        summary: "List the user's webhooks (never their secrets)",
        params: UserParams,
        response: { 200: WebhookList, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => ({
      data: (await webhooks().list(actorOf(request), request.params.user_id)).map(toWebhook),
    }),
  );

  fastify.delete(
    `${WEBHOOKS}/:webhook_id`,
    {
      schema: {
        tags: ['webhooks'],
        operationId: 'deleteWebhook',
        summary: 'Delete a webhook and its delivery log: nothing more is sent to it',
        params: WebhookParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await webhooks().delete(actorOf(request), request.params.user_id, request.params.webhook_id);
      return reply.code(204).send(null);
    },
  );

  fastify.get(
    `${WEBHOOKS}/:webhook_id/deliveries`,
    {
      schema: {
        tags: ['webhooks'],
        operationId: 'listWebhookDeliveries',
        summary: "A webhook's delivery log, newest event first",
        params: WebhookParams,
        querystring: DeliveriesQuery,
        response: { 200: DeliveryList, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 50;
      const rows = await webhooks().deliveries(actorOf(request), {
        userId: request.params.user_id,
        webhookId: request.params.webhook_id,
        limit,
        ...(request.query.before === undefined ? {} : { beforeEventId: request.query.before }),
      });
      return {
        data: rows.map(toDelivery),
        next_before: rows.length === limit ? (rows.at(-1)?.eventId ?? null) : null,
      };
    },
  );
};

export default webhookRoutes;
