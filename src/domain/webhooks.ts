/** Webhooks: a user's events POSTed to a URL of theirs, signed (Standard Webhooks). */

export interface WebhookRow {
  id: string;
  userId: string;
  url: string;
  /** Event types delivered, or ['*'] for every kept type. */
  eventTypes: string[];
  /** `whsec_` + base64 of 32 random bytes; signs every delivery, so it is kept usable. */
  secret: string;
  createdAt: Date;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDeliveryRow {
  webhookId: string;
  eventId: number;
  userId: string;
  eventType: string;
  /** The event's JSON, as POSTed. */
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** A delivery claimed for a try, with where it goes and how it is signed. */
export interface DueDelivery extends WebhookDeliveryRow {
  url: string;
  secret: string;
}

/** How a try ended. */
export type AttemptOutcome =
  { kind: 'delivered'; statusCode: number } | { kind: 'failed'; statusCode: number | null; error: string };

export const MAX_WEBHOOKS_PER_USER = 20;

/**
 * The waits between tries after a failed one: nine tries over about 7 h 43 min, then the
 * delivery is failed for good (its log says why).
 */
export const RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000] as const;

/** How long a claimed try holds its delivery: longer than a try can take, so a crashed instance's tries are taken up again after it. */
export const DELIVERY_LEASE_MS = 60_000;

/** When the next try is due after `attempts` tries failed, or undefined when none is left. */
export function nextAttemptAt(attempts: number, at: Date): Date | undefined {
  const delay = RETRY_DELAYS_MS[attempts - 1];
  return delay === undefined ? undefined : new Date(at.getTime() + delay);
}

/**
 * The columns a try sets (besides counting it): delivered, pending again until `retryAt`, or
 * (without `retryAt`) failed for good.
 */
export function attemptColumns(input: { at: Date; outcome: AttemptOutcome; retryAt?: Date }) {
  const { at, outcome, retryAt } = input;
  const delivered = outcome.kind === 'delivered';
  const status: DeliveryStatus = delivered ? 'delivered' : retryAt ? 'pending' : 'failed';
  return {
    status,
    nextAttemptAt: retryAt ?? at,
    lastAttemptAt: at,
    lastStatusCode: outcome.statusCode,
    lastError: delivered ? null : outcome.error,
    deliveredAt: delivered ? at : null,
  };
}

/** The Standard Webhooks message id of a delivery: the same on every try of it. */
export const messageIdOf = (delivery: Pick<WebhookDeliveryRow, 'webhookId' | 'eventId'>) =>
  `msg_${delivery.webhookId}_${delivery.eventId}`;
