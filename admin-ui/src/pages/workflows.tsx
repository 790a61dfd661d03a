/**
 * The tenant's workflows, newest first, page by page; and, for roles that may write them,
 * a form that creates one from a name and a definition. A definition the API refuses is
 * explained by the API's own message, which names the path of the problem
 * (`steps[1].needs[0]`), on the definition field.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, gql } from '../api.js';
import { WorkflowsCreateDocument, WorkflowsListDocument, type CreateWorkflowInput, type WorkflowsListQuery } from '../gql/graphql.js';
import { Empty, ErrorBox, Field, Guard, Page, Section, Table, Time, parseJson, useAction, useLoad } from '../components.js';
import { href, navigate } from '../router.js';
import { can } from '../session.js';

const PAGE_SIZE = 25;

type WorkflowPage = WorkflowsListQuery['workflows'];

/** What the definition field starts with: the smallest workflow that runs. */
export const EXAMPLE_DEFINITION = `{
  "description": "Replace this example with your workflow's steps.",
  "steps": [
    { "id": "hello", "uses": "core/noop@1" }
  ]
}`;

/** A refused definition's problems, one per line, as the API lists them (`path: what is wrong`). */
export function definitionProblems(error: unknown): string | null {
  if (!(error instanceof ApiError)) return null;
  const path = error.extensions['inputPath'];
  if (typeof path === 'string' && path.startsWith('input.') && path !== 'input.definition') return null;
  if (error.code !== 'BAD_USER_INPUT' && error.code !== 'QUOTA_EXCEEDED') return null;
  const issues = error.extensions['issues'];
  if (Array.isArray(issues) && issues.length > 0) {
    return issues.map((i: { path?: unknown; message?: unknown }) => `${String(i.path ?? '(root)')}: ${String(i.message ?? '')}`).join('\n');
  }
  return error.message;
}

/** The API's problem with one named input field (`input.name`), if that is what it refused. */
export function fieldProblem(error: unknown, inputPath: string): string | null {
  return error instanceof ApiError && error.extensions['inputPath'] === inputPath ? error.message : null;
}

/**
 * A definition text area: parses on submit, shows the parse error or the API's refusal
 * on the field. Used by the create form here and the publish form of the workflow page.
 */
export function DefinitionField({
  value,
  onInput,
  error,
  hint,
}: {
  value: string;
  onInput: (text: string) => void;
  error: string | null;
  hint?: string;
}) {
  return (
    <Field
      label="Definition (JSON)"
      hint={
        hint ??
        'A JSON object with "steps": each step has an "id", what it "uses" (plugin/action@major) and optionally the steps it "needs".'
      }
      error={error}
    >
      {(props) => (
        <textarea
          {...props}
          class="definition"
          rows={14}
          spellcheck={false}
          value={value}
          onInput={(e) => onInput(e.currentTarget.value)}
        />
      )}
    </Field>
  );
}

/** Parses definition text for submission: the value, or the message for the field. */
export function readDefinition(text: string): { value?: unknown; error?: string } {
  const parsed = parseJson(text, 'The definition');
  if (parsed.error) return parsed;
  if (parsed.value === undefined) return { error: 'Enter the definition: a JSON object with "steps".' };
  if (parsed.value === null || typeof parsed.value !== 'object' || Array.isArray(parsed.value))
    return { error: 'The definition must be a JSON object, like {"steps": [...]}.' };
  return parsed;
}

function CreateForm({ onCancel }: { onCancel: () => void }) {
  const [name, setName] = useState('');
  const [text, setText] = useState(EXAMPLE_DEFINITION);
  const [nameError, setNameError] = useState<string | null>(null);
  const [jsonError, setJsonError] = useState<string | null>(null);
  const nameInput = useRef<HTMLInputElement>(null);
  // Opening the form puts the cursor where typing starts.
  useEffect(() => nameInput.current?.focus(), []);
  const create = useAction(async (input: CreateWorkflowInput) => (await gql(WorkflowsCreateDocument, { i: input })).createWorkflow);
  const submit = async (e: Event) => {
    e.preventDefault();
    create.clear();
    const trimmed = name.trim();
    const definition = readDefinition(text);
    setNameError(trimmed ? null : 'Enter a name for the workflow.');
    setJsonError(definition.error ?? null);
    if (!trimmed || definition.error) return;
    const created = await create.run({ name: trimmed, definition: definition.value });
    if (created) navigate(`workflows/${created.id}`);
  };
  const apiNameError = fieldProblem(create.error, 'input.name');
  const apiDefinitionError = definitionProblems(create.error);
  return (
    <Section title="New workflow">
      <form onSubmit={submit} aria-label="New workflow" noValidate>
        <Field label="Name" hint="Unique in the tenant, 1 to 200 characters." error={nameError ?? apiNameError}>
          {(props) => (
            <input
              {...props}
              ref={nameInput}
              value={name}
              maxLength={200}
              autoComplete="off"
              onInput={(e) => {
                setName(e.currentTarget.value);
                setNameError(null);
              }}
            />
          )}
        </Field>
        <DefinitionField
          value={text}
          onInput={(t) => {
            setText(t);
            setJsonError(null);
          }}
          error={jsonError ?? apiDefinitionError}
        />
        <ErrorBox error={create.error} title="The workflow was not created" />
        <div class="row">
          <button type="submit" class="primary" disabled={create.pending}>
            {create.pending ? 'Creating…' : 'Create workflow'}
          </button>
          <button type="button" onClick={onCancel} disabled={create.pending}>
            Cancel
          </button>
        </div>
      </form>
    </Section>
  );
}

export function WorkflowsPage() {
  const writable = can('workflow:write');
  const [creating, setCreating] = useState(false);
  const first = useLoad(async () => (await gql(WorkflowsListDocument, { n: PAGE_SIZE })).workflows, []);
  const [more, setMore] = useState<WorkflowPage | null>(null);
  const loadMore = useAction(async (cursor: string) => {
    const page = (await gql(WorkflowsListDocument, { n: PAGE_SIZE, a: cursor })).workflows;
    setMore((m) => ({ nodes: [...(m?.nodes ?? []), ...page.nodes], pageInfo: page.pageInfo }));
  });
  const refresh = () => {
    setMore(null);
    first.reload();
  };
  return (
    <Page
      title="Workflows"
      actions={
        <>
          {writable && !creating ? (
            <button type="button" class="primary" onClick={() => setCreating(true)}>
              New workflow
            </button>
          ) : null}
          <button type="button" onClick={refresh} disabled={first.loading}>
            Refresh
          </button>
        </>
      }
    >
      {writable && creating ? <CreateForm onCancel={() => setCreating(false)} /> : null}
      <Guard loaded={first} what="workflows">
        {(page) => {
          const rows = [...page.nodes, ...(more?.nodes ?? [])];
          const pageInfo = more?.pageInfo ?? page.pageInfo;
          if (rows.length === 0) {
            return (
              <Empty>
                No workflows yet.
                {writable ? ' Create one with “New workflow”.' : ' An editor or administrator of the tenant can create them.'}
              </Empty>
            );
          }
          return (
            <>
              <Table
                caption="Workflows"
                rows={rows}
                rowKey={(w) => w.id}
                columns={[
                  { label: 'Name', cell: (w) => <a href={href(`workflows/${w.id}`)}>{w.name}</a> },
                  { label: 'Latest version', class: 'num', cell: (w) => `v${w.latestVersion.version}` },
                  { label: 'Published', cell: (w) => <Time value={w.latestVersion.createdAt} /> },
                  { label: 'Created', cell: (w) => <Time value={w.createdAt} /> },
                ]}
              />
              <div class="row">
                <span class="muted" role="status">
                  {rows.length} workflow{rows.length === 1 ? '' : 's'} shown{pageInfo.hasNextPage ? ', more available' : ''}.
                </span>
                {pageInfo.hasNextPage && pageInfo.endCursor ? (
                  <button type="button" onClick={() => void loadMore.run(pageInfo.endCursor!)} disabled={loadMore.pending}>
                    {loadMore.pending ? 'Loading…' : 'Load more'}
                  </button>
                ) : null}
              </div>
              <ErrorBox error={loadMore.error} title="Could not load more workflows" />
            </>
          );
        }}
      </Guard>
    </Page>
  );
}
