/**
 * One workflow: its versions, the chosen version's definition and graph, what changed
 * between two versions, and (by role) publishing a new version and starting a run. The
 * chosen versions live in the address (`#/workflows/<id>?version=3&compare=2`), so a
 * comparison can be shared and Back returns to the previous one.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, gql } from '../api.js';
import {
  WorkflowDetailDocument,
  WorkflowPublishVersionDocument,
  WorkflowStartRunDocument,
  WorkflowVersionDefinitionDocument,
  type StartRunInput,
  type WorkflowDetailQuery,
} from '../gql/graphql.js';
import { Empty, ErrorBox, Field, Guard, Json, Loading, Page, Section, Table, Time, parseJson, useAction, useLoad } from '../components.js';
import { Dag } from '../dag.js';
import { canonicalJson, diffJson, type DiffLine } from '../diff.js';
import { href, navigate } from '../router.js';
import { can } from '../session.js';
import { DefinitionField, definitionProblems, fieldProblem, readDefinition } from './workflows.js';
import { Triggers } from './triggers.js';

type Workflow = NonNullable<WorkflowDetailQuery['workflow']>;

/** Versions never change once published, so a definition fetched once is good for the tab's life. */
const definitions = new Map<string, unknown>();

async function loadWorkflow(id: string): Promise<Workflow | null> {
  try {
    const workflow = (await gql(WorkflowDetailDocument, { id })).workflow;
    if (workflow) definitions.set(`${id}@${workflow.latestVersion.version}`, workflow.latestVersion.definition);
    return workflow;
  } catch (error) {
    // Another tenant's workflow is NOT_FOUND too: the API does not say whether it exists.
    if (error instanceof ApiError && error.code === 'NOT_FOUND') return null;
    throw error;
  }
}

/** A version's definition, or null when the workflow has no such version. */
async function loadDefinition(id: string, version: number): Promise<{ definition: unknown } | null> {
  const key = `${id}@${version}`;
  if (definitions.has(key)) return { definition: definitions.get(key) };
  const found = (await gql(WorkflowVersionDefinitionDocument, { id, v: version })).workflow?.version;
  if (!found) return null;
  definitions.set(key, found.definition);
  return found;
}

/** A version number from the address: a positive whole number, else null. */
function versionParam(query: URLSearchParams, name: string): { value: number | null; raw: string | null } {
  const raw = query.get(name);
  if (raw === null || raw === '') return { value: null, raw: null };
  return { value: /^[1-9][0-9]{0,8}$/.test(raw) ? Number(raw) : null, raw };
}

/** Without `compare` in the address, a version is compared with the one before it. */
const defaultCompare = (version: number): number | null => (version > 1 ? version - 1 : null);

function useDefinition(id: string, version: number | null) {
  return useLoad(() => (version === null ? Promise.resolve(null) : loadDefinition(id, version)), [id, version]);
}

/** Unchanged lines kept around each change; longer unchanged stretches fold into one line. */
const CONTEXT = 3;

function DiffView({ lines, all }: { lines: DiffLine[]; all: boolean }) {
  const keep = lines.map(() => all);
  if (!all) {
    lines.forEach((line, i) => {
      if (line.kind === 'same') return;
      for (let k = Math.max(0, i - CONTEXT); k <= Math.min(lines.length - 1, i + CONTEXT); k++) keep[k] = true;
    });
  }
  const out: JSX.Element[] = [];
  for (let i = 0; i < lines.length;) {
    if (keep[i]) {
      const line = lines[i]!;
      out.push(
        <div class={line.kind}>
          <span class="visually-hidden">{line.kind === 'added' ? 'Added: ' : line.kind === 'removed' ? 'Removed: ' : ''}</span>
          {line.text}
        </div>,
      );
      i++;
      continue;
    }
    let j = i;
    while (j < lines.length && !keep[j]) j++;
    out.push(
      <div class="same folded">
        … {j - i} unchanged line{j - i === 1 ? '' : 's'} …
      </div>,
    );
    i = j;
  }
  return (
    <div class="diff" role="region" aria-label="Changes, line by line" tabIndex={0}>
      {out}
    </div>
  );
}

type Definition = ReturnType<typeof useDefinition>;

function Compare({ workflow, from, to, shown }: { workflow: Workflow; from: number | null; to: number; shown: Definition }) {
  const [all, setAll] = useState(false);
  const base = useDefinition(workflow.id, from);
  const select = (which: 'version' | 'compare', value: string) => {
    navigate(
      `workflows/${workflow.id}`,
      which === 'version' ? { version: value, compare: from === null ? null : String(from) } : { version: String(to), compare: value },
    );
  };
  const options = workflow.versions.map((v) => (
    <option value={String(v.version)}>
      v{v.version}
      {v.version === workflow.latestVersion.version ? ' (latest)' : ''}
    </option>
  ));
  if (workflow.versions.length < 2) {
    return (
      <Section title="Compare versions">
        <Empty>There is only one version, so there is nothing to compare yet.</Empty>
      </Section>
    );
  }
  let body;
  if (from === null) body = <p class="state">Choose the version to compare with.</p>;
  else if (from === to) body = <p class="state">Both selects name v{to}: choose two different versions to see what changed.</p>;
  else if (base.error || shown.error) body = <ErrorBox error={base.error ?? shown.error} title="Could not load the versions to compare" />;
  else if (base.data === undefined || shown.data === undefined || base.loading || shown.loading)
    body = <Loading what="the versions to compare" />;
  else if (base.data === null)
    body = (
      <p class="error" role="alert">
        This workflow has no version {from}.
      </p>
    );
  else if (shown.data === null)
    body = (
      <p class="error" role="alert">
        This workflow has no version {to}.
      </p>
    );
  else {
    const diff = diffJson(base.data.definition, shown.data.definition);
    body = (
      <>
        <div class="row">
          <p class="diff-count" role="status">
            From v{from} to v{to}:{' '}
            <strong>
              {diff.added} line{diff.added === 1 ? '' : 's'} added, {diff.removed} removed
            </strong>
            .{diff.exact ? null : ' The change is too large to line up, so the changed part shows whole.'}
          </p>
          <label class="check">
            <input type="checkbox" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} /> Show unchanged lines
          </label>
        </div>
        {diff.added + diff.removed === 0 ? <Empty>The two definitions are the same.</Empty> : <DiffView lines={diff.lines} all={all} />}
      </>
    );
  }
  return (
    <Section title="Compare versions">
      <div class="filters">
        <Field label="From version">
          {(props) => (
            <select {...props} value={from === null ? '' : String(from)} onChange={(e) => select('compare', e.currentTarget.value)}>
              {from === null ? <option value="">Choose…</option> : null}
              {options}
            </select>
          )}
        </Field>
        <Field label="To version">
          {(props) => (
            <select {...props} value={String(to)} onChange={(e) => select('version', e.currentTarget.value)}>
              {options}
            </select>
          )}
        </Field>
      </div>
      {body}
    </Section>
  );
}

function PublishForm({
  workflow,
  published,
  onPublished,
}: {
  workflow: Workflow;
  published: number | null;
  onPublished: (version: number | null) => void;
}) {
  const [text, setText] = useState(() => canonicalJson(workflow.latestVersion.definition));
  const [jsonError, setJsonError] = useState<string | null>(null);
  const publish = useAction(
    async (definition: unknown) =>
      (await gql(WorkflowPublishVersionDocument, { i: { workflowId: workflow.id, definition } })).publishWorkflowVersion,
  );
  const submit = async (e: Event) => {
    e.preventDefault();
    publish.clear();
    onPublished(null);
    const definition = readDefinition(text);
    setJsonError(definition.error ?? null);
    if (definition.error) return;
    const version = await publish.run(definition.value);
    if (version) onPublished(version.version);
  };
  return (
    <Section title="Publish new version">
      <form onSubmit={submit} aria-label="Publish new version" noValidate>
        <DefinitionField
          value={text}
          onInput={(t) => {
            setText(t);
            setJsonError(null);
          }}
          error={jsonError ?? definitionProblems(publish.error)}
          hint={`Starts as v${workflow.latestVersion.version}, the latest. Published versions never change; runs started later use the new one by default.`}
        />
        <ErrorBox error={publish.error} title="The version was not published" />
        {published ? (
          <p class="success" role="status">
            Published v{published}. The graph and the comparison above now show it.
          </p>
        ) : null}
        <div class="row">
          <button type="submit" class="primary" disabled={publish.pending}>
            {publish.pending ? 'Publishing…' : 'Publish version'}
          </button>
          <button
            type="button"
            disabled={publish.pending}
            onClick={() => {
              setText(canonicalJson(workflow.latestVersion.definition));
              setJsonError(null);
              publish.clear();
            }}
          >
            Reset to latest
          </button>
        </div>
      </form>
    </Section>
  );
}

function StartRunForm({ workflow }: { workflow: Workflow }) {
  const latest = workflow.latestVersion.version;
  const [inputText, setInputText] = useState('');
  const [inputError, setInputError] = useState<string | null>(null);
  const [chosen, setChosen] = useState('');
  const [key, setKey] = useState('');
  const start = useAction(async (input: StartRunInput) => (await gql(WorkflowStartRunDocument, { i: input })).startRun);
  const submit = async (e: Event) => {
    e.preventDefault();
    start.clear();
    const parsed = parseJson(inputText, 'The input');
    setInputError(parsed.error ?? null);
    if (parsed.error) return;
    const run = await start.run({
      workflowId: workflow.id,
      version: Number(chosen || latest),
      ...(parsed.value === undefined ? {} : { input: parsed.value }),
      ...(key.trim() ? { idempotencyKey: key.trim() } : {}),
    });
    if (run) navigate(`runs/${run.id}`);
  };
  return (
    <Section title="Start run">
      <form onSubmit={submit} aria-label="Start run" noValidate>
        <Field
          label="Input (JSON, optional)"
          hint="What the steps read as {{ input.… }}. Empty: an empty object."
          error={inputError ?? fieldProblem(start.error, 'input.input')}
        >
          {(props) => (
            <textarea
              {...props}
              rows={6}
              spellcheck={false}
              value={inputText}
              placeholder={'{ "customer": "c-42" }'}
              onInput={(e) => {
                setInputText(e.currentTarget.value);
                setInputError(null);
              }}
            />
          )}
        </Field>
        <Field label="Version" error={fieldProblem(start.error, 'input.version')}>
          {(props) => (
            <select {...props} value={chosen || String(latest)} onChange={(e) => setChosen(e.currentTarget.value)}>
              {workflow.versions.map((v) => (
                <option value={String(v.version)}>
                  v{v.version}
                  {v.version === latest ? ' (latest)' : ''}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field
          label="Idempotency key (optional)"
          hint="Starting again with the same key returns the run it started instead of a new one."
          error={fieldProblem(start.error, 'input.idempotencyKey')}
        >
          {(props) => <input {...props} value={key} maxLength={200} autoComplete="off" onInput={(e) => setKey(e.currentTarget.value)} />}
        </Field>
        <ErrorBox error={start.error} title="The run was not started" />
        <div class="row">
          <button type="submit" class="primary" disabled={start.pending}>
            {start.pending ? 'Starting…' : 'Start run'}
          </button>
        </div>
      </form>
    </Section>
  );
}

function NotFound({ id }: { id: string }) {
  return (
    <Page title="Workflow not found">
      <div class="notice" role="status">
        There is no workflow <code>{id}</code> in this tenant. It may have been mistyped, or belong to another tenant.{' '}
        <a href={href('workflows')}>See all workflows</a>
      </div>
    </Page>
  );
}

export function WorkflowPage({ id, query }: { id: string; query: URLSearchParams }) {
  // Another workflow starts afresh: nothing of the previous one may show while it loads.
  return <WorkflowOf key={id} id={id} query={query} />;
}

function WorkflowOf({ id, query }: { id: string; query: URLSearchParams }) {
  const loaded = useLoad(() => loadWorkflow(id), [id]);
  const requested = versionParam(query, 'version');
  const compare = versionParam(query, 'compare');
  if (loaded.data === null) return <NotFound id={id} />;
  const workflow = loaded.data;
  return (
    <Page
      title={workflow ? workflow.name : 'Workflow'}
      actions={
        workflow ? (
          <a class="button" href={href('runs', { workflow: workflow.id })}>
            Runs of this workflow
          </a>
        ) : null
      }
    >
      <Guard loaded={loaded} what="the workflow">
        {(w) =>
          w && (
            <WorkflowBody
              workflow={w}
              shownVersion={requested.value ?? w.latestVersion.version}
              badVersion={requested.raw !== null && requested.value === null ? requested.raw : null}
              compare={compare.raw !== null ? compare.value : defaultCompare(requested.value ?? w.latestVersion.version)}
              reload={loaded.reload}
            />
          )
        }
      </Guard>
    </Page>
  );
}

function WorkflowBody({
  workflow,
  shownVersion,
  badVersion,
  compare,
  reload,
}: {
  workflow: Workflow;
  shownVersion: number;
  badVersion: string | null;
  compare: number | null;
  reload: () => void;
}) {
  const shown = useDefinition(workflow.id, shownVersion);
  const latest = workflow.latestVersion.version;
  const [published, setPublished] = useState<number | null>(null);
  const onPublished = (version: number | null) => {
    setPublished(version);
    if (version === null) return;
    reload();
    navigate(`workflows/${workflow.id}`, { version: String(version), compare: String(version - 1) });
  };
  const definition = shown.data?.definition;
  return (
    <>
      <dl class="facts">
        <dt>ID</dt>
        <dd class="mono">{workflow.id}</dd>
        <dt>Created</dt>
        <dd>
          <Time value={workflow.createdAt} />
        </dd>
        <dt>Latest version</dt>
        <dd>v{latest}</dd>
      </dl>
      {badVersion !== null ? (
        <p class="error" role="alert">
          “{badVersion}” in the address is not a version number; showing v{shownVersion}.
        </p>
      ) : null}
      <Section title={`Graph of v${shownVersion}`}>
        <Guard loaded={shown} what={`version ${shownVersion}`}>
          {(found) =>
            found === null ? (
              <p class="error" role="alert">
                This workflow has no version {shownVersion}. <a href={href(`workflows/${workflow.id}`)}>Show the latest (v{latest})</a>
              </p>
            ) : (
              <Dag definition={found.definition} label={`Steps of ${workflow.name} v${shownVersion}`} />
            )
          }
        </Guard>
      </Section>
      <div class="grid-2 workflow-grid">
        <Section title="Versions">
          <Table
            caption="Versions, newest first"
            rows={workflow.versions}
            rowKey={(v) => String(v.version)}
            columns={[
              {
                label: 'Version',
                cell: (v) => (
                  <span class="row">
                    <a
                      href={href(`workflows/${workflow.id}`, { version: String(v.version) })}
                      aria-current={v.version === shownVersion ? 'true' : undefined}
                    >
                      v{v.version}
                    </a>
                    {v.version === latest ? <span class="status status-succeeded">latest</span> : null}
                    {v.version === shownVersion ? <span class="muted">shown</span> : null}
                  </span>
                ),
              },
              { label: 'Published', cell: (v) => <Time value={v.createdAt} /> },
            ]}
          />
        </Section>
        <Section title={`Definition of v${shownVersion}`}>
          {definition !== undefined ? (
            <Json value={definition} label={`Definition of version ${shownVersion}`} />
          ) : shown.data === null ? (
            <Empty>No such version.</Empty>
          ) : (
            <Loading what="the definition" />
          )}
        </Section>
      </div>
      <Compare workflow={workflow} from={compare} to={shownVersion} shown={shown} />
      <Triggers workflowId={workflow.id} />
      {can('run:operate') || can('workflow:write') ? (
        <div class="grid-2 workflow-grid">
          {can('run:operate') ? <StartRunForm workflow={workflow} /> : null}
          {/* Remounted when a version is published, so the editor starts from the new latest. */}
          {can('workflow:write') ? <PublishForm key={latest} workflow={workflow} published={published} onPublished={onPublished} /> : null}
        </div>
      ) : null}
    </>
  );
}
