import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const Id = Type.String({ format: 'uuid', description: 'A UUID' });
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
    next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor to get the next page' }),
  });
}

export const toIso = (date: Date): string => date.toISOString();
export const toIsoOrNull = (date: Date | null): string | null => (date ? date.toISOString() : null);
