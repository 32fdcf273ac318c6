import { useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { createApiClient, type ApiClient } from '../api/client.js';
import type { User } from '../api/types.js';

/** Who is signed in: the key (sent as Authorization) and the user it belongs to. */
export interface SignedIn {
  apiKey: string;
  user: User;
}

/** The browser keeps the key here until Sign out: nowhere else, and never in a URL. */
const STORAGE_KEY = 'chat-history.session';

function readStored(): SignedIn | undefined {
  try {
    const parsed: unknown = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? 'null');
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'apiKey' in parsed &&
      typeof parsed.apiKey === 'string' &&
      'user' in parsed &&
      typeof parsed.user === 'object' &&
      parsed.user !== null &&
      'id' in parsed.user &&
      typeof parsed.user.id === 'string'
    ) {
      return parsed as SignedIn;
    }
  } catch {
    // Unreadable: start signed out.
  }
  return undefined;
}

interface SessionValue {
  session: SignedIn | undefined;
  /** The API client: with the key once signed in, without one before. */
  client: ApiClient;
  signIn: (session: SignedIn) => void;
  signOut: () => void;
}

const SessionContext = createContext<SessionValue | undefined>(undefined);

export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [session, setSession] = useState(readStored);
  const client = useMemo(() => createApiClient(session?.apiKey), [session?.apiKey]);
  const signIn = useCallback((next: SignedIn) => {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    setSession(next);
  }, []);
  const signOut = useCallback(() => {
    window.localStorage.removeItem(STORAGE_KEY);
    // Nothing of the last user stays in memory either.
    queryClient.clear();
    setSession(undefined);
  }, [queryClient]);
  const value = useMemo(() => ({ session, client, signIn, signOut }), [session, client, signIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}

/** The signed-in session, for screens that only show once someone is signed in. */
export function useSignedIn(): SignedIn & { client: ApiClient; signOut: () => void } {
  const { session, client, signOut } = useSession();
  if (!session) throw new Error('useSignedIn while signed out');
  return { ...session, client, signOut };
}
