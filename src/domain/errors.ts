/**
 * Domain errors. Services throw them; the error handler turns each into the one JSON
 * error shape with its `code` and status. Their messages are written for clients, so
 * they are shown even for 5xx (unlike unexpected errors, whose messages are hidden).
 *
 * One class with typed extras rather than `@fastify/error` constructors: a failed ask
 * must carry the stored pair's id and an upstream `Retry-After`, and the error handler
 * narrows on a single `instanceof`.
 */
export class DomainError extends Error {
  override name = 'DomainError';

  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    readonly extra: {
      /** The stored pair of a failed ask, so the client can find the question again. */
      qaPairId?: string;
      /** Sent as a `Retry-After` header. */
      retryAfterSeconds?: number;
    } = {},
  ) {
    super(message);
  }
}

export const badRequest = (code: string, message: string) => new DomainError(code, 400, message);

export const unauthorized = () =>
  new DomainError(
    'UNAUTHORIZED',
    401,
    'A valid API key is required: send "Authorization: Bearer <api_key>" (an X-API-Key header is not accepted)',
  );

export const forbidden = (message: string) => new DomainError('FORBIDDEN', 403, message);

export const signupDisabled = () =>
  new DomainError(
    'SIGNUP_DISABLED',
    403,
    'Open sign-up is disabled on this server: only the admin key can create users',
  );

export const userNotFound = () => new DomainError('USER_NOT_FOUND', 404, 'User not found');

export const chatNotFound = () => new DomainError('CHAT_NOT_FOUND', 404, 'Chat not found');

export const qaPairNotFound = () =>
  new DomainError('QA_PAIR_NOT_FOUND', 404, 'Question/answer pair not found in this chat');

export const branchNotFound = () => new DomainError('BRANCH_NOT_FOUND', 404, 'Branch not found in this chat');

export const conflict = (code: string, message: string) => new DomainError(code, 409, message);

/** The database could not take the work now (no connection free, a chat's lock held too long): retry shortly. */
export const databaseBusy = (message: string) =>
  new DomainError('DATABASE_BUSY', 503, message, { retryAfterSeconds: 1 });

export const tooManyBranches = () =>
  new DomainError(
    'TOO_MANY_BRANCHES',
    409,
    'This chat has 1000 branches, the most it can have: delete some or fork the chat',
  );
