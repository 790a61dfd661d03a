/**
 * Tenants for system administrators: create them, and for the selected one set its quotas,
 * its audit retention and legal hold, and manage its API tokens.
 */
import { useState } from 'preact/hooks';
import { gql } from '../api.js';
import { ErrorBox, Field, Guard, Page, Section, Table, Time, useAction, useLoad } from '../components.js';
import {
  TenantAdminCreateDocument,
  TenantAdminSetQuotaDocument,
  TenantAdminSetRetentionDocument,
  TenantAdminTenantsDocument,
  type SetAuditRetentionInput,
  type SetTenantQuotaInput,
  type TenantAdminTenantFieldsFragment,
} from '../gql/graphql.js';
import { href } from '../router.js';
import { ApiTokenList, TENANT_ROLES } from '../apiTokenList.js';

type Tenant = TenantAdminTenantFieldsFragment;
type Quota = Tenant['quota'];

const QUOTA_FIELDS: [keyof Quota, string][] = [
  ['maxConcurrentRuns', 'Concurrent runs'],
  ['maxRunsPerDay', 'Runs per day'],
  ['maxStepsPerWorkflow', 'Steps per workflow'],
  ['maxRunDurationSeconds', 'Run duration (seconds)'],
  ['maxInputBytes', 'Run input (bytes)'],
  ['sandboxCpuMsPerDay', 'Sandbox CPU per day (ms)'],
];

function QuotaForm({ tenant, onSaved }: { tenant: Tenant; onSaved: (t: Tenant) => void }) {
  const [values, setValues] = useState<Record<string, string>>({});
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [saved, setSaved] = useState(false);
  const save = useAction(async (input: SetTenantQuotaInput) => (await gql(TenantAdminSetQuotaDocument, { i: input })).setTenantQuota);
  const submit = async (event: Event) => {
    event.preventDefault();
    setSaved(false);
    const input: SetTenantQuotaInput = { tenantId: tenant.id };
    const found: Record<string, string> = {};
    for (const [key, label] of QUOTA_FIELDS) {
      const text = (values[key] ?? '').trim();
      if (text === '') continue;
      const n = Number(text);
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) found[key] = `${label} must be a whole number of 0 or more`;
      else input[key] = n;
    }
    setProblems(found);
    if (Object.keys(found).length > 0 || Object.keys(input).length === 1) return;
    const updated = await save.run(input);
    if (updated) {
      setValues({});
      setSaved(true);
      onSaved(updated);
    }
  };
  return (
    <form onSubmit={submit} aria-label={`Quotas of ${tenant.name}`}>
      <div class="quota-grid">
        {QUOTA_FIELDS.map(([key, label]) => (
          <Field label={label} hint={`Now: ${tenant.quota[key] ?? 'no limit'}. Empty: unchanged.`} error={problems[key] ?? null}>
            {(p) => (
              <input
                {...p}
                inputMode="numeric"
                value={values[key] ?? ''}
                onInput={(e) => setValues({ ...values, [key]: e.currentTarget.value })}
              />
            )}
          </Field>
        ))}
      </div>
      <ErrorBox error={save.error} title="Could not set the quotas" />
      {saved ? (
        <p class="success" role="status">
          Quotas saved.
        </p>
      ) : null}
      <div>
        <button type="submit" class="primary" disabled={save.pending}>
          {save.pending ? 'Saving…' : 'Save quotas'}
        </button>
      </div>
    </form>
  );
}

function RetentionForm({ tenant, onSaved }: { tenant: Tenant; onSaved: (t: Tenant) => void }) {
  const [days, setDays] = useState(String(tenant.auditRetentionDays));
  const [hold, setHold] = useState(tenant.auditLegalHold);
  const [problem, setProblem] = useState<string | null>(null);
  const save = useAction(
    async (input: SetAuditRetentionInput) => (await gql(TenantAdminSetRetentionDocument, { i: input })).setAuditRetention,
  );
  const submit = async (event: Event) => {
    event.preventDefault();
    const n = Number(days);
    if (!/^\d+$/.test(days.trim()) || n < 1 || n > 36500) {
      setProblem('Retention must be a whole number of days from 1 to 36500');
      return;
    }
    setProblem(null);
    const updated = await save.run({ tenantId: tenant.id, retentionDays: n, legalHold: hold });
    if (updated) onSaved(updated);
  };
  return (
    <form onSubmit={submit} aria-label={`Audit retention of ${tenant.name}`}>
      <div class="filters">
        <Field label="Audit retention (days)" error={problem}>
          {(p) => <input {...p} inputMode="numeric" value={days} onInput={(e) => setDays(e.currentTarget.value)} />}
        </Field>
        <label class="check">
          <input type="checkbox" checked={hold} onChange={(e) => setHold(e.currentTarget.checked)} /> Legal hold (remove nothing)
        </label>
        <button type="submit" disabled={save.pending}>
          Save retention
        </button>
      </div>
      <ErrorBox error={save.error} title="Could not set the retention" />
    </form>
  );
}

export function TenantsPage() {
  const loaded = useLoad(() => gql(TenantAdminTenantsDocument), []);
  const [extra, setExtra] = useState<{ nodes: Tenant[]; cursor: string | null } | null>(null);
  const more = useAction(async (after: string) => (await gql(TenantAdminTenantsDocument, { after })).tenants);
  const nextCursor = extra ? extra.cursor : loaded.data?.tenants.pageInfo.hasNextPage ? loaded.data.tenants.pageInfo.endCursor : null;
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [overrides, setOverrides] = useState<Record<string, Tenant>>({});
  const [name, setName] = useState('');
  const create = useAction(async (n: string) => (await gql(TenantAdminCreateDocument, { n })).createTenant);
  const tenants = [...(loaded.data?.tenants.nodes ?? []), ...(extra?.nodes ?? [])].map((t) => overrides[t.id] ?? t);
  const selected = tenants.find((t) => t.id === selectedId) ?? null;
  const keep = (t: Tenant) => setOverrides({ ...overrides, [t.id]: t });

  const submit = async (event: Event) => {
    event.preventDefault();
    const created = await create.run(name.trim());
    if (created) {
      setName('');
      setExtra(null);
      loaded.reload();
      setSelectedId(created.id);
    }
  };

  return (
    <Page title="Tenants">
      <Section title="New tenant">
        <form onSubmit={submit} aria-label="Create a tenant">
          <div class="filters">
            <Field label="Tenant name">
              {(p) => <input {...p} value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={200} />}
            </Field>
            <button type="submit" class="primary" disabled={create.pending || !name.trim()}>
              {create.pending ? 'Creating…' : 'Create tenant'}
            </button>
          </div>
          <ErrorBox error={create.error} title="Could not create the tenant" />
        </form>
      </Section>
      <Section title="All tenants">
        <Guard
          loaded={loaded}
          what="the tenants"
          empty={(d) => (d.tenants.nodes.length === 0 ? 'No tenants yet: create the first above.' : null)}
        >
          {() => (
            <Table
              caption="Tenants"
              rowKey={(t) => t.id}
              rows={tenants}
              columns={[
                {
                  label: 'Name',
                  cell: (t) => (
                    <button type="button" class="link" aria-pressed={t.id === selectedId} onClick={() => setSelectedId(t.id)}>
                      {t.name}
                    </button>
                  ),
                },
                { label: 'Id', cell: (t) => <code>{t.id}</code> },
                { label: 'Created', cell: (t) => <Time value={t.createdAt} /> },
                { label: 'Concurrent runs', class: 'num', cell: (t) => t.quota.maxConcurrentRuns ?? '—' },
                { label: 'Legal hold', cell: (t) => (t.auditLegalHold ? 'yes' : 'no') },
              ]}
            />
          )}
        </Guard>
        {nextCursor ? (
          <div>
            <button
              type="button"
              disabled={more.pending}
              onClick={async () => {
                const page = await more.run(nextCursor);
                if (page)
                  setExtra({
                    nodes: [...(extra?.nodes ?? []), ...page.nodes],
                    cursor: page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null,
                  });
              }}
            >
              {more.pending ? 'Loading…' : 'Load more tenants'}
            </button>
          </div>
        ) : null}
        <ErrorBox error={more.error} title="Could not load more tenants" />
      </Section>
      {selected ? (
        <>
          <Section title={`Quotas of ${selected.name}`}>
            <QuotaForm key={selected.id} tenant={selected} onSaved={keep} />
          </Section>
          <Section title={`Audit retention of ${selected.name}`}>
            <RetentionForm key={selected.id} tenant={selected} onSaved={keep} />
          </Section>
          <Section title={`Tokens of ${selected.name}`}>
            <ApiTokenList key={selected.id} tenantId={selected.id} roles={TENANT_ROLES} />
          </Section>
          <p>
            <a href={href('audit', { tenant: selected.id })}>Audit log of {selected.name}</a>
          </p>
        </>
      ) : (
        <p class="state empty">Choose a tenant to set its quotas, retention and tokens.</p>
      )}
    </Page>
  );
}
