import { STATUS_CODES } from 'node:http';
import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';
import type { DomainError } from '../domain/errors.js';
import { RAW_TEXT_SLACK } from '../domain/limits.js';

/**
 * A UUID in its canonical lower-case form. Stricter than the `uuid` format (which also
 * takes upper case and a `urn:uuid:` prefix): ids are compared and stored as sent, so one
 * spelling per id keeps lookups, ownership checks and cursors exact.
 */
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
/**
 * A schema that may also be null, as a type list (`type: ['string', 'null']`) rather than
 * `anyOf`: the response serializer (fast-json-stringify) tells the two apart with a typeof
 * check, where an `anyOf` costs a full schema validation per value and per option.
 */
export function Nullable<T extends TSchema>(schema: T): TUnsafe<Static<T> | null> {
  if (typeof schema.type !== 'string') throw new TypeError('Nullable() takes a schema with a single type');
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });
}

/**
 * The ids the documented examples use. A request example that names one needs the real id
 * of yours in its place (the user's from POST /v1/users, a chat's, a pair's, a branch's);
 * tests/openapi-examples.test.ts runs every example with exactly that substitution.
 */
export const EXAMPLE_IDS = {
  user_id: '0b6f3c52-8d1e-4f7a-9c2b-5e4d3a2f1b0c',
  chat_id: '6a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  qa_pair_id: '9c8b7a6d-5e4f-4321-8fed-cba987654321',
  branch_id: '2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b',
} as const;

export const Id = Type.String({ pattern: UUID_PATTERN, description: 'A UUID, lower case' });
export const IdWith = (description: string) => Type.String({ pattern: UUID_PATTERN, description });
export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC' });

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable error code, e.g. CHAT_NOT_FOUND' }),
    error: Type.String({ description: 'The HTTP reason phrase' }),
    message: Type.String({ description: 'What went wrong, for people' }),
    details: Type.Optional(
      Type.Array(Type.Object({ path: Type.String(), message: Type.String() }), {
        description: 'Each rejected field, for validation errors',
      }),
    ),
    qa_pair_id: Type.Optional(
      Type.String({ description: 'For a failed ask: the stored pair holding the question and the error' }),
    ),
  },
  { $id: 'ErrorResponse', description: 'Every error has this shape' },
);
export type ErrorResponse = Static<typeof ErrorResponse>;

/** The reason phrase of a status: Node's, and nginx's for 499 (a client that closed the request). */
export const reasonPhrase = (status: number): string =>
  STATUS_CODES[status] ?? (status === 499 ? 'Client Closed Request' : 'Error');

/** An error in the one error shape. */
export function errorBody(
  statusCode: number,
  code: string,
  message: string,
  extra: Partial<ErrorResponse> = {},
): ErrorResponse {
  return { statusCode, code, error: reasonPhrase(statusCode), message, ...extra };
}

/** A domain error as a client sees it: its status, code and message, and a failed ask's stored pair. */
export function domainErrorBody(error: DomainError): ErrorResponse {
  const { qaPairId } = error.extra;
  return errorBody(error.statusCode, error.code, error.message, qaPairId ? { qa_pair_id: qaPairId } : {});
}

/** Any unexpected failure, as a client sees it: nothing of its cause. */
export const internalErrorBody = (): ErrorResponse => errorBody(500, 'INTERNAL_ERROR', 'Internal server error');

const errorRef = Type.Ref(ErrorResponse);

/** The error responses of a route, all in the one error shape. */
export function errorResponses<const Codes extends readonly number[]>(...codes: Codes) {
  return Object.fromEntries(codes.map((code) => [code, errorRef])) as { [K in Codes[number]]: typeof errorRef };
}

export const PaginationQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Page size, 1 to 100' }),
  cursor: Type.Optional(
    Type.String({ minLength: 1, maxLength: 200, description: 'next_cursor from the previous page' }),
  ),
};

export function Page<T extends TSchema>(item: T) {
  return Type.Object({
    data: Type.Array(item),
    has_more: Type.Boolean(),
    next_cursor: Nullable(Type.String({ description: 'Pass as cursor to get the next page' })),
  });
}

/** A stored date as the API writes it (ISO 8601, UTC, milliseconds); a missing one stays null. */
export function toIso(date: Date): string;
export function toIso(date: Date | null): string | null;
export function toIso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}

/**
 * Text that is trimmed before use: the limit applies after trimming (the service checks
 * it), so the raw value may carry some surrounding whitespace. Lengths count characters
 * (code points), as ajv's maxLength does and as the services do (characterCount).
 */
export const TrimmedText = (maxLength: number, description?: string) =>
  Type.String({
    minLength: 1,
    maxLength: maxLength + RAW_TEXT_SLACK,
    description: `${description ? `${description}; ` : ''}1 to ${maxLength} characters (Unicode code points: an emoji is one) after trimming`,
  });

/** The answer to a conditional GET whose If-None-Match names the current ETag. */
export const notModified = {
  304: Type.Null({ description: 'Not modified: If-None-Match names the current ETag. No body.' }),
};
