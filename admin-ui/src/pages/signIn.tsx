/** Sign-in with an API token: the token's role decides everything the console shows and allows. */
import { useState } from 'preact/hooks';
import { gql } from '../api.js';
import { ErrorBox, Field, useAction } from '../components.js';
import { SignInViewerDocument } from '../gql/graphql.js';
import { startSession, type Viewer } from '../session.js';

export async function signIn(token: string): Promise<Viewer> {
  const { viewer } = await gql(SignInViewerDocument, {}, token);
  startSession(token, viewer);
  return viewer;
}

export function SignIn({ notice }: { notice: string | null }) {
  const [token, setToken] = useState('');
  const action = useAction(signIn);
  const submit = (event: Event) => {
    event.preventDefault();
    if (token.trim()) void action.run(token.trim());
  };
  return (
    <main class="signin" id="main">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Switchyard</h1>
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
        <Field label="API token" hint="Paste the token your administrator gave you. It is kept only for this browser tab.">
          {(props) => (
            <input
              {...props}
              type="password"
              autoComplete="off"
              spellcheck={false}
              value={token}
              onInput={(e) => setToken(e.currentTarget.value)}
              required
            />
          )}
        </Field>
        <ErrorBox error={action.error} title="Could not sign in" />
        <button type="submit" class="primary" disabled={action.pending || !token.trim()}>
          {action.pending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
