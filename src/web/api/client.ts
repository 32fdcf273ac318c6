import createClient, { type Client } from 'openapi-fetch';
import type { paths } from '../../openapi/schema.js';
import { ApiError } from './errors.js';

export type ApiClient = Client<paths>;

/**
 * The one way the client calls the API: openapi-fetch over the generated types, on this
 * page's origin. The key, when there is one, goes in the Authorization header only (never
 * in a URL).
 */
export function createApiClient(apiKey: string | undefined): ApiClient {
  const client = createClient<paths>({ baseUrl: window.location.origin });
  if (apiKey !== undefined) {
    client.use({
      onRequest({ request }) {
        request.headers.set('authorization', `Bearer ${apiKey}`);
        return request;
      },
    });
  }
  return client;
}

/** The data of a call that succeeded, or its error thrown as an ApiError (for TanStack Query). */
export function unwrap<Data>(result: { data?: Data; error?: unknown; response: Response }): Data {
  if (result.response.ok) return result.data as Data;
  throw ApiError.from(result.response.status, result.error);
}
