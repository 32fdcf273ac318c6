import { randomUUID } from 'node:crypto';
import { DomainError, forbidden, signupDisabled } from '../domain/errors.js';
import type { UserRow } from '../domain/types.js';
import type { UserStore } from '../repositories/contract.js';
import { generateApiKey, type Actor } from './access.js';
import { NAME_MAX_LENGTH } from '../domain/limits.js';
import { requireText } from '../domain/text.js';

export function createUserService(deps: { users: UserStore; allowSignup: boolean }) {
  return {
    /**
     * Creates a user with a fresh API key. The key is returned here and never again:
     * only its hash is stored.
     */
    async createUser(actor: Actor | undefined, input: { name: string }): Promise<{ user: UserRow; apiKey: string }> {
      if (!deps.allowSignup && actor?.kind !== 'admin') throw signupDisabled();
      const name = requireText('name', input.name, NAME_MAX_LENGTH);
      const now = new Date();
      const key = generateApiKey();
      const userId = randomUUID();
      const user = await deps.users.createWithKey(
        { id: userId, name, createdAt: now },
        { id: randomUUID(), userId, keyHash: key.hash, prefix: key.prefix, createdAt: now },
      );
      return { user, apiKey: key.key };
    },

    /** Removes a user and everything of theirs (the command line's undo of a user whose key nobody saw). */
    async deleteUser(actor: Actor, userId: string): Promise<boolean> {
      if (actor.kind !== 'admin') throw forbidden('Only the admin key may delete users');
      return deps.users.delete(userId);
    },

    async getCurrentUser(actor: Actor): Promise<UserRow> {
      if (actor.kind === 'admin') {
        throw new DomainError(
          'NOT_A_USER_KEY',
          400,
          'The admin key does not belong to a user; call the /v1/users/{user_id}/... routes instead',
        );
      }
      const user = await deps.users.findById(actor.userId);
      // The key was just resolved to this user, so it can only be gone if deleted meanwhile.
      if (!user) throw new DomainError('UNAUTHORIZED', 401, 'The API key no longer belongs to a user');
      return user;
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;
