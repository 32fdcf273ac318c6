import type { ErrorBody } from './types.js';

/** A failed API call: the status and, when the server answered in its error shape, its code and message. */
export class ApiError extends Error {
  override name = 'ApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The pair the server stored for a failed ask, when it says so. */
    readonly qaPairId?: string,
  ) {
    super(message);
  }

  static from(status: number, body: unknown): ApiError {
    if (isErrorBody(body)) {
      const qaPairId = 'qa_pair_id' in body && typeof body.qa_pair_id === 'string' ? body.qa_pair_id : undefined;
      return new ApiError(status || body.statusCode, body.code, body.message, qaPairId);
    }
    return new ApiError(status, 'HTTP_ERROR', `The server answered ${status}`);
  }
}

export function isErrorBody(body: unknown): body is ErrorBody {
  return (
    typeof body === 'object' &&
    body !== null &&
    'code' in body &&
    typeof body.code === 'string' &&
    'message' in body &&
    typeof body.message === 'string'
  );
}

/** What to show for any error thrown by a call. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  if (error instanceof Error) return error.message;
  return 'Something went wrong';
}
