import { useState, type FormEvent } from 'react';
import type { CreatedUser, ServerInfo } from '../../api/types.js';
import { ErrorNote } from '../../ui/ErrorNote.js';
import { useSession } from '../../lib/session.js';
import { useCheckKey, useServerInfo, useSignUp } from './api.js';

const PROVIDER_NAMES: Record<string, string> = {
  offline: 'the built-in offline chatbot (no network: it answers from a template)',
  you: "You.com's chat API",
  openai: 'an OpenAI-compatible server',
};

function ProviderNote({ info }: { info: ServerInfo | undefined }) {
  if (!info) return <p>Finding out which chatbot this server runs…</p>;
  return (
    <p>
      This server answers with <strong>{PROVIDER_NAMES[info.provider] ?? info.provider}</strong>.
    </p>
  );
}

function SignUpForm({ onCreated }: { onCreated: (user: CreatedUser) => void }) {
  const signUp = useSignUp();
  const [name, setName] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    signUp.mutate(name.trim(), { onSuccess: onCreated });
  };
  return (
    <form onSubmit={submit} className="card" aria-labelledby="sign-up-heading">
      <h2 id="sign-up-heading">Create an account</h2>
      <label htmlFor="sign-up-name">Your name</label>
      <input
        id="sign-up-name"
        value={name}
        onChange={(event) => setName(event.target.value)}
        required
        maxLength={100}
        autoComplete="name"
      />
      <button type="submit" disabled={signUp.isPending || name.trim() === ''}>
        Create account
      </button>
      {signUp.error ? <ErrorNote error={signUp.error} /> : null}
    </form>
  );
}

function KeyForm() {
  const { signIn } = useSession();
  const check = useCheckKey();
  const [key, setKey] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    check.mutate(key.trim(), { onSuccess: signIn });
  };
  return (
    <form onSubmit={submit} className="card" aria-labelledby="key-heading">
      <h2 id="key-heading">Sign in with an API key</h2>
      <label htmlFor="api-key">API key</label>
      <input
        id="api-key"
        type="password"
        value={key}
        onChange={(event) => setKey(event.target.value)}
        required
        autoComplete="off"
        spellCheck={false}
      />
      <button type="submit" disabled={check.isPending || key.trim() === ''}>
        Sign in
      </button>
      {check.error ? <ErrorNote error={check.error} /> : null}
    </form>
  );
}

/** The key of a new account, shown once: the user keeps it before going on. */
function NewKey({ created }: { created: CreatedUser }) {
  const { signIn } = useSession();
  const { api_key: apiKey, ...user } = created;
  return (
    <section className="card" aria-labelledby="new-key-heading">
      <h2 id="new-key-heading">Your API key</h2>
      <p>
        Welcome, {user.name}. This is your key, shown this once: keep it to sign in on another browser. This browser
        keeps it until you sign out.
      </p>
      <label htmlFor="new-key">API key</label>
      <input id="new-key" readOnly value={apiKey} onFocus={(event) => event.target.select()} spellCheck={false} />
      <button type="button" onClick={() => signIn({ apiKey, user })}>
        Continue
      </button>
    </section>
  );
}

/** Before anyone is signed in: what the server runs, sign-up (when open) or a key. */
export function StartScreen() {
  const info = useServerInfo();
  const [created, setCreated] = useState<CreatedUser>();
  return (
    <main className="start">
      <h1>Chat history</h1>
      <ProviderNote info={info.data} />
      {info.error ? <ErrorNote error={info.error} /> : null}
      {created ? (
        <NewKey created={created} />
      ) : (
        <div className="start-forms">
          {info.data?.signup_open ? <SignUpForm onCreated={setCreated} /> : null}
          <KeyForm />
        </div>
      )}
    </main>
  );
}
