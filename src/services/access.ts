import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { forbidden, userNotFound } from '../domain/errors.js';
import type { UserStore } from '../repositories/contract.js';

/** Who is calling: a user through their own key, or a trusted backend through the admin key. */
export type Actor = { kind: 'user'; userId: string } | { kind: 'admin' };

const KEY_PREFIX = 'chk_';

export function generateApiKey(): { key: string; hash: string; prefix: string } {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, hash: hashApiKey(key), prefix: key.slice(0, KEY_PREFIX.length + 6) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Compares in constant time (over the hashes, so lengths never leak either). */
export function keysMatch(presented: string, expected: string): boolean {
  return timingSafeEqual(
    createHash('sha256').update(presented).digest(),
    createHash('sha256').update(expected).digest(),
  );
}

export function createAccessService(deps: { users: UserStore; adminApiKey: string | undefined }) {
  return {
    /** Resolves a presented key to an actor, or undefined when it matches nothing. */
    async authenticate(key: string): Promise<Actor | undefined> {
      if (deps.adminApiKey !== undefined && keysMatch(key, deps.adminApiKey)) return { kind: 'admin' };
      if (!key.startsWith(KEY_PREFIX)) return undefined;
      const user = await deps.users.findByKeyHash(hashApiKey(key));
      return user ? { kind: 'user', userId: user.id } : undefined;
    },

    /**
     * Checks that `actor` may act for `userId`: a user only for themselves (403 otherwise),
     * the admin for any existing user (404 for an unknown one).
     */
    async assertActsFor(actor: Actor, userId: string): Promise<void> {
      if (actor.kind === 'user') {
        if (actor.userId !== userId) throw forbidden('This API key can only act for its own user');
        return;
      }
      if (!(await deps.users.findById(userId))) throw userNotFound();
    },
  };
}

export type AccessService = ReturnType<typeof createAccessService>;
