/**
 * API tokens of one tenant (or the system administrators'): list, create and revoke. A new
 * token is shown once, held only in this component's state: it is gone when dismissed or
 * when the page changes, and never stored.
 */
import { useState } from 'preact/hooks';
import { gql } from './api.js';
import {
  ApiTokenListCreateDocument,
  ApiTokenListRevokeDocument,
  ApiTokenListTokensDocument,
  type ApiTokenListFieldsFragment,
  type CreateApiTokenInput,
  type Role,
} from './gql/graphql.js';
import { ErrorBox, Field, Guard, Status, Table, Time, useAction, useLoad } from './components.js';

type ApiToken = ApiTokenListFieldsFragment;
/** The roles a token may be created with, the first preselected. */
export type TokenRoles = [Role, ...Role[]];

export const TENANT_ROLES: TokenRoles = ['ADMIN', 'EDITOR', 'OPERATOR', 'VIEWER', 'AUDITOR'];
const MAX_EXPIRY_DAYS = 3650;

function CreatedToken({ token, name, onDismiss }: { token: string; name: string; onDismiss: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="secret-once" role="status" aria-live="polite">
      <strong>Token “{name}” created. Copy it now: it is shown only this once and cannot be recovered.</strong>
      <code aria-label="New API token">{token}</code>
      <div class="row">
        <button
          type="button"
          onClick={() =>
            navigator.clipboard?.writeText(token).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy token'}
        </button>
        <button type="button" class="primary" onClick={onDismiss}>
          I have stored it
        </button>
      </div>
    </div>
  );
}

function RevokeButton({ token, onRevoked }: { token: ApiToken; onRevoked: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const revoke = useAction(async () => gql(ApiTokenListRevokeDocument, { id: token.id }));
  if (token.revokedAt) return <span class="muted">—</span>;
  if (!confirming)
    return (
      <button type="button" class="danger" onClick={() => setConfirming(true)}>
        Revoke
      </button>
    );
  return (
    <div class="row">
      <button
        type="button"
        class="danger"
        disabled={revoke.pending}
        onClick={async () => {
          if (await revoke.run()) onRevoked();
        }}
      >
        Confirm revoke of {token.name}
      </button>
      <button type="button" onClick={() => setConfirming(false)}>
        Keep
      </button>
      <ErrorBox error={revoke.error} title="Could not revoke" />
    </div>
  );
}

export function ApiTokenList({ tenantId, roles }: { tenantId: string | null; roles: TokenRoles }) {
  const loaded = useLoad(() => gql(ApiTokenListTokensDocument, { t: tenantId }), [tenantId]);
  const [name, setName] = useState('');
  const [role, setRole] = useState(roles[0]);
  const [days, setDays] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [created, setCreated] = useState<{ token: string; name: string } | null>(null);
  const create = useAction(async (input: CreateApiTokenInput) => gql(ApiTokenListCreateDocument, { i: input }));

  const submit = async (event: Event) => {
    event.preventDefault();
    setProblem(null);
    let expiresInSeconds: number | undefined;
    if (days.trim() !== '') {
      const n = Number(days);
      if (!Number.isInteger(n) || n < 1 || n > MAX_EXPIRY_DAYS) {
        setProblem(`Expires in (days) must be a whole number from 1 to ${MAX_EXPIRY_DAYS}, or empty for no expiry`);
        return;
      }
      expiresInSeconds = n * 86_400;
    }
    const result = await create.run({
      ...(tenantId ? { tenantId } : {}),
      role,
      name: name.trim(),
      ...(expiresInSeconds ? { expiresInSeconds } : {}),
    });
    if (result) {
      setCreated({ token: result.createApiToken.token, name: result.createApiToken.apiToken.name });
      setName('');
      setDays('');
      loaded.reload();
    }
  };

  return (
    <div class="token-list">
      {created ? <CreatedToken token={created.token} name={created.name} onDismiss={() => setCreated(null)} /> : null}
      <Guard loaded={loaded} what="the tokens" empty={(d) => (d.apiTokens.nodes.length === 0 ? 'No tokens yet.' : null)}>
        {(d) => (
          <Table
            caption="API tokens"
            rowKey={(t) => t.id}
            rows={d.apiTokens.nodes}
            columns={[
              { label: 'Name', cell: (t) => t.name },
              { label: 'Role', cell: (t) => t.role },
              { label: 'Prefix', cell: (t) => <code>{t.prefix}</code> },
              { label: 'Created', cell: (t) => <Time value={t.createdAt} /> },
              { label: 'Last used', cell: (t) => <Time value={t.lastUsedAt} /> },
              { label: 'Expires', cell: (t) => (t.expiresAt ? <Time value={t.expiresAt} /> : <span class="muted">never</span>) },
              {
                label: 'State',
                cell: (t) =>
                  t.revokedAt ? (
                    <>
                      <Status value="REVOKED" /> <Time value={t.revokedAt} />
                    </>
                  ) : (
                    <Status value={t.expiresAt && new Date(t.expiresAt) < new Date() ? 'EXPIRED' : 'ACTIVE'} />
                  ),
              },
              { label: 'Actions', cell: (t) => <RevokeButton token={t} onRevoked={loaded.reload} /> },
            ]}
          />
        )}
      </Guard>
      <form onSubmit={submit} class="inline-form" aria-label="Create a token">
        <div class="filters">
          <Field label="Token name">
            {(p) => <input {...p} value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={200} />}
          </Field>
          <Field label="Role">
            {(p) => (
              <select
                {...p}
                value={role}
                onChange={(e) => {
                  const picked = roles.find((r) => r === e.currentTarget.value);
                  if (picked) setRole(picked);
                }}
              >
                {roles.map((r) => (
                  <option value={r}>{r}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Expires in (days)" hint="Empty: never" error={problem}>
            {(p) => <input {...p} inputMode="numeric" value={days} onInput={(e) => setDays(e.currentTarget.value)} />}
          </Field>
          <button type="submit" class="primary" disabled={create.pending || !name.trim()}>
            {create.pending ? 'Creating…' : 'Create token'}
          </button>
        </div>
        <ErrorBox error={create.error} title="Could not create the token" />
      </form>
    </div>
  );
}
