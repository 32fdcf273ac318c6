import { useMutation, useQuery } from '@tanstack/react-query';
import { createApiClient, unwrap } from '../../api/client.js';
import { serverInfoQuery } from '../../api/queries.js';
import { useSession, type SignedIn } from '../../lib/session.js';

export function useServerInfo() {
  const { client } = useSession();
  return useQuery(serverInfoQuery(client));
}

/** Creates an account; its key is shown once, so the caller shows it before signing in. */
export function useSignUp() {
  const { client } = useSession();
  return useMutation({
    mutationFn: async (name: string) => unwrap(await client.POST('/v1/users', { body: { name } })),
  });
}

/** Checks a pasted key by asking who it belongs to. */
export function useCheckKey() {
  return useMutation({
    mutationFn: async (apiKey: string): Promise<SignedIn> => {
      const user = unwrap(await createApiClient(apiKey).GET('/v1/users/me'));
      return { apiKey, user };
    },
  });
}
