/**
 * The tenant's credentials: metadata only (the API never returns a secret), and for roles
 * that may write them a write-only form. Secret fields are uncontrolled password inputs read
 * once on submit and emptied at once, so no secret is kept in state, shown or stored.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, gql } from '../api.js';
import { ErrorBox, Field, Guard, Page, Section, Table, Time, useAction, useLoad } from '../components.js';
import {
  CredentialsDeleteDocument,
  CredentialsListDocument,
  CredentialsSetDocument,
  type CredentialsFieldsFragment,
  type SetCredentialInput,
} from '../gql/graphql.js';
import { can } from '../session.js';

type Credential = CredentialsFieldsFragment;

/** A credential's config (JSON in the schema): its settings, which are strings. */
function configOf({ config }: Credential): Record<string, string> {
  if (typeof config !== 'object' || config === null) return {};
  return Object.fromEntries(Object.entries(config).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

interface FieldSpec {
  field: string;
  label: string;
  hint?: string;
}
interface TypeSpec {
  label: string;
  secret: FieldSpec[];
  config: FieldSpec[];
}

/** The types SetCredentialInput takes (core/graphql/schema.ts), with their secret and config fields. */
const TYPES: Record<string, TypeSpec> = {
  bearer: { label: 'bearer: sent as Authorization: Bearer <token>', secret: [{ field: 'token', label: 'Token' }], config: [] },
  basic: {
    label: 'basic: HTTP basic authentication',
    secret: [
      { field: 'username', label: 'Username' },
      { field: 'password', label: 'Password' },
    ],
    config: [],
  },
  header: {
    label: 'header: the token in a header you name',
    secret: [{ field: 'token', label: 'Token' }],
    config: [{ field: 'headerName', label: 'Header name', hint: 'Such as X-Api-Key (not Host, Authorization or Cookie).' }],
  },
  query: {
    label: 'query: the token in a query parameter',
    secret: [{ field: 'token', label: 'Token' }],
    config: [{ field: 'paramName', label: 'Query parameter name', hint: 'Such as api_key.' }],
  },
  openai: {
    label: 'openai: an OpenAI-compatible model server',
    secret: [{ field: 'token', label: 'API key' }],
    config: [{ field: 'baseUrl', label: 'Base URL', hint: 'Such as https://api.openai.com, or a model server on your own network.' }],
  },
};

interface FormState {
  name: string;
  type: string;
  config: Record<string, string>;
  hosts: string;
  replacing: string | null;
}
const EMPTY: FormState = { name: '', type: 'bearer', config: {}, hosts: '', replacing: null };

const parseHosts = (text: string): string[] => text.split(/[\s,]+/).filter(Boolean);

/** The API's BAD_USER_INPUT names the input path; this says which control it belongs to and what is wrong. */
function fieldError(error: unknown, control: string): string | null {
  if (!(error instanceof ApiError)) return null;
  const path = error.extensions['inputPath'];
  if (typeof path !== 'string') return null;
  const problem = error.message.startsWith(`${path}: `) ? error.message.slice(path.length + 2) : error.message;
  const owner = path.startsWith('input.allowedHosts')
    ? 'hosts'
    : path === 'input.name'
      ? 'name'
      : path === 'input.type'
        ? 'type'
        : path.startsWith('input.secret')
          ? `secret.${path.split('.')[2] ?? ''}`
          : path.startsWith('input.config')
            ? `config.${path.split('.')[2] ?? ''}`
            : null;
  if (owner === control) return problem;
  // input.secret or input.config as a whole: the type's first such field.
  if (owner === 'secret.' && control.startsWith('secret.')) return problem;
  if (owner === 'config.' && control.startsWith('config.')) return problem;
  return null;
}

function CredentialForm({
  form,
  setForm,
  existing,
  onSaved,
}: {
  form: FormState;
  setForm: (f: FormState) => void;
  existing: string[];
  onSaved: (message: string) => void;
}) {
  const formRef = useRef<HTMLFormElement>(null);
  // A new generation mounts fresh, empty secret inputs (a new type, a row to replace, a reset).
  const [generation, setGeneration] = useState(0);
  const save = useAction((input: SetCredentialInput) => gql(CredentialsSetDocument, { input }));
  const spec = TYPES[form.type] ?? TYPES['bearer']!;
  const update = (patch: Partial<FormState>) => {
    save.clear();
    setForm({ ...form, ...patch });
  };

  useEffect(() => {
    // Another row to replace (or none): nothing typed for the previous one carries over.
    const secrets = [...(formRef.current?.querySelectorAll<HTMLInputElement>('input[type=password]') ?? [])];
    for (const input of secrets) input.value = '';
    if (form.replacing) secrets[0]?.focus();
  }, [form.replacing]);

  const submit = async (event: Event) => {
    event.preventDefault();
    const secretInputs = spec.secret.map((f) => formRef.current!.elements.namedItem(`secret-${f.field}`) as HTMLInputElement);
    const secret: Record<string, string> = {};
    spec.secret.forEach((f, i) => {
      secret[f.field] = secretInputs[i]!.value;
    });
    // Read once and emptied at once: whatever the API answers, the secret is not left in the page.
    for (const input of secretInputs) input.value = '';
    const config: Record<string, string> = {};
    for (const f of spec.config) config[f.field] = form.config[f.field]?.trim() ?? '';
    const result = await save.run({
      name: form.name.trim(),
      type: form.type,
      secret,
      allowedHosts: parseHosts(form.hosts),
      ...(spec.config.length ? { config } : {}),
    });
    if (!result) return;
    const saved = result.setCredential;
    const replaced = form.replacing === saved.name || existing.includes(saved.name);
    setForm(EMPTY);
    setGeneration((g) => g + 1);
    onSaved(replaced ? `Replaced credential ${saved.name}: the new secret is used from now on.` : `Saved credential ${saved.name}.`);
  };

  const title = form.replacing ? `Replace credential ${form.replacing}` : 'Add a credential';
  const replacesExisting = !form.replacing && existing.includes(form.name.trim());
  return (
    <Section title={title}>
      <p class="muted">
        Secrets are write-only: the appliance never shows them again, and this form never shows them at all. To change a secret, enter the
        new one.
      </p>
      <form ref={formRef} onSubmit={submit} autocomplete="off" aria-label={title}>
        <div class="grid-2">
          <Field
            label="Name"
            hint={
              replacesExisting
                ? 'A credential with this name exists: saving replaces its secret, hosts and settings.'
                : 'Letters, digits, ".", "_" or "-"; steps refer to it by this name.'
            }
            error={fieldError(save.error, 'name')}
          >
            {(props) => (
              <input
                {...props}
                value={form.name}
                autocomplete="off"
                spellcheck={false}
                onInput={(e) => update({ name: e.currentTarget.value })}
              />
            )}
          </Field>
          <Field label="Type" error={fieldError(save.error, 'type')}>
            {(props) => (
              <select
                {...props}
                value={form.type}
                onChange={(e) => {
                  update({ type: e.currentTarget.value, config: {} });
                  setGeneration((g) => g + 1);
                }}
              >
                {Object.entries(TYPES).map(([value, t]) => (
                  <option value={value}>{t.label}</option>
                ))}
              </select>
            )}
          </Field>
          {spec.secret.map((f) => (
            <Field
              key={`${generation}-${form.type}-${f.field}`}
              label={f.label}
              hint="Write-only."
              error={fieldError(save.error, `secret.${f.field}`)}
            >
              {(props) => <input {...props} type="password" name={`secret-${f.field}`} autocomplete="off" spellcheck={false} />}
            </Field>
          ))}
          {spec.config.map((f) => (
            <Field key={`${form.type}-${f.field}`} label={f.label} hint={f.hint} error={fieldError(save.error, `config.${f.field}`)}>
              {(props) => (
                <input
                  {...props}
                  value={form.config[f.field] ?? ''}
                  autocomplete="off"
                  spellcheck={false}
                  onInput={(e) => update({ config: { ...form.config, [f.field]: e.currentTarget.value } })}
                />
              )}
            </Field>
          ))}
          <Field
            label="Allowed hosts"
            hint="One per line or comma-separated, such as api.example.com or *.example.com. The secret is sent to no other host."
            error={fieldError(save.error, 'hosts')}
          >
            {(props) => (
              <textarea
                {...props}
                class="hosts"
                value={form.hosts}
                spellcheck={false}
                onInput={(e) => update({ hosts: e.currentTarget.value })}
              />
            )}
          </Field>
        </div>
        {save.error ? (
          <div>
            <ErrorBox error={save.error} title="Could not save the credential" />
            <p class="muted">The secret fields were emptied: enter the secret again.</p>
          </div>
        ) : null}
        <div class="row">
          <button type="submit" class="primary" disabled={save.pending}>
            {save.pending ? 'Saving…' : form.replacing ? 'Replace credential' : 'Save credential'}
          </button>
          {form.replacing || form.name || form.hosts ? (
            <button
              type="button"
              disabled={save.pending}
              onClick={() => {
                save.clear();
                setForm(EMPTY);
                setGeneration((g) => g + 1);
              }}
            >
              Cancel
            </button>
          ) : null}
        </div>
      </form>
    </Section>
  );
}

export function CredentialsPage() {
  const loaded = useLoad(() => gql(CredentialsListDocument), []);
  const writer = can('credential:write');
  const [form, setForm] = useState<FormState>(EMPTY);
  const [message, setMessage] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const remove = useAction((name: string) => gql(CredentialsDeleteDocument, { name }));

  const saved = (text: string) => {
    setMessage(text);
    loaded.reload();
  };
  const confirmDelete = async (name: string) => {
    const result = await remove.run(name);
    setConfirming(null);
    if (!result) return;
    if (form.replacing === name) setForm(EMPTY);
    saved(`Deleted credential ${name}.`);
  };

  const names = loaded.data?.credentials.map((c) => c.name) ?? [];
  return (
    <Page title="Credentials">
      {message ? (
        <p class="success" role="status">
          {message}
        </p>
      ) : null}
      <ErrorBox error={remove.error} title="Could not delete the credential" />
      <Section title="Credentials of this tenant">
        {!writer ? <p class="muted">Your role may see which credentials exist, not change them.</p> : null}
        <Guard
          loaded={loaded}
          what="the credentials"
          empty={(d) => (d.credentials.length === 0 ? (writer ? 'No credentials yet. Add one below.' : 'No credentials yet.') : null)}
        >
          {({ credentials }) => (
            <Table
              caption="Credentials"
              rowKey={(c) => c.id}
              rows={credentials}
              columns={[
                { label: 'Name', cell: (c) => <strong>{c.name}</strong> },
                { label: 'Type', cell: (c) => <code>{c.type}</code> },
                {
                  label: 'Config',
                  cell: (c) => {
                    const config = configOf(c);
                    return Object.keys(config).length === 0 ? (
                      <span class="muted">none</span>
                    ) : (
                      <ul class="values">
                        {Object.entries(config).map(([k, v]) => (
                          <li>
                            <span class="muted">{k}:</span> <code>{v}</code>
                          </li>
                        ))}
                      </ul>
                    );
                  },
                },
                {
                  label: 'Allowed hosts',
                  cell: (c) => (
                    <ul class="values">
                      {c.allowedHosts.map((h) => (
                        <li>
                          <code>{h}</code>
                        </li>
                      ))}
                    </ul>
                  ),
                },
                { label: 'Created', cell: (c) => <Time value={c.createdAt} /> },
                { label: 'Updated', cell: (c) => <Time value={c.updatedAt} /> },
                ...(writer
                  ? [
                      {
                        label: 'Actions',
                        cell: (c: Credential) => (
                          <div class="row">
                            <button
                              type="button"
                              aria-label={`Replace ${c.name}`}
                              disabled={remove.pending}
                              onClick={() => {
                                setMessage(null);
                                setConfirming(null);
                                setForm({
                                  name: c.name,
                                  type: c.type in TYPES ? c.type : 'bearer',
                                  config: configOf(c),
                                  hosts: c.allowedHosts.join('\n'),
                                  replacing: c.name,
                                });
                              }}
                            >
                              Replace
                            </button>
                            {confirming === c.name ? (
                              <>
                                <button
                                  type="button"
                                  class="danger"
                                  aria-label={`Confirm delete ${c.name}`}
                                  disabled={remove.pending}
                                  onClick={() => confirmDelete(c.name)}
                                >
                                  {remove.pending ? 'Deleting…' : 'Confirm delete'}
                                </button>
                                <button
                                  type="button"
                                  aria-label={`Cancel deleting ${c.name}`}
                                  disabled={remove.pending}
                                  onClick={() => setConfirming(null)}
                                >
                                  Cancel
                                </button>
                              </>
                            ) : (
                              <button
                                type="button"
                                class="danger"
                                aria-label={`Delete ${c.name}`}
                                disabled={remove.pending}
                                onClick={() => {
                                  setMessage(null);
                                  remove.clear();
                                  setConfirming(c.name);
                                }}
                              >
                                Delete
                              </button>
                            )}
                          </div>
                        ),
                      },
                    ]
                  : []),
              ]}
            />
          )}
        </Guard>
      </Section>
      {writer ? (
        <CredentialForm
          form={form}
          setForm={(f) => {
            setMessage(null);
            setForm(f);
          }}
          existing={names}
          onSaved={saved}
        />
      ) : null}
    </Page>
  );
}
