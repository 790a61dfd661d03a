/**
 * The tenant's runs, newest first, filtered by status, workflow and creation time. The
 * filters live in the address (`#/runs?status=FAILED&workflow=<id>&after=<ISO>&before=<ISO>`)
 * so a filtered list can be shared and Back returns to the previous filter.
 */
import { useEffect, useState } from 'preact/hooks';
import { gql } from '../api.js';
import {
  RunListRunsDocument,
  RunListWorkflowsDocument,
  type RunFilter,
  type RunListRunsQuery,
  type RunListWorkflowsQuery,
  type RunStatus,
} from '../gql/graphql.js';
import { Duration, Empty, ErrorBox, Field, Guard, Page, Section, Status, Table, Time, short, useAction, useLoad } from '../components.js';
import { href, navigate } from '../router.js';
import { can } from '../session.js';

export const RUN_STATUSES = [
  'QUEUED',
  'RUNNING',
  'WAITING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'TIMED_OUT',
] as const satisfies readonly RunStatus[];
const PAGE_SIZE = 25;

type RunPage = RunListRunsQuery['runs'];
type RunRow = RunPage['nodes'][number];
type WorkflowOption = RunListWorkflowsQuery['workflows']['nodes'][number];

/** A status from the address as the API's enum, or null when it names none. */
const runStatus = (value: string): RunStatus | null => RUN_STATUSES.find((s) => s === value) ?? null;

/** Enough for a select; a tenant with more workflows still filters by any of them through the address. */
const MAX_WORKFLOW_PAGES = 10;

type Filters = { status: string; workflow: string; after: string; before: string };

function filtersOf(query: URLSearchParams): Filters {
  return {
    status: query.get('status') ?? '',
    workflow: query.get('workflow') ?? '',
    after: query.get('after') ?? '',
    before: query.get('before') ?? '',
  };
}

const validDate = (value: string): boolean => value === '' || !Number.isNaN(new Date(value).getTime());
const validStatus = (value: string): boolean => value === '' || runStatus(value) !== null;

/** An ISO instant as a datetime-local value (the browser's time zone, to the minute). */
function toLocalInput(iso: string): string {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A datetime-local value (local time) as an ISO instant. */
const fromLocalInput = (local: string): string => (local ? new Date(local).toISOString() : '');

async function loadWorkflows(): Promise<WorkflowOption[]> {
  const all: WorkflowOption[] = [];
  let after: string | null = null;
  for (let page = 0; page < MAX_WORKFLOW_PAGES; page++) {
    // Annotated: `after` is assigned from the answer, so its type cannot be inferred from the call.
    const data: RunListWorkflowsQuery = await gql(RunListWorkflowsDocument, { a: after });
    all.push(...data.workflows.nodes);
    if (!data.workflows.pageInfo.hasNextPage) break;
    after = data.workflows.pageInfo.endCursor;
  }
  return all.sort((a, b) => a.name.localeCompare(b.name));
}

function apply(filters: Filters): void {
  navigate('runs', filters);
}

function FilterForm({ filters, workflows }: { filters: Filters; workflows: WorkflowOption[] | undefined }) {
  // The date fields are applied together with the form; the selects apply as soon as they change.
  const [after, setAfter] = useState(toLocalInput(filters.after));
  const [before, setBefore] = useState(toLocalInput(filters.before));
  const statusError = !validStatus(filters.status) ? `"${filters.status}" in the address is not a run status` : null;
  const afterError = !validDate(filters.after) ? `"${filters.after}" in the address is not a date and time` : null;
  const orderError = after && before && new Date(after) >= new Date(before) ? 'must be later than "Created after"' : null;
  const beforeError = !validDate(filters.before) ? `"${filters.before}" in the address is not a date and time` : orderError;
  const known = workflows?.some((w) => w.id === filters.workflow) ?? false;
  const active = Object.values(filters).some(Boolean);
  return (
    <form
      class="filters"
      aria-label="Filter runs"
      onSubmit={(e) => {
        e.preventDefault();
        apply({ ...filters, after: fromLocalInput(after), before: fromLocalInput(before) });
      }}
    >
      <Field label="Status" error={statusError}>
        {(props) => (
          <select {...props} value={filters.status} onChange={(e) => apply({ ...filters, status: e.currentTarget.value })}>
            <option value="">Any status</option>
            {RUN_STATUSES.map((s) => (
              <option value={s}>{s.replace('_', ' ')}</option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Workflow" hint={workflows === undefined && can('workflow:read') ? 'Loading workflows…' : undefined}>
        {(props) => (
          <select {...props} value={filters.workflow} onChange={(e) => apply({ ...filters, workflow: e.currentTarget.value })}>
            <option value="">Any workflow</option>
            {filters.workflow && !known ? <option value={filters.workflow}>Workflow {filters.workflow}</option> : null}
            {(workflows ?? []).map((w) => (
              <option value={w.id}>{w.name}</option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Created after" error={afterError}>
        {(props) => <input {...props} type="datetime-local" value={after} onInput={(e) => setAfter(e.currentTarget.value)} />}
      </Field>
      <Field label="Created before" error={beforeError}>
        {(props) => <input {...props} type="datetime-local" value={before} onInput={(e) => setBefore(e.currentTarget.value)} />}
      </Field>
      <div class="row">
        <button type="submit" class="primary" disabled={orderError !== null}>
          Apply filters
        </button>
        {active ? (
          <a class="button" href={href('runs')}>
            Clear filters
          </a>
        ) : null}
      </div>
    </form>
  );
}

export function RunsPage({ query }: { query: URLSearchParams }) {
  const filters = filtersOf(query);
  const key = JSON.stringify(filters);
  const datesValid = validDate(filters.after) && validDate(filters.before);
  const valid = datesValid && validStatus(filters.status);
  const status = runStatus(filters.status);
  const filter: RunFilter = {
    ...(status ? { status } : {}),
    ...(filters.workflow ? { workflowId: filters.workflow } : {}),
    ...(filters.after ? { createdAfter: filters.after } : {}),
    ...(filters.before ? { createdBefore: filters.before } : {}),
  };
  const workflows = useLoad(() => (can('workflow:read') ? loadWorkflows() : Promise.resolve([])), []);
  const first = useLoad(async () => (valid ? (await gql(RunListRunsDocument, { f: filter, n: PAGE_SIZE })).runs : null), [key]);
  // Further pages, for the filter they were loaded with.
  const [more, setMore] = useState<{ key: string; nodes: RunRow[]; pageInfo: RunPage['pageInfo'] } | null>(null);
  // Another filter starts from its first page again (the earlier pages may be stale by now).
  useEffect(() => setMore(null), [key]);
  const extra = more?.key === key ? more : null;
  const loadMore = useAction(async (cursor: string) => {
    const page = (await gql(RunListRunsDocument, { f: filter, n: PAGE_SIZE, a: cursor })).runs;
    setMore({ key, nodes: [...(extra?.nodes ?? []), ...page.nodes], pageInfo: page.pageInfo });
  });
  const refresh = () => {
    setMore(null);
    first.reload();
  };
  const active = Object.values(filters).some(Boolean);
  return (
    <Page
      title="Runs"
      actions={
        <button type="button" onClick={refresh} disabled={first.loading}>
          Refresh
        </button>
      }
    >
      <Section title="Filters">
        {/* Remounted when the address changes (Back, a shared link), so the date fields show its filter. */}
        <FilterForm key={key} filters={filters} workflows={workflows.data} />
        <ErrorBox error={workflows.error} title="Could not load the workflows to filter by" />
      </Section>
      {!valid ? (
        <Empty>Fix the {datesValid ? 'status' : 'dates'} in the filters to see runs.</Empty>
      ) : (
        <Guard loaded={first} what="runs">
          {(page) => {
            if (!page) return null;
            const rows = [...page.nodes, ...(extra?.nodes ?? [])];
            const pageInfo = extra?.pageInfo ?? page.pageInfo;
            if (rows.length === 0) {
              return (
                <Empty>
                  {active ? (
                    <>
                      No run matches these filters. <a href={href('runs')}>Show all runs</a>
                    </>
                  ) : (
                    'No runs yet. Runs appear here once a workflow is started.'
                  )}
                </Empty>
              );
            }
            return (
              <>
                <Table
                  caption={active ? 'Runs matching the filters' : 'Runs'}
                  rows={rows}
                  rowKey={(r) => r.id}
                  columns={[
                    {
                      label: 'Run',
                      cell: (r) => (
                        <a class="mono" href={href(`runs/${r.id}`)} title={r.id}>
                          {short(r.id)}
                        </a>
                      ),
                    },
                    {
                      label: 'Workflow',
                      cell: (r) => (
                        <>
                          {r.workflowVersion.workflow.name} <span class="muted">v{r.workflowVersion.version}</span>
                        </>
                      ),
                    },
                    { label: 'Status', cell: (r) => <Status value={r.status} /> },
                    { label: 'Created', cell: (r) => <Time value={r.createdAt} /> },
                    {
                      label: 'Duration',
                      class: 'num',
                      cell: (r) => (
                        <>
                          <Duration from={r.createdAt} to={r.finishedAt} />
                          {r.finishedAt ? null : <span class="muted"> so far</span>}
                        </>
                      ),
                    },
                  ]}
                />
                <div class="row">
                  <span class="muted" role="status">
                    {rows.length} run{rows.length === 1 ? '' : 's'} shown{pageInfo.hasNextPage ? ', more available' : ''}.
                  </span>
                  {pageInfo.hasNextPage && pageInfo.endCursor ? (
                    <button type="button" onClick={() => void loadMore.run(pageInfo.endCursor!)} disabled={loadMore.pending}>
                      {loadMore.pending ? 'Loading…' : 'Load more'}
                    </button>
                  ) : null}
                </div>
                <ErrorBox error={loadMore.error} title="Could not load more runs" />
              </>
            );
          }}
        </Guard>
      )}
    </Page>
  );
}
