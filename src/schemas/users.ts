import { Type, type Static } from '@sinclair/typebox';
import type { UserRow } from '../domain/types.js';
import { NAME_MAX_LENGTH } from '../domain/limits.js';
import { Id, Timestamp, toIso, TrimmedText } from './common.js';

export const CreateUserBody = Type.Object(
  { name: TrimmedText(NAME_MAX_LENGTH) },
  { additionalProperties: false, examples: [{ name: 'Ada Lovelace' }] },
);

export const User = Type.Object({ id: Id, name: Type.String(), created_at: Timestamp });
export type User = Static<typeof User>;

export const CreatedUser = Type.Object({
  id: Id,
  name: Type.String(),
  created_at: Timestamp,
  api_key: Type.String({ description: 'Shown once: only its hash is stored' }),
});

export const toUser = (user: UserRow): User => ({ id: user.id, name: user.name, created_at: toIso(user.createdAt) });
