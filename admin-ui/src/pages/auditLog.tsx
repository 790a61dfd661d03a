/**
 * The audit log for auditors and administrators: the chain's events with filters, the
 * certificate that signs it, and the signed export a compliance officer hands on, with the
 * appliance's own verification of it shown before it is downloaded.
 */
import { useState } from 'preact/hooks';
import { fetchFile, gql } from '../api.js';
import { ErrorBox, Field, Guard, Json, Page, Section, Status, Table, Time, useAction, useLoad } from '../components.js';
import {
  AuditLogCertificateDocument,
  AuditLogEventsDocument,
  AuditLogExportDocument,
  AuditLogTenantsDocument,
  type AuditExportInput,
  type AuditFilter,
  type AuditLogEventsQuery,
  type AuditLogExportMutation,
  type AuditLogTenantsQuery,
} from '../gql/graphql.js';
import { currentSession } from '../session.js';

type AuditEvent = AuditLogEventsQuery['auditEvents']['nodes'][number];
type AuditExport = AuditLogExportMutation['exportAuditReport'];
type Tenant = AuditLogTenantsQuery['tenants']['nodes'][number];

/** A datetime-local value as ISO, or a message naming the field. */
function isoOf(value: string, label: string): { iso?: string; problem?: string } {
  if (!value) return {};
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? { problem: `${label} is not a valid date and time` } : { iso: date.toISOString() };
}

function Filters({
  onApply,
  tenants,
  initialTenant,
}: {
  onApply: (filter: AuditFilter) => void;
  tenants: Tenant[] | null;
  initialTenant: string;
}) {
  const [action, setAction] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [tenant, setTenant] = useState(initialTenant);
  const [problem, setProblem] = useState<string | null>(null);
  const current = (chain: string): AuditFilter | null => {
    const f = isoOf(from, 'From');
    const t = isoOf(to, 'To');
    const found = f.problem ?? t.problem ?? (f.iso && t.iso && f.iso >= t.iso ? 'From must be before To' : null);
    setProblem(found);
    if (found) return null;
    return {
      ...(action.trim() ? { action: action.trim() } : {}),
      ...(f.iso ? { from: f.iso } : {}),
      ...(t.iso ? { to: t.iso } : {}),
      ...(chain ? { tenantId: chain } : {}),
    };
  };
  const apply = (filter: AuditFilter | null) => {
    if (filter) onApply(filter);
  };
  const submit = (event: Event) => {
    event.preventDefault();
    apply(current(tenant));
  };
  return (
    <form onSubmit={submit} aria-label="Filter audit events">
      <div class="filters">
        {tenants ? (
          <Field label="Chain">
            {(p) => (
              // The chain applies at once: the export below takes it too, so it must never differ from what is shown.
              <select
                {...p}
                value={tenant}
                onChange={(e) => {
                  setTenant(e.currentTarget.value);
                  apply(current(e.currentTarget.value));
                }}
              >
                <option value="">The appliance's own</option>
                {tenants.map((t) => (
                  <option value={t.id}>{t.name}</option>
                ))}
              </select>
            )}
          </Field>
        ) : null}
        <Field label="Action" hint="e.g. workflow.created">
          {(p) => <input {...p} value={action} onInput={(e) => setAction(e.currentTarget.value)} />}
        </Field>
        <Field label="From">
          {(p) => <input {...p} type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />}
        </Field>
        <Field label="To">{(p) => <input {...p} type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} />}</Field>
        <button type="submit">Apply filters</button>
      </div>
      {problem ? (
        <p class="error" role="alert">
          {problem}
        </p>
      ) : null}
    </form>
  );
}

function ExportForm({ filter }: { filter: AuditFilter }) {
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [actions, setActions] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [result, setResult] = useState<AuditExport | null>(null);
  const run = useAction(async (input: AuditExportInput) => (await gql(AuditLogExportDocument, { i: input })).exportAuditReport);
  const download = useAction(async (e: AuditExport) => {
    const file = await fetchFile(e.downloadUrl);
    const url = URL.createObjectURL(new Blob([file.bytes], { type: 'application/gzip' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = file.name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
  const submit = async (event: Event) => {
    event.preventDefault();
    const f = isoOf(from, 'From');
    const t = isoOf(to, 'To');
    const found = f.problem ?? t.problem ?? null;
    setProblem(found);
    if (found) return;
    const list = actions.split(/[\s,]+/).filter(Boolean);
    const exported = await run.run({
      ...(filter.tenantId ? { tenantId: filter.tenantId } : {}),
      ...(f.iso ? { from: f.iso } : {}),
      ...(t.iso ? { to: t.iso } : {}),
      ...(list.length ? { actions: list } : {}),
    });
    if (exported) setResult(exported);
  };
  return (
    <>
      <form onSubmit={submit} aria-label="Export an audit report">
        <div class="filters">
          <Field label="Export from" hint="Empty: the chain's start">
            {(p) => <input {...p} type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />}
          </Field>
          <Field label="Export to" hint="Empty: now">
            {(p) => <input {...p} type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} />}
          </Field>
          <Field label="Only these actions" hint="Comma-separated; empty: all">
            {(p) => <input {...p} value={actions} onInput={(e) => setActions(e.currentTarget.value)} />}
          </Field>
          <button type="submit" class="primary" disabled={run.pending}>
            {run.pending ? 'Exporting…' : 'Export report'}
          </button>
        </div>
        {problem ? (
          <p class="error" role="alert">
            {problem}
          </p>
        ) : null}
        <ErrorBox error={run.error} title="Could not export" />
      </form>
      {result ? (
        <div class={result.verified ? 'success' : 'error'} role="status" aria-label="Export verification">
          <p>
            <strong>
              {result.verified
                ? 'Verified: every link of the chain checked out.'
                : `Not verified: ${result.verificationProblem ?? 'the chain did not verify'}`}
            </strong>
          </p>
          <dl class="facts">
            <dt>Events</dt>
            <dd>{result.eventCount}</dd>
            <dt>Sequence</dt>
            <dd>
              {result.firstSeq ?? '—'} to {result.lastSeq ?? '—'}
            </dd>
            <dt>Size</dt>
            <dd>{result.bytes} bytes</dd>
            <dt>SHA-256</dt>
            <dd>
              <code aria-label="Bundle SHA-256">{result.sha256}</code>
            </dd>
            <dt>Available until</dt>
            <dd>
              <Time value={result.expiresAt} />
            </dd>
          </dl>
          <div class="row">
            <button type="button" class="primary" disabled={download.pending} onClick={() => void download.run(result)}>
              {download.pending ? 'Downloading…' : 'Download bundle'}
            </button>
          </div>
          <ErrorBox error={download.error} title="Could not download" />
        </div>
      ) : null}
    </>
  );
}

function EventsTable({ filter }: { filter: AuditFilter }) {
  const [pages, setPages] = useState<AuditEvent[][]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  // A new filter starts from its own first page: the pages and cursor of the last one go.
  const loaded = useLoad(async () => {
    setPages([]);
    setCursor(null);
    return (await gql(AuditLogEventsDocument, { f: filter })).auditEvents;
  }, [JSON.stringify(filter)]);
  const more = useAction(async (after: string) => (await gql(AuditLogEventsDocument, { f: filter, after })).auditEvents);
  const last = cursor ?? loaded.data?.pageInfo.endCursor ?? null;
  const hasMore = pages.length > 0 ? cursor !== null : loaded.data?.pageInfo.hasNextPage;
  return (
    <Guard loaded={loaded} what="the audit events" empty={(d) => (d.nodes.length === 0 ? 'No audit event matches these filters.' : null)}>
      {(d) => (
        <>
          <Table
            caption="Audit events"
            rowKey={(e) => String(e.seq)}
            rows={[...d.nodes, ...pages.flat()]}
            columns={[
              { label: 'Seq', class: 'num', cell: (e) => e.seq },
              { label: 'Time', cell: (e) => <Time value={e.at} /> },
              {
                label: 'Actor',
                cell: (e) => (
                  <>
                    {e.actorName} <span class="muted">{e.actorRole}</span>
                  </>
                ),
              },
              { label: 'Action', cell: (e) => <code>{e.action}</code> },
              {
                label: 'Target',
                cell: (e) => (
                  <>
                    {e.targetType}
                    {e.targetId ? (
                      <>
                        {' '}
                        <code class="muted">{e.targetId}</code>
                      </>
                    ) : null}
                  </>
                ),
              },
              {
                label: 'Outcome',
                cell: (e) => (
                  <>
                    <Status value={e.outcome} />
                    {e.reason ? <div class="muted">{e.reason}</div> : null}
                  </>
                ),
              },
              {
                label: 'Details',
                cell: (e) => (
                  <details>
                    <summary>Details</summary>
                    <Json value={e.details} label={`Details of event ${e.seq}`} />
                  </details>
                ),
              },
            ]}
          />
          {hasMore && last ? (
            <button
              type="button"
              disabled={more.pending}
              onClick={async () => {
                const next = await more.run(last);
                if (next) {
                  setPages([...pages, next.nodes]);
                  setCursor(next.pageInfo.hasNextPage ? next.pageInfo.endCursor : null);
                }
              }}
            >
              {more.pending ? 'Loading…' : 'Load more'}
            </button>
          ) : null}
          <ErrorBox error={more.error} title="Could not load more events" />
        </>
      )}
    </Guard>
  );
}

export function AuditPage({ query }: { query: URLSearchParams }) {
  const isSystem = currentSession()?.viewer.tenant === null;
  const initialTenant = query.get('tenant') ?? '';
  const [filter, setFilter] = useState<AuditFilter>(initialTenant ? { tenantId: initialTenant } : {});
  const certificate = useLoad(() => gql(AuditLogCertificateDocument), []);
  const tenants = useLoad(() => (isSystem ? gql(AuditLogTenantsDocument) : Promise.resolve(null)), [isSystem]);
  return (
    <Page title="Audit">
      <Section title="Events">
        {isSystem && tenants.data === undefined && !tenants.error ? null : (
          <Filters onApply={setFilter} tenants={tenants.data?.tenants.nodes ?? null} initialTenant={initialTenant} />
        )}
        <ErrorBox error={tenants.error} title="Could not load the tenants" />
        <EventsTable filter={filter} />
      </Section>
      <Section title="Export report">
        <p class="muted">
          A signed bundle of the chain for a period (events as JSON lines and CSV, an HTML report, checkpoints, the certificate and a signed
          manifest) that verifies offline with <code>switchyard audit verify</code>.
        </p>
        <ExportForm filter={filter} />
      </Section>
      <Section title="Signing certificate">
        <Guard loaded={certificate} what="the signing certificate">
          {(c) => (
            <p>
              Exports and checkpoints are signed by the certificate with SHA-256 fingerprint{' '}
              <code aria-label="Signing certificate fingerprint">{c.auditSigningCertificate.fingerprint}</code>.
            </p>
          )}
        </Guard>
      </Section>
    </Page>
  );
}
