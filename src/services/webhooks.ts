import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { DomainError, badRequest } from '../domain/errors.js';
import { RETAINED_EVENT_TYPES } from '../domain/events.js';
import {
  DELIVERY_LEASE_MS,
  MAX_WEBHOOKS_PER_USER,
  messageIdOf,
  nextAttemptAt,
  type AttemptOutcome,
  type DueDelivery,
  type WebhookDeliveryRow,
  type WebhookRow,
} from '../domain/webhooks.js';
import type { WebhookStore } from '../repositories/contract.js';
import type { AccessService, Actor } from './access.js';
import { NonPublicAddressError, checkedLookup, isNonPublicAddress, resolveAll } from './webhook-target.js';

const SECRET_PREFIX = 'whsec_';
/** How long one try may take, connection included. */
const DELIVERY_TIMEOUT_MS = 10_000;
/** Tries run at once per round: a slow receiver holds one slot, never the asks. */
const DELIVERIES_PER_ROUND = 20;
const URL_MAX_LENGTH = 2_000;
/** How long finished deliveries stay in the log. */
export const DELIVERY_LOG_DAYS = 7;

export const webhookNotFound = () => new DomainError('WEBHOOK_NOT_FOUND', 404, 'Webhook not found');

/**
 * The Standard Webhooks signature of a body: `v1,` and the base64 HMAC-SHA256, keyed with
 * the secret's bytes (after `whsec_`), of `<msg id>.<timestamp>.<body>`.
 */
export function signatureOf(secret: string, messageId: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${messageId}.${timestamp}.${body}`).digest('base64')}`;
}

/** One POST of a delivery, to the address checked by the lookup, never following a redirect. */
function post(delivery: DueDelivery, allowPrivate: boolean, now: Date): Promise<AttemptOutcome> {
  const url = new URL(delivery.url);
  const timestamp = Math.floor(now.getTime() / 1000);
  const messageId = messageIdOf(delivery);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const fail = (error: string, statusCode: number | null = null) => resolve({ kind: 'failed', statusCode, error });
    // An address in the URL itself is connected to without a lookup: it is checked here.
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (!allowPrivate && isIP(literal) !== 0 && isNonPublicAddress(literal)) {
      fail(new NonPublicAddressError(`${literal} is a non-public address`).message);
      return;
    }
    const request = send(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(delivery.payload),
          'user-agent': 'chat-history-service-webhooks',
          'webhook-id': messageId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatureOf(delivery.secret, messageId, timestamp, delivery.payload),
        },
        lookup: checkedLookup(allowPrivate),
        timeout: DELIVERY_TIMEOUT_MS,
      },
      (response: IncomingMessage) => {
        // The body is not read: only the status counts.
        response.resume();
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve({ kind: 'delivered', statusCode: status });
        else fail(`the receiver answered HTTP ${status}`, status);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${DELIVERY_TIMEOUT_MS} ms`)));
    request.on('error', (error) =>
      fail(error instanceof NonPublicAddressError ? error.message : `could not deliver: ${error.message}`),
    );
    request.end(delivery.payload);
  });
}

/**
 * A user's webhooks: created with a URL that must be public (unless WEBHOOK_ALLOW_PRIVATE),
 * listed without their secret, deleted; and the delivery rounds that try what the outbox
 * holds, with backoff, for a bounded time.
 */
export function createWebhookService(deps: {
  webhooks: WebhookStore;
  access: AccessService;
  options: { allowPrivate: boolean };
  now?: () => Date;
}) {
  const { webhooks, access } = deps;
  const now = deps.now ?? (() => new Date());

  async function ownedWebhook(actor: Actor, userId: string, webhookId: string): Promise<WebhookRow> {
    await access.assertActsFor(actor, userId);
    const webhook = await webhooks.find(webhookId);
    if (!webhook || webhook.userId !== userId) throw webhookNotFound();
    return webhook;
  }

  async function checkedUrl(raw: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw badRequest('INVALID_WEBHOOK_URL', 'url must be an absolute http or https URL');
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
      throw badRequest('INVALID_WEBHOOK_URL', 'url must be an absolute http or https URL');
    }
    if (url.username !== '' || url.password !== '') {
      throw badRequest('INVALID_WEBHOOK_URL', 'url must not carry credentials: sign-in happens by the signature');
    }
    if (raw.length > URL_MAX_LENGTH) throw badRequest('INVALID_WEBHOOK_URL', `url is longer than ${URL_MAX_LENGTH}`);
    if (!deps.options.allowPrivate) {
      let addresses: string[];
      try {
        addresses = await resolveAll(url.hostname);
      } catch {
        throw badRequest('INVALID_WEBHOOK_URL', `${url.hostname} does not resolve`);
      }
      if (addresses.length === 0 || addresses.some(isNonPublicAddress)) {
        throw badRequest(
          'WEBHOOK_URL_NOT_PUBLIC',
          `${url.hostname} is a private, loopback or link-local address: webhooks go to public addresses only`,
        );
      }
    }
    return url.toString();
  }

  return {
    async create(
      actor: Actor,
      userId: string,
      input: { url: string; events: string[] },
    ): Promise<{ webhook: WebhookRow; secret: string }> {
      await access.assertActsFor(actor, userId);
      const unknown = input.events.filter(
        (type) => type !== '*' && !(RETAINED_EVENT_TYPES as readonly string[]).includes(type),
      );
      if (unknown.length > 0) {
        throw badRequest(
          'UNKNOWN_EVENT_TYPE',
          `Unknown or undeliverable event types: ${unknown.join(', ')} (pair.token is never delivered)`,
        );
      }
      if (input.events.length === 0) throw badRequest('VALIDATION_ERROR', 'events must name at least one type, or "*"');
      const url = await checkedUrl(input.url);
      if ((await webhooks.listForUser(userId)).length >= MAX_WEBHOOKS_PER_USER) {
        throw new DomainError('TOO_MANY_WEBHOOKS', 409, `A user has at most ${MAX_WEBHOOKS_PER_USER} webhooks`);
      }
      const secret = SECRET_PREFIX + randomBytes(32).toString('base64');
      const webhook: WebhookRow = {
        id: randomUUID(),
        userId,
        url,
        eventTypes: [...new Set(input.events)],
        secret,
        createdAt: now(),
      };
      await webhooks.create(webhook);
      return { webhook, secret };
    },

    async list(actor: Actor, userId: string): Promise<WebhookRow[]> {
      await access.assertActsFor(actor, userId);
      return webhooks.listForUser(userId);
    },

    async delete(actor: Actor, userId: string, webhookId: string): Promise<void> {
      await access.assertActsFor(actor, userId);
      if (!(await webhooks.delete(userId, webhookId))) throw webhookNotFound();
    },

    async deliveries(
      actor: Actor,
      input: { userId: string; webhookId: string; limit: number; beforeEventId?: number },
    ): Promise<WebhookDeliveryRow[]> {
      await ownedWebhook(actor, input.userId, input.webhookId);
      return webhooks.listDeliveries(input.webhookId, input.limit, input.beforeEventId);
    },

    /** Forgets deliveries finished more than DELIVERY_LOG_DAYS ago: the log stays bounded. */
    pruneLog: () => webhooks.pruneFinished(new Date(now().getTime() - DELIVERY_LOG_DAYS * 86_400_000)),

    /**
     * One delivery round: claims what is due, POSTs it (a bounded number at once) and
     * records each outcome: delivered, retried later, or failed for good. Returns how many
     * were tried.
     */
    async deliverDue(at: Date = now()): Promise<number> {
      const due = await webhooks.claimDue(at, DELIVERIES_PER_ROUND, new Date(at.getTime() + DELIVERY_LEASE_MS));
      await Promise.all(
        due.map(async (delivery) => {
          const outcome = await post(delivery, deps.options.allowPrivate, at);
          const retryAt = outcome.kind === 'failed' ? nextAttemptAt(delivery.attempts + 1, at) : undefined;
          await webhooks.recordAttempt(delivery, { at, outcome, ...(retryAt ? { retryAt } : {}) });
        }),
      );
      return due.length;
    },
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
