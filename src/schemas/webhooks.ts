import { Type, type Static } from '@sinclair/typebox';
import { RETAINED_EVENT_TYPES } from '../domain/events.js';
import type { WebhookDeliveryRow, WebhookRow } from '../domain/webhooks.js';
import { Id, Nullable, Timestamp } from './common.js';

export const WebhookParams = Type.Object({ user_id: Id, webhook_id: Id }, { additionalProperties: false });

const DeliverableType = Type.Union([Type.Literal('*'), ...RETAINED_EVENT_TYPES.map((type) => Type.Literal(type))]);

export const CreateWebhookBody = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2000,
      description: 'http or https; a public address unless WEBHOOK_ALLOW_PRIVATE',
    }),
    events: Type.Array(DeliverableType, {
      minItems: 1,
      maxItems: 20,
      description: 'The event types to deliver, or ["*"] for all (pair.token is never delivered)',
    }),
  },
  {
    additionalProperties: false,
    examples: [{ url: 'https://example.com/hooks/chat', events: ['pair.completed', 'chat.deleted'] }],
  },
);

export const Webhook = Type.Object({
  id: Id,
  url: Type.String(),
  events: Type.Array(Type.String()),
  created_at: Timestamp,
});
export type Webhook = Static<typeof Webhook>;

export const CreatedWebhook = Type.Object({
  ...Webhook.properties,
  secret: Type.String({ description: 'Signs every delivery (whsec_...). Shown this once: store it now.' }),
});

export const WebhookList = Type.Object({ data: Type.Array(Webhook) });

export const DeliveriesQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    before: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Deliveries of events before this id (the next page)' }),
    ),
  },
  { additionalProperties: false },
);

export const WebhookDelivery = Type.Object({
  event_id: Type.Integer(),
  event_type: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  next_attempt_at: Nullable(Timestamp),
  last_attempt_at: Nullable(Timestamp),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  created_at: Timestamp,
  delivered_at: Nullable(Timestamp),
});

export const DeliveryList = Type.Object({
  data: Type.Array(WebhookDelivery),
  next_before: Nullable(Type.Integer({ description: 'Pass as ?before= for the next page; null at the end' })),
});

export function toWebhook(row: WebhookRow): Webhook {
  return { id: row.id, url: row.url, events: row.eventTypes, created_at: row.createdAt.toISOString() };
}

export function toDelivery(row: WebhookDeliveryRow): Static<typeof WebhookDelivery> {
  return {
    event_id: row.eventId,
    event_type: row.eventType,
    status: row.status,
    attempts: row.attempts,
    next_attempt_at: row.status === 'pending' ? row.nextAttemptAt.toISOString() : null,
    last_attempt_at: row.lastAttemptAt?.toISOString() ?? null,
    last_status_code: row.lastStatusCode,
    last_error: row.lastError,
    created_at: row.createdAt.toISOString(),
    delivered_at: row.deliveredAt?.toISOString() ?? null,
  };
}
