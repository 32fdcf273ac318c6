import { createHash } from 'node:crypto';
import { DomainError, badRequest } from '../domain/errors.js';
import type { IdempotencyStore } from '../repositories/contract.js';
import type { AccessService, Actor } from './access.js';

/** A response as it was (or will be) sent: what a replay sends again. */
export interface RecordedResponse {
  statusCode: number;
  body: unknown;
  retryAfterSeconds?: number;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const PURGE_EVERY_MS = 60_000;

/** A canonical JSON text (object keys sorted), so the same body hashes the same however it was written. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Idempotency-Key handling for asks: the first request with a key runs; a repeat with the
 * same body gets the recorded response without running again, and one arriving while the
 * first still runs waits for it (in this process; a key still running elsewhere, or left
 * running by a crash, is a 409 until it expires). The same key with another body is a 422.
 */
export function createIdempotencyService(deps: { keys: IdempotencyStore; access: AccessService; ttlMs: number }) {
  const running = new Map<string, Promise<RecordedResponse>>();
  let lastPurge = 0;

  const replayOf = (statusCode: number | null, response: string | null): RecordedResponse => ({
    statusCode: statusCode ?? 500,
    body: JSON.parse(response ?? 'null') as unknown,
  });

  return {
    /**
     * Runs `work` once per (user, key, body). `work` returns the response to record; if it
     * throws, the key is released so that a retry runs again.
     */
    async run(
      actor: Actor,
      input: { userId: string; key: string; body: unknown },
      work: () => Promise<RecordedResponse>,
    ): Promise<{ response: RecordedResponse; replayed: boolean }> {
      await deps.access.assertActsFor(actor, input.userId);
      if (!KEY_PATTERN.test(input.key)) {
        throw badRequest('INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
      }
      const now = new Date();
      if (now.getTime() - lastPurge > PURGE_EVERY_MS) {
        lastPurge = now.getTime();
        await deps.keys.purgeExpired(now);
      }
      const requestHash = createHash('sha256').update(canonical(input.body)).digest('hex');
      const slot = `${input.userId}\u0000${input.key}`;
      const claim = await deps.keys.claim({
        userId: input.userId,
        key: input.key,
        requestHash,
        now,
        expiresAt: new Date(now.getTime() + deps.ttlMs),
      });

      if (claim.kind === 'existing') {
        const { row } = claim;
        if (row.requestHash !== requestHash) {
          throw new DomainError(
            'IDEMPOTENCY_KEY_REUSED',
            422,
            'This Idempotency-Key was used with a different request body: use a new key for a new request',
          );
        }
        if (row.state === 'done') return { response: replayOf(row.statusCode, row.response), replayed: true };
        const inFlight = running.get(slot);
        if (!inFlight) {
          throw new DomainError(
            'IDEMPOTENCY_IN_PROGRESS',
            409,
            'A request with this Idempotency-Key is still running; retry later with the same key',
            { retryAfterSeconds: 1 },
          );
        }
        await inFlight.catch(() => undefined);
        const finished = await deps.keys.find(input.userId, input.key);
        if (finished?.state !== 'done') {
          throw new DomainError(
            'IDEMPOTENCY_IN_PROGRESS',
            409,
            'The first request with this Idempotency-Key did not finish; retry with the same key',
          );
        }
        return { response: replayOf(finished.statusCode, finished.response), replayed: true };
      }

      const execution = (async () => {
        try {
          const response = await work();
          await deps.keys.complete(input.userId, input.key, response.statusCode, JSON.stringify(response.body));
          return response;
        } catch (error) {
          await deps.keys.release(input.userId, input.key);
          throw error;
        }
      })();
      running.set(slot, execution);
      try {
        return { response: await execution, replayed: false };
      } finally {
        running.delete(slot);
      }
    },
  };
}

export type IdempotencyService = ReturnType<typeof createIdempotencyService>;
